"""`make demo` (= `.venv/bin/python -m tests.demo`): orgpulse against local fakes, no
credentials, no network. Prints the status page's URL; Ctrl-C stops everything it started."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from tests.demo.run import Demo
from tests.support.servers import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo",
        description="orgpulse against local fakes: no credentials, no network; prints the status page's URL",
    )
    parser.add_argument("--port", type=int, default=8080, help="receiver port (taken: any free one)")
    parser.add_argument("--interval", type=int, default=20, help="poll cycle in seconds (>= 10)")
    parser.add_argument("--pace", type=float, default=1.0, help="gap between deliveries (x the default)")
    parser.add_argument(
        "--data-dir",
        default=str(ROOT / ".orgpulse" / "demo"),
        help="wiped at start; logs, state file and secrets of this run",
    )
    args = parser.parse_args(argv)
    demo = Demo(Path(args.data_dir), args.port, args.interval, args.pace)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: demo.stopping.set())
    started = time.monotonic()
    try:
        demo.start()
        demo.wait(started)
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
