"""`orgpulse poll | informer | probe`: the poller's commands, registered with the `orgpulse`
command through the entry-point group orgpulse.commands (pyproject.toml)."""

from __future__ import annotations

import argparse
import time

from orgpulse import state
from orgpulse.cli import settings


def poll(args: argparse.Namespace) -> int:
    """Collectors every poller.interval_seconds (jittered), FoM scores after each cycle."""
    # Imported when a command runs, not with this module: the liveness probe below runs every
    # few seconds in the poller's container and needs none of it (~200 ms, the DogStatsD client).
    from pollers import process

    return process.poll(settings(), args.once, args.only)


def informer(args: argparse.Namespace) -> int:
    """Run the pod informer alone until SIGTERM/SIGINT (the poller runs it too, later)."""
    from pollers import process  # as in poll(): not for the probe

    return process.informer(settings())


def probe(args: argparse.Namespace) -> int:
    """A liveness probe: exit 0 when the target's part of the state file is fresh, else 1,
    with one line saying why (the kubelet shows it in the pod's events)."""
    store = state.StateFile(settings().data_dir)
    try:
        doc = store.read()
    except state.StateError as exc:
        print(f"{args.target}: {exc}")
        return 1
    healthy, line = state.verdict(doc, time.time(), args.target)
    print(line if doc else f"{args.target}: no state file at {store.path} yet")
    return 0 if healthy else 1


def register(sub) -> None:
    """The poller's commands, on the `orgpulse` command's subparsers."""
    p = sub.add_parser("poll", help="run the collectors and FoM scores every cycle")
    p.add_argument("--once", action="store_true", help="one cycle; exit 1 if any collector failed")
    p.add_argument("--only", help="run only this collector")
    p.set_defaults(run=poll)
    sub.add_parser("informer", help="watch pods and emit a metric at every transition").set_defaults(run=informer)
    p = sub.add_parser("probe", help="liveness: exit 0 if the poller's state file is fresh")
    p.add_argument(
        "target",
        choices=sorted(state.TARGETS),
        help="poller: its cycle (and its informer's, if it runs one); informer: alone",
    )
    p.set_defaults(run=probe)
