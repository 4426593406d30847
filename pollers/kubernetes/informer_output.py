"""What the informer sends and writes, apart from the watch that feeds it (informer.py): its
metrics (only the leader's are emitted), every gauge interval its own health and the
cluster's gauges (cluster.py) from the cache, each part measured alone, and its part of the
state file (orgpulse/state.py) for the probe and the status page. A mixin of Informer: it
reads the cache and the watch's bookkeeping."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from orgpulse import metrics as m
from orgpulse import state as states
from pollers.kubernetes import client as kube
from pollers.kubernetes import cluster, pods
from pollers.series import VanishedSeries

log = logging.getLogger("orgpulse.informer")
OOM_WINDOW = 86400.0  # seconds: k8s.containers.oom_kills_24h


class Emits(Protocol):
    """Where the informer's metrics go: an Emitter, or the poller's tap that records them first."""

    def emit(self, batch: list[m.Metric]) -> object: ...


class InformerOutput:
    # Set by Informer.__init__ and kept by its watch threads.
    clock: Callable[[], float]
    elector: states.Elector | None
    state: states.StateFile | None
    namespaces: list[str]
    label_selector: str
    gauge_interval: float
    lists: kube.ClusterLists
    cache: dict[str, pods.PodState]
    synced: set[str]
    watching: dict[str, bool]
    ooms: dict[tuple[str, str, int], tuple[float, str]]
    vanished: VanishedSeries
    restarts: collections.deque
    last_event: float | None
    measured: list[dict]
    _lock: threading.Lock
    _stop: threading.Event

    emitter: Emits

    @property
    def scopes(self) -> list[str]:
        return self.namespaces or [""]

    def emit(self, metrics: list[m.Metric]) -> None:
        now = self.clock()
        self.restarts.extend((now, x.value) for x in metrics if x.name == "k8s.containers.restarts")
        if metrics and (self.elector is None or self.elector.is_leader()):
            self.emitter.emit(metrics)

    def gauges(self) -> list[m.Metric]:
        """The informer's own gauges, then the cluster's: each part measured alone; a part
        that cannot be measured is absent (and counted), never zero; a series a clean part
        no longer sends is sent once as 0 (pollers/series.py)."""
        out = self.self_gauges()
        if not all(s in self.synced for s in self.scopes):
            return out
        with self._lock:
            states = list(self.cache.values())
        for part, measure in self._parts(states).items():
            try:
                metrics, clean = measure(), True
            except Exception as exc:  # noqa: BLE001 - e.g. no metrics-server installed, RBAC
                log.warning("cluster measurement failed", extra={"part": part, "error": type(exc).__name__})
                metrics, clean = [m.count("orgpulse.collector.errors", collector=part, reason="fetch_failed")], False
            out += metrics + self.vanished.fill(part, metrics, clean)
        return out

    def self_gauges(self) -> list[m.Metric]:
        watching = all(self.watching.get(s) for s in self.scopes)
        return [
            m.gauge("orgpulse.informer.watching", 1 if watching else 0),
            m.gauge("orgpulse.informer.pods_cached", len(self.cache)),
        ]

    def _parts(self, states: list[pods.PodState]) -> dict[str, Callable[[], list[m.Metric]]]:
        now = self.clock()
        return {
            "pods": lambda: (
                cluster.pod_gauges(states, datetime.fromtimestamp(now, tz=UTC), self.namespaces)
                + self._oom_gauges(states, now)
            ),
            "metrics_server": lambda: cluster.resource_metrics(
                states, cluster.pod_usage(self.lists.pod_metrics(self.scopes, self.label_selector))
            ),
            "nodes": lambda: cluster.gpu_metrics(states, self.lists.nodes()),
            "deployments": lambda: cluster.deployment_metrics(self.lists.deployments(self.scopes)),
        }

    def _oom_gauges(self, states: list[pods.PodState], now: float) -> list[m.Metric]:
        """OOM kills in the last 24 h per namespace: those seen since start, and the last
        termination of every container in the first list (a lower bound for 24 h after a start)."""
        horizon = now - OOM_WINDOW
        with self._lock:
            for key in [k for k, (at, _) in self.ooms.items() if at < horizon]:
                del self.ooms[key]
            kills = list(self.ooms.values())
        present = {s.namespace for s in states} | set(self.namespaces)
        return cluster.oom_gauges(kills, horizon, present)

    def gauge_loop(self) -> None:
        self.beat()
        while not self._stop.wait(self.gauge_interval):
            self.beat()  # before and after: slow but live measuring is not a stuck loop
            gauges = self.gauges()
            self.emit(gauges)
            now = self.clock()
            self.measured = states.gauge_rows([(x.name, x.tags, x.value, now) for x in gauges if x.type == m.GAUGE])
            self.beat()

    def details(self) -> dict:
        """What the status page shows of the informer: pods cached, the last watch event,
        restarts and OOM kills (by when they happened) in the last hour, its latest gauges."""
        now = self.clock()
        while self.restarts and self.restarts[0][0] < now - 3600:
            self.restarts.popleft()
        with self._lock:
            pods_cached = len(self.cache)
            oom_kills = sum(1 for at, _ in self.ooms.values() if at >= now - 3600)
        return {
            "pods": pods_cached,
            "last_event": self.last_event,
            "oom_kills_1h": oom_kills,
            # list() copies in one step: the watch threads append while we add up
            "restarts_1h": sum(v for _, v in list(self.restarts)),
            "gauges": self.measured,
        }

    def beat(self) -> None:
        """Write the informer's part of the state file (orgpulse/state.py), if there is one."""
        if self.state is not None:
            synced = all(s in self.synced for s in self.scopes)
            self.state.update(
                states.informer(self.clock(), self.gauge_interval, states.role(self.elector), synced, self.details())
            )
