"""The pod informer: list + watch → a small cache → a metric at every transition.

Thin on purpose: what a transition means is pods.py, what the gauges are is
cluster.py, what it sends and writes is informer_output.py. This module keeps the watch
alive — resourceVersion tracked, bookmarks accepted, watch timeouts renewed, exponential
backoff on errors, and on 410 Gone a re-list diffed against the cache, so a restart seen before
and after is counted once and one that happened while disconnected is counted
once too. With a LeaderElector only the leader emits; every replica keeps its
cache warm. Its own health: orgpulse.informer.{watching, pods_cached} every
gauge interval, watch_restarts{reason} and relists{reason} as they happen.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from orgpulse import metrics as m
from orgpulse.timeutil import parse_time
from pollers.kubernetes import client as kube
from pollers.kubernetes import pods
from pollers.kubernetes.informer_output import OOM_WINDOW, Emits, InformerOutput
from pollers.series import VanishedSeries

log = logging.getLogger("orgpulse.informer")
CLOCK_SKEW = 60.0  # seconds of slack when deciding a pod was created during a gap
LIST_PAGE = 500  # pods per list page, as client-go's reflector pages


class Informer(InformerOutput):
    def __init__(
        self,
        api_client,
        emitter: Emits,
        options: dict[str, Any] | None = None,
        elector=None,
        clock: Callable[[], float] = time.time,
        state=None,
        backoff: tuple[float, float] = (1.0, 30.0),
    ):
        """`backoff`: the first and the longest wait after a failed watch (tests pass ~0)."""
        from kubernetes import client, watch  # ~0.8 s: only a poller with a cluster configured

        options = options or {}
        self.core = client.CoreV1Api(api_client)
        self.lists = kube.ClusterLists(api_client)
        self.api_exception = client.ApiException

        class RawWatch(watch.Watch):
            """Events as plain dicts. The client's model deserialisation would cost more than
            everything else here, and its deserialize=False path cannot read ERROR events
            (it looks for 'raw_object', which only this path sets), so 410 would be lost."""

            def get_return_type(self, func):
                return None

        self.watch_factory = RawWatch
        self.emitter, self.elector, self.clock, self.backoff = emitter, elector, clock, backoff
        self.state = state  # a pollers.state.StateFile: the liveness heartbeat
        self.namespaces: list[str] = options.get("namespaces") or []
        self.label_selector: str = options.get("label_selector") or ""
        self.watch_timeout = int(options.get("watch_timeout_seconds", 300))
        self.gauge_interval = float(options.get("gauge_interval_seconds", 60))
        self.bounds = pods.Bounds.default()
        self.cache: dict[str, pods.PodState] = {}
        self.synced: set[str] = set()  # scopes ("" = all namespaces) listed at least once
        self.watermark: dict[str, float] = {}  # scope → time of its last list or event
        self.events = 0
        # OOM kills by what they are, (uid, container, termination identity) → (finished, namespace):
        # one kill seen in both kubelet steps, in a re-list or in the first list is one entry.
        self.ooms: dict[tuple[str, str, int], tuple[float, str]] = {}
        self.vanished = VanishedSeries()
        self.watching: dict[str, bool] = {}  # scope → a watch stream is open
        self.versions: dict[str, str] = {}  # scope → the last resourceVersion seen
        self.restarts: collections.deque = collections.deque()  # (time, count): the status page's hour
        self.last_event: float | None = None  # time of the last watch event (the status page)
        self.measured: list[dict] = []  # the last gauge pass, as state-file rows
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watches: dict[str, Any] = {}  # scope → its current Watch

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
            kwargs: dict[str, Any] = {"_preload_content": False, "limit": LIST_PAGE, "_request_timeout": 60}
            if self.label_selector:
                kwargs["label_selector"] = self.label_selector
            if token:
                kwargs["_continue"] = token
            page = orjson.loads(self._list_fn(scope)(**kwargs).data)
            yield page.get("items") or [], page["metadata"]["resourceVersion"]
            token = page["metadata"].get("continue")
            if not token:
                return

    def relist(self, scope: str, reason: str = "initial") -> str:
        """List the scope, diff it against the cache, return the list's resourceVersion."""
        first = scope not in self.synced
        since = self.watermark.get(scope)
        out: list[m.Metric] = []
        listed: set[str] = set()
        version = ""
        for items, version in self._pages(scope):  # noqa: B007 - the last page's version is the list's
            with self._lock:
                for pod in items:
                    uid = pod["metadata"]["uid"]
                    listed.add(uid)
                    new = pods.summarize(pod)
                    old = self.cache.get(uid)
                    if old is None and not first and self._created_after(new, since):
                        old = pods.baseline(new)  # created while we were not watching
                    out += pods.transitions(old, new, pod, self.bounds)
                    self._store(uid, new)
        with self._lock:
            for uid in [u for u, s in self.cache.items() if u not in listed and (not scope or s.namespace == scope)]:
                del self.cache[uid]  # deleted while we were not watching
            self.synced.add(scope)
            self.watermark[scope] = self.clock()
        self.emit(out + [m.count("orgpulse.informer.relists", reason=reason)])
        return version

    def _store(self, uid: str, state: pods.PodState) -> None:
        """Cache a pod's state and note its OOM kills of the last 24 h (caller holds the lock).
        The first list seeds them: a kill an hour before a restart of orgpulse still counts."""
        self.cache[uid] = state
        for container, identity, finished in pods.oom_kills(state):
            key = (uid, container, identity)
            if key in self.ooms:  # the same kill, seen again in a later update of the pod
                continue
            now = self.clock()
            when = parse_time(finished)
            at = when.timestamp() if when else now
            if at >= now - OOM_WINDOW:
                self.ooms[key] = (at, state.namespace)

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
                old = pods.baseline(new)
            self._store(uid, new)
            self.watermark[scope] = self.last_event = self.clock()
            self.events += 1
        self.emit(pods.transitions(old, new, pod, self.bounds))

    def _connect(self, scope: str):
        """The watch request; the stream is open once the API server answered 2xx."""

        def request(**kwargs):
            resp = self._list_fn(scope)(**kwargs)
            self.watching[scope] = 200 <= getattr(resp, "status", 200) < 300
            return resp

        return request

    def _stream(self, scope: str) -> None:
        """Apply the watch's events from the last resourceVersion seen until the server ends it."""
        w = self._watches[scope] = self.watch_factory()
        kwargs = {
            "resource_version": self.versions[scope],
            "timeout_seconds": self.watch_timeout,
            "allow_watch_bookmarks": True,
            "_request_timeout": self.watch_timeout + 30,
        }
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        for event in w.stream(self._connect(scope), **kwargs):
            obj = event["object"]
            self.versions[scope] = obj["metadata"]["resourceVersion"]  # resume here after a break
            if event["type"] != "BOOKMARK":
                self.apply(event["type"], obj, scope)
            if self._stop.is_set():
                w.stop()

    def watch_scope(self, scope: str) -> None:
        """Keep one scope watched until stop(): the informer's main loop."""
        listed, reason, delay = False, "initial", self.backoff[0]
        while not self._stop.is_set():
            try:
                if not listed:
                    self.versions[scope] = self.relist(scope, reason)
                    listed = True
                self._stream(scope)
                delay = self.backoff[0]
                self._restarted(scope, "timeout")  # the server ended the watch: resume where it was
            except self.api_exception as exc:
                if exc.status == 410:  # our resourceVersion was compacted away
                    log.info("watch expired (410 Gone); re-listing", extra={"scope": scope or "*"})
                    self._restarted(scope, "gone")
                    listed, reason = False, "gone"
                    continue
                self._restarted(scope, f"http_{exc.status}", error=True)
                delay = self._backoff(delay)
            except Exception as exc:  # noqa: BLE001 - dropped connections, timeouts, bad JSON
                log.warning("watch failed; resuming", extra={"scope": scope or "*", "error": type(exc).__name__})
                self._restarted(scope, "dropped", error=True)
                delay = self._backoff(delay)

    def _restarted(self, scope: str, reason: str, error: bool = False) -> None:
        self.watching[scope] = False
        out = [m.count("orgpulse.informer.watch_restarts", reason=reason)]
        if error:  # a failure, unlike the server's timeout or a 410 (answered by a re-list)
            out.append(
                m.count(
                    "orgpulse.collector.errors",
                    collector="informer",
                    reason="watch_error" if reason == "dropped" else reason,
                )
            )
        self.emit(out)

    def _backoff(self, delay: float) -> float:
        self._stop.wait(delay * random.uniform(0.5, 1.0))
        return min(delay * 2, self.backoff[1])

    # ------------------------------------------------------------- lifecycle
    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.watch_scope, args=(scope,), daemon=True, name=f"watch-{scope or 'all'}")
            for scope in self.scopes
        ]
        threads.append(threading.Thread(target=self.gauge_loop, daemon=True, name="gauges"))
        for t in threads:
            t.start()
        return threads

    def stop(self) -> None:
        self._stop.set()
        for w in list(self._watches.values()):
            w.stop()
