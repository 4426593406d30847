"""The poller's and the informer's processes, assembled from settings: what `orgpulse poll`
and `orgpulse informer` run (pollers/cli.py parses their arguments)."""

from __future__ import annotations

import signal
import sys
import threading
import time

from fom.scores import score_metrics
from orgpulse import config, logs, state, termui
from orgpulse.emit import Emitter, build_sink
from pollers import registry
from pollers.kubernetes import client as kube
from pollers.kubernetes.informer import Informer
from pollers.kubernetes.lease import LeaderElector, identity
from pollers.loop import Poller
from pollers.values import ValueStore


def informer(settings: config.Settings) -> int:
    """Run the pod informer alone until SIGTERM/SIGINT (the poller runs it too, later)."""
    logs.setup(settings.log_level)
    opts = settings.section("kubernetes")
    try:
        api = kube.api_client(settings)
    except Exception as exc:  # noqa: BLE001 - no cluster config: say so and stop
        print(f"orgpulse: no Kubernetes configuration: {exc}", file=sys.stderr)
        return 2
    elector = _elector(settings)
    emitter = Emitter(build_sink(settings))
    watcher = Informer(api, emitter, opts, elector, state=state.StateFile(settings.data_dir))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    watcher.start()
    print(
        f"orgpulse: informer watching {', '.join(opts['namespaces']) or 'all namespaces'}"
        f"{' (leader election on)' if elector else ''}",
        file=sys.stderr,
    )
    done.wait()
    watcher.stop()
    if elector:
        elector.stop()
    emitter.close()
    return 0


def poll(settings: config.Settings, once: bool, only: str | None) -> int:
    """Collectors every poller.interval_seconds (jittered), FoM scores after each cycle."""
    logs.setup(settings.log_level)
    opts = settings.section("poller")
    elector = _elector(settings) if settings.kubernetes_api_url else None
    collectors = registry.build(settings, elector)
    if only and only not in collectors:
        print(f"orgpulse: no collector {only!r} (configured: {sorted(collectors)})", file=sys.stderr)
        return 2
    max_age = opts["interval_seconds"] * opts["max_age_cycles"]
    fom = settings.section("fom")

    def score(values, now):
        return score_metrics(lambda name, agg, where: values.get(name, max_age, agg, where), fom, now)

    emitter = Emitter(build_sink(settings))
    values = ValueStore()
    states = state.StateFile(settings.data_dir)  # the liveness probe's and status page's view
    if not once:
        states.update(state.started(time.time(), opts["interval_seconds"], state.role(elector)))
    poller = Poller(collectors, emitter, values, score, elector, opts["interval_seconds"], state=states)
    if opts["run_informer"] and settings.kubernetes_api_url and not once:
        _start_informer(settings, poller, elector)
    if once:
        return _poll_once(poller, only)
    done = threading.Event()

    def shut_down(*_: object) -> None:
        done.set()
        poller.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, shut_down)
    worker = threading.Thread(target=poller.run_forever, name="poller", daemon=True)
    worker.start()
    done.wait()
    worker.join(timeout=opts["collector_timeout_seconds"])  # finish the cycle under way
    emitter.close()
    return 0


def _poll_once(poller, only: str | None) -> int:
    """One cycle. On a terminal: the first cycle's pages per GitHub repository as it goes,
    then a table per collector; on a pipe or in a log, one line per collector."""
    bars = termui.PageBars("github", sys.stderr) if sys.stderr.isatty() else None
    for collector in poller.collectors.values():
        if bars is not None and collector.on_progress is not None:
            collector.on_progress(bars)
    results = poller.run_once(only)
    poller.emitter.close()
    if bars is not None:
        bars.close()
        print(termui.poll_summary(poller.report), file=sys.stderr)
    else:
        for line in termui.poll_lines(poller.report):
            print(line, file=sys.stderr)
    return 0 if all(results.values()) else 1


def _start_informer(settings: config.Settings, poller, elector) -> None:
    """The informer inside the poller: its gauges also feed the FoM inputs."""

    class Tap:  # record what the informer emits, then send it
        def emit(self, metrics):
            poller.values.record(metrics)
            return poller.emitter.emit(metrics)

    Informer(kube.api_client(settings), Tap(), settings.section("kubernetes"), elector, state=poller.state).start()


def _elector(settings: config.Settings):
    opts = settings.section("kubernetes")
    if not opts["lease_enabled"]:
        return None
    elector = LeaderElector(
        kube.api_client(settings),
        opts["lease_namespace"] or kube.own_namespace(),
        opts["lease_name"],
        identity(),
        opts["lease_seconds"],
        opts["renew_seconds"],
    )
    elector.start()
    return elector
