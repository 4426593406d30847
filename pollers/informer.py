"""The pod informer: list + watch → a small cache → a metric at every transition.

Thin on purpose: what a transition means is pods.py, what the gauges are is
cluster.py. This module keeps the watch alive — resourceVersion tracked,
bookmarks accepted, watch timeouts renewed, exponential backoff on errors,
and on 410 Gone a re-list diffed against the cache, so a restart seen before
and after is counted once and one that happened while disconnected is counted
once too. With a LeaderElector only the leader emits; every replica keeps its
cache warm.
"""
from __future__ import annotations

import collections
import logging
import os
import random
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from orgpulse import metrics as m
from orgpulse.emit import Emitter
from orgpulse.timeutil import parse_time
from pollers import cluster, pods, state as states

log = logging.getLogger("orgpulse.informer")
CLOCK_SKEW = 60.0
LIST_PAGE = 500  # pods per list page, as client-go's reflector pages  # seconds of slack when deciding a pod was created during a gap


def baseline(state: pods.PodState) -> pods.PodState:
    """What a pod looked like when it was created: the 'old' state of a pod first
    seen after it was created (live ADDED, or created while we were disconnected)."""
    fresh = {name: pods.Container(c.kind, 0, None, None) for name, c in state.containers.items()}
    return pods.PodState(state.namespace, state.owner_kind, state.owner_name, "Pending", None,
                         state.created, fresh, 0.0, 0.0, 0.0)


class Informer:
    def __init__(self, api_client, emitter: Emitter, options: dict[str, Any] | None = None,
                 elector=None, clock: Callable[[], float] = time.time, state=None):
        from kubernetes import client, watch

        options = options or {}
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.api_exception = client.ApiException
        class RawWatch(watch.Watch):
            """Events as plain dicts. The client's model deserialisation would cost more than
            everything else here, and its deserialize=False path cannot read ERROR events
            (it looks for 'raw_object', which only this path sets), so 410 would be lost."""

            def get_return_type(self, func):
                return None

        self.watch_factory = RawWatch
        self.emitter, self.elector, self.clock = emitter, elector, clock
        self.state = state  # a pollers.state.StateFile: the liveness heartbeat
        self.namespaces: list[str] = options.get("namespaces") or []
        self.label_selector: str = options.get("label_selector") or ""
        self.watch_timeout = int(options.get("watch_timeout_seconds", 300))
        self.gauge_interval = float(options.get("gauge_interval_seconds", 60))
        self.bounds = pods.Bounds.default()
        self.cache: dict[str, pods.PodState] = {}
        self.synced: set[str] = set()          # scopes ("" = all namespaces) listed at least once
        self.watermark: dict[str, float] = {}  # scope → time of its last list or event
        self.namespaces_seen: set[str] = set()
        self.events = 0
        self.ooms: collections.deque = collections.deque()  # (time, namespace) of OOM kills seen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watches: dict[str, Any] = {}  # scope → its current Watch

    # ------------------------------------------------------------- emission
    def emit(self, metrics: list[m.Metric]) -> None:
        now = self.clock()
        for x in metrics:
            if x.name == "k8s.containers.terminations" and x.tag("reason") == "oomkilled":
                self.ooms.append((now, x.tag("namespace")))
        if metrics and (self.elector is None or self.elector.is_leader()):
            self.emitter.emit(metrics)

    def _error(self, collector: str, reason: str) -> None:
        self.emit([m.count("orgpulse.collector.errors", collector=collector, reason=reason)])

    # ------------------------------------------------------------- list/watch
    def _list_fn(self, scope: str):
        if scope:
            return lambda **kw: self.core.list_namespaced_pod(scope, **kw)
        return self.core.list_pod_for_all_namespaces

    def _pages(self, scope: str):
        """The scope's pods, LIST_PAGE at a time (`continue` tokens), so a 10,000-pod
        list never sits in memory whole; yields (items, resourceVersion)."""
        token = None
        while True:
            kwargs = {"_preload_content": False, "limit": LIST_PAGE, "_request_timeout": 60}
            if self.label_selector:
                kwargs["label_selector"] = self.label_selector
            if token:
                kwargs["_continue"] = token
            page = orjson.loads(self._list_fn(scope)(**kwargs).data)
            yield page.get("items") or [], page["metadata"]["resourceVersion"]
            token = page["metadata"].get("continue")
            if not token:
                return

    def relist(self, scope: str) -> str:
        """List the scope, diff it against the cache, return the list's resourceVersion."""
        first = scope not in self.synced
        since = self.watermark.get(scope)
        out: list[m.Metric] = []
        listed: set[str] = set()
        version = ""
        for items, version in self._pages(scope):
            with self._lock:
                for pod in items:
                    uid = pod["metadata"]["uid"]
                    listed.add(uid)
                    new = pods.summarize(pod)
                    old = self.cache.get(uid)
                    if old is None and not first and self._created_after(new, since):
                        old = baseline(new)  # created while we were not watching
                    out += pods.transitions(old, new, pod, self.bounds)
                    self.cache[uid] = new
        with self._lock:
            for uid in [u for u, s in self.cache.items()
                        if u not in listed and (not scope or s.namespace == scope)]:
                del self.cache[uid]  # deleted while we were not watching
            self.synced.add(scope)
            self.watermark[scope] = self.clock()
        self.emit(out)
        return version

    @staticmethod
    def _created_after(state: pods.PodState, since: float | None) -> bool:
        created = parse_time(state.created)
        return since is not None and created is not None and created.timestamp() > since - CLOCK_SKEW

    def apply(self, kind: str, pod: dict, scope: str) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            if kind == "DELETED":
                self.cache.pop(uid, None)
                return
            new = pods.summarize(pod)
            old = self.cache.get(uid)
            if old is None and kind == "ADDED":
                old = baseline(new)
            self.cache[uid] = new
            self.watermark[scope] = self.clock()
            self.events += 1
        self.emit(pods.transitions(old, new, pod, self.bounds))

    def watch_scope(self, scope: str) -> None:
        """Keep one scope watched until stop(): the informer's main loop."""
        version: str | None = None
        delay = 1.0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self.relist(scope)
                w = self._watches[scope] = self.watch_factory()
                kwargs = {"resource_version": version, "timeout_seconds": self.watch_timeout,
                          "allow_watch_bookmarks": True,
                          "_request_timeout": self.watch_timeout + 30}
                if self.label_selector:
                    kwargs["label_selector"] = self.label_selector
                for event in w.stream(self._list_fn(scope), **kwargs):
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self.apply(event["type"], obj, scope)
                    delay = 1.0
                    if self._stop.is_set():
                        w.stop()
                # The server ended the watch (timeout): resume from `version`.
            except self.api_exception as exc:
                if exc.status == 410:  # our resourceVersion was compacted away
                    log.info("watch expired (410 Gone); re-listing", extra={"scope": scope or "*"})
                    self._error("informer", "gone")
                    version = None
                    continue
                self._error("informer", f"http_{exc.status}")
                delay = self._backoff(delay)
            except Exception as exc:  # noqa: BLE001 - dropped connections, timeouts, bad JSON
                log.warning("watch failed; resuming", extra={"scope": scope or "*",
                                                             "error": type(exc).__name__})
                self._error("informer", "watch_error")
                delay = self._backoff(delay)

    def _backoff(self, delay: float) -> float:
        self._stop.wait(delay * random.uniform(0.5, 1.0))
        return min(delay * 2, 30.0)

    # ------------------------------------------------------------- gauges
    def gauges(self) -> list[m.Metric]:
        """Point-in-time gauges from the cache and the cluster's lists; a part that
        cannot be measured is absent (and counted), never zero."""
        scopes = self.namespaces or [""]
        if not all(s in self.synced for s in scopes):
            return []
        with self._lock:
            states = list(self.cache.values())
        now = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        out = cluster.pod_gauges(states, now, self.namespaces_seen)
        out += self._oom_gauges()
        for name, part in (("metrics_server", lambda: cluster.waste_metrics(states, self._usage())),
                           ("nodes", lambda: cluster.gpu_metrics(states, self._get(
                               self.core.list_node))),
                           ("deployments", lambda: cluster.deployment_metrics(self._get(
                               self.apps.list_deployment_for_all_namespaces)))):
            try:
                out += part()
            except Exception as exc:  # noqa: BLE001 - e.g. no metrics-server installed
                log.warning("cluster measurement failed", extra={"part": name,
                                                                 "error": type(exc).__name__})
                out.append(m.count("orgpulse.collector.errors", collector=name, reason="fetch_failed"))
        return out

    def _oom_gauges(self) -> list[m.Metric]:
        """OOM kills seen in the last 24 h per namespace (since start, if younger)."""
        horizon = self.clock() - 86400
        while self.ooms and self.ooms[0][0] < horizon:
            self.ooms.popleft()
        counts = collections.Counter(ns for _, ns in self.ooms)
        return [m.gauge("k8s.containers.oom_kills_24h", counts.get(ns, 0), namespace=ns)
                for ns in sorted(self.namespaces_seen)]

    def _get(self, fn) -> dict:
        return orjson.loads(fn(_preload_content=False, _request_timeout=30).data)

    def _usage(self) -> dict[str, tuple[float, float]]:
        resp = self.custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "pods",
                                                      _preload_content=False, _request_timeout=30)
        return cluster.usage_by_namespace(orjson.loads(resp.data))

    def gauge_loop(self) -> None:
        self.beat()
        while not self._stop.wait(self.gauge_interval):
            self.beat()  # before and after: slow but live measuring is not a stuck loop
            self.emit(self.gauges())
            self.beat()

    def beat(self) -> None:
        """Write the informer's part of the state file (pollers/state.py), if there is one."""
        if self.state is not None:
            synced = all(s in self.synced for s in (self.namespaces or [""]))
            self.state.update(states.informer(self.clock(), self.gauge_interval,
                                              states.role(self.elector), synced))

    # ------------------------------------------------------------- lifecycle
    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.watch_scope, args=(scope,), daemon=True,
                                    name=f"watch-{scope or 'all'}")
                   for scope in (self.namespaces or [""])]
        threads.append(threading.Thread(target=self.gauge_loop, daemon=True, name="gauges"))
        for t in threads:
            t.start()
        return threads

    def stop(self) -> None:
        self._stop.set()
        for w in list(self._watches.values()):
            w.stop()


def identity() -> str:
    """This replica's name in the Lease: the pod name (HOSTNAME in a pod) and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"
