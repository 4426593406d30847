"""The poller: collectors on a jittered cycle, concurrently, isolated, with self-metrics.

Collectors are registered in one dict (pollers/registry.py); each is
`collect(now) -> [Metric]` with its client injected. Every cycle each runs in
its own thread with a timeout: one that fails or hangs never delays the
others, and a hung one is not started again until it returns. A collector that
fails emits nothing for what it could not measure, plus
`orgpulse.collector.errors`; every collector reports success (0/1), duration
and its last success time, so "no data from a collector for 30 minutes" is a
monitor. Only the Lease holder emits when leader election is on.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from orgpulse import metrics as m
from orgpulse import state as states
from orgpulse.emit import Emitter
from pollers.series import VanishedSeries
from pollers.values import ValueStore

log = logging.getLogger("orgpulse.poller")


@dataclass
class Collector:
    name: str
    collect: Callable[[datetime], list[m.Metric]]
    timeout: float = 120.0
    # Where a long first cycle reports its pages (`orgpulse poll --once` on a terminal):
    # called with a callback(label) that the collector calls once per page it fetches.
    on_progress: Callable[[Callable[[str], None]], None] | None = None


def _errors_in(metrics: list[m.Metric]) -> bool:
    return any(x.name == "orgpulse.collector.errors" for x in metrics)


def _reasons(metrics: list[m.Metric], exception: str | None) -> list[str]:
    """Why a collector failed, for the state file: its exception's type, or the reason
    tags of the errors it counted (bounded values: never a message, never a secret)."""
    if exception:
        return [exception]
    return sorted({x.tag("reason") or "unknown" for x in metrics if x.name == "orgpulse.collector.errors"})


class Poller:
    def __init__(
        self,
        collectors: dict[str, Collector],
        emitter: Emitter,
        values: ValueStore,
        score: Callable[[ValueStore, datetime], list[m.Metric]] | None = None,
        elector=None,
        interval: float = 900,
        clock: Callable[[], float] = time.time,
        state: states.StateFile | None = None,
    ):
        self.collectors, self.emitter, self.values = collectors, emitter, values
        self.score, self.elector, self.interval, self.clock = score, elector, interval, clock
        self.state = state  # written after each cycle: the liveness probe's heartbeat
        self.last_success: dict[str, float] = {}
        self.report: dict[str, dict] = {}  # this cycle's outcome per collector, for the state file
        self.vanished = VanishedSeries()
        self._running: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def emit(self, metrics: list[m.Metric]) -> None:
        self.values.record(metrics)  # every replica keeps fresh inputs; only the leader sends
        if metrics and (self.elector is None or self.elector.is_leader()):
            self.emitter.emit(metrics)

    def _run_one(self, c: Collector, now: datetime, results: dict) -> None:
        started = time.perf_counter()
        try:
            out = c.collect(now)
            results[c.name] = (out, None, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - isolated: counted, logged, never fatal
            log.warning(
                "collector failed", extra={"collector": c.name, "error": type(exc).__name__, "detail": str(exc)[:200]}
            )
            results[c.name] = ([], type(exc).__name__, time.perf_counter() - started)

    def run_once(self, only: str | None = None) -> dict[str, bool]:
        """One cycle; returns collector → success."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        self.report = {}
        self._heartbeat()  # at both ends: a cycle waiting on a slow collector is not a stuck loop
        chosen = [c for n, c in self.collectors.items() if only in (None, n)]
        results: dict = {}
        started: list[tuple[Collector, threading.Thread]] = []
        out: list[m.Metric] = []
        for c in chosen:
            previous = self._running.get(c.name)
            if previous is not None and previous.is_alive():  # still hung from an earlier cycle
                out += self._outcome(c.name, False, None, "still_running")
                continue
            thread = threading.Thread(
                target=self._run_one, args=(c, now, results), daemon=True, name=f"collector-{c.name}"
            )
            self._running[c.name] = thread
            thread.start()
            started.append((c, thread))
        deadline = time.monotonic()
        for c, thread in started:
            thread.join(max(0.0, deadline + c.timeout - time.monotonic()))
        success = {}
        for c, _thread in started:
            if c.name not in results:
                out += self._outcome(c.name, False, c.timeout, "timeout")
                success[c.name] = False
                continue
            metrics, error, seconds = results[c.name]
            ok = error is None and not _errors_in(metrics)
            # Not `ok`: an error in one region must not hold back the others' zeros (series.py).
            metrics = metrics + self.vanished.fill(c.name, metrics, clean=error is None)
            out += metrics + self._outcome(c.name, ok, seconds, None if ok or not error else "exception")
            self.report[c.name].update(emitted=len(metrics), reasons=_reasons(metrics, error))
            success[c.name] = ok
        self.emit(out)
        scores = self.score(self.values, now) if self.score is not None else []
        self.emit(scores)
        self._heartbeat(self.report, scores)
        return success

    def _heartbeat(self, report: dict | None = None, scores: list[m.Metric] | None = None) -> None:
        """The state file (orgpulse/state.py): the liveness probe's heartbeat; at a cycle's end
        also its outcome, every gauge's latest value and the scores (the status page)."""
        if self.state is None:
            return
        ended = report is not None
        self.state.update(
            states.cycle(
                self.clock(),
                self.interval,
                states.role(self.elector),
                report or {},
                gauges=states.gauge_rows(self.values.snapshot()) if ended else None,
                scores={x.name: x.value for x in scores or [] if x.type == m.GAUGE} if ended else None,
            )
        )

    def _outcome(self, name: str, ok: bool, seconds: float | None, reason: str | None) -> list[m.Metric]:
        out = [m.gauge("orgpulse.collector.success", 1 if ok else 0, collector=name)]
        if seconds is not None:
            out.append(m.distribution("orgpulse.collector.duration", seconds, collector=name))
        if reason:
            out.append(m.count("orgpulse.collector.errors", collector=name, reason=reason))
        if ok:
            self.last_success[name] = self.clock()
        if name in self.last_success:
            out.append(m.gauge("orgpulse.collector.last_success", self.last_success[name], collector=name))
        self.report[name] = {
            "ok": ok,
            "duration": seconds,
            "last_success": self.last_success.get(name),
            "error": reason or (None if ok else "partial"),
            "reasons": [],
            "emitted": 0,
        }
        return out

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            # ±10 % jitter: replicas and restarts do not line up on the same second.
            self._stop.wait(self.interval * random.uniform(0.9, 1.1))

    def stop(self) -> None:
        self._stop.set()
