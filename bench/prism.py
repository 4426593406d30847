"""Prism serving Datadog's v1 spec (the dashboards peer test): how long it takes to
listen, how long its first validated request takes (it compiles the schema then),
how much memory it holds, and what the `nullable` fix changes.

    .venv/bin/python bench/prism.py        (needs `make peers`)

Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dashboards.test_against_datadog_spec import PRISM, SPEC, post, served_spec, start
from tests.support.peers import PEERS

INVALID = {"title": "x", "layout_type": "ordered", "widgets": [{"definition": {"type": "note"}}]}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(spec: Path, log: Path) -> None:
    process, url, listen = start(PEERS / PRISM, spec, log)
    try:
        t = time.monotonic()
        first = post(url + "/api/v1/dashboard", INVALID)
        compile_seconds = time.monotonic() - t
        t = time.monotonic()
        second = post(url + "/api/v1/dashboard", INVALID)
        print(
            f"  listening after {listen:.1f} s; first POST /api/v1/dashboard (invalid body) answered "
            f"{first} after {compile_seconds:.1f} s, the next {second} after {time.monotonic() - t:.2f} s; "
            f"peak RSS {peak_rss_mb(process.pid):.0f} MB"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        changed = served_spec(PEERS / SPEC, folder / "fixed.json")
        print(f"spec with `nullable` removed from {changed} type-less node(s):")
        measure(folder / "fixed.json", folder / "fixed.log")
        import yaml

        raw = yaml.load((PEERS / SPEC).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        (folder / "raw.json").write_text(json.dumps(raw))
        print("spec as published (an invalid dashboard should be refused, 4xx):")
        measure(folder / "raw.json", folder / "raw.log")


if __name__ == "__main__":
    main()
