"""Output for a person at a terminal: aligned tables and page counters.

The CLI uses these only when its stream is a terminal: on a pipe or in a container's log
there is no progress noise between the JSON log lines, and no table to parse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TextIO

from tqdm import tqdm


def table(headers: list[str], rows: Iterable[Iterable[object]], right: Iterable[int] = ()) -> str:
    """Columns padded to their widest cell (`right`: the indexes aligned right), a rule
    under the headers; no trailing spaces."""
    cells = [[str(v) for v in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = set(right)

    def line(row: list[str]) -> str:
        columns = enumerate(zip(row, widths, strict=True))
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in columns).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def _poll_cells(name: str, r: dict) -> list[object]:
    """collector, outcome, duration, metrics emitted, errors — of one Poller.report entry."""
    duration = f"{r['duration']:.2f} s" if r.get("duration") is not None else "-"
    outcome = "ok" if r.get("ok") else f"FAILED ({r.get('error')})"
    return [name, outcome, duration, r.get("emitted", 0), ", ".join(r.get("reasons") or []) or "-"]


def poll_summary(report: dict[str, dict]) -> str:
    """The cycle's outcome per collector (Poller.report), as `orgpulse poll --once` ends."""
    rows = [_poll_cells(name, r) for name, r in sorted(report.items())]
    return table(["collector", "outcome", "duration", "metrics emitted", "errors"], rows, right=(2, 3))


def poll_lines(report: dict[str, dict]) -> list[str]:
    """The same, one line per collector, for a pipe or a log (no table to parse):
    `github: ok, 4.21 s, 212 metrics` or `ec2: FAILED (partial), 0.80 s, 31 metrics, errors: http_500`."""
    lines = []
    for name, r in sorted(report.items()):
        _, outcome, duration, emitted, errors = _poll_cells(name, r)
        lines.append(
            f"{name}: {outcome}, {duration}, {emitted} metrics" + (f", errors: {errors}" if errors != "-" else "")
        )
    return lines


class PageBars:
    """One counter per label (a GitHub repository: the pages its first cycle fetches)."""

    def __init__(self, prefix: str, stream: TextIO):
        self.prefix, self.stream = prefix, stream
        self.bars: dict[str, tqdm] = {}
        self._lock = threading.Lock()

    def __call__(self, label: str) -> None:
        with self._lock:
            bar = self.bars.get(label)
            if bar is None:
                bar = self.bars[label] = tqdm(
                    desc=f"{self.prefix} {label}",
                    unit=" pages",
                    file=self.stream,
                    position=len(self.bars),
                    leave=True,
                    dynamic_ncols=True,
                )
            bar.update()

    def close(self) -> None:
        with self._lock:
            for bar in self.bars.values():
                bar.close()
