"""Leader election with a coordination.k8s.io/v1 Lease: only the holder emits.

Every replica runs the informer (and later the poller) so a takeover starts
with a warm cache; only the replica holding the Lease emits. A holder renews
every `renew_seconds`; a Lease not renewed for `lease_seconds` may be taken.
A replica that cannot renew stops calling itself leader one second before its
Lease can be taken, so two replicas never emit at once (barring clock skew).
The API is used through the kubernetes client with raw dicts (no models).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from orgpulse.timeutil import parse_time

log = logging.getLogger("orgpulse.lease")
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _microtime(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(MICROTIME)


class LeaderElector:
    def __init__(
        self,
        api_client,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: float = 15,
        renew_seconds: float = 5,
        clock=time.time,
    ):
        from kubernetes import client  # ~0.8 s: only a poller with a cluster configured

        # Any: called with raw dicts and _preload_content=False, which its model-typed stubs do not describe.
        self.api: Any = client.CoordinationV1Api(api_client)
        self.exception = client.ApiException
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.clock = clock
        self._renewed_at: float | None = None
        self._stop = threading.Event()

    def is_leader(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and self.clock() < renewed + self.lease_seconds - 1

    def _body(self, now: float, acquired: str | None, transitions: int, version: str | None) -> dict:
        meta = {"name": self.name, "namespace": self.namespace}
        if version:
            meta["resourceVersion"] = version  # optimistic concurrency: 409 if someone wrote first
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_seconds),
                "acquireTime": acquired,
                "renewTime": _microtime(now),
                "leaseTransitions": transitions,
            },
        }

    def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        try:
            try:
                resp = self.api.read_namespaced_lease(self.name, self.namespace, _preload_content=False)
                lease = orjson.loads(resp.data)
            except self.exception as exc:
                if exc.status != 404:
                    raise
                self.api.create_namespaced_lease(
                    self.namespace, self._body(now, _microtime(now), 0, None), _preload_content=False
                )
                self._renewed_at = now
                return True
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = parse_time(spec.get("renewTime"))
            duration = spec.get("leaseDurationSeconds") or self.lease_seconds
            expired = renewed is None or renewed.timestamp() + duration < now
            if holder != self.identity and holder and not expired:
                return self.is_leader()
            ours = holder == self.identity
            acquired = spec.get("acquireTime") if ours else _microtime(now)
            transitions = int(spec.get("leaseTransitions") or 0) + (0 if ours else 1)
            self.api.replace_namespaced_lease(
                self.name,
                self.namespace,
                self._body(now, acquired, transitions, lease["metadata"]["resourceVersion"]),
                _preload_content=False,
            )
            if not ours:
                log.info("acquired the lease", extra={"lease": self.name, "identity": self.identity})
            self._renewed_at = now
            return True
        except self.exception as exc:
            if exc.status != 409:  # 409: another replica renewed or took it first
                log.warning("lease call failed", extra={"status": exc.status})
        except Exception as exc:  # noqa: BLE001 - an unreachable API server: keep trying
            log.warning("lease call failed", extra={"error": type(exc).__name__})
        return self.is_leader()

    def run(self) -> None:
        while not self._stop.is_set():
            self.try_acquire_or_renew()
            self._stop.wait(self.renew_seconds)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="lease", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def identity() -> str:
    """This replica's name in the Lease: the pod name (HOSTNAME in a pod) and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"
