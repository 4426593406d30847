"""The deliveries the benchmarks send: real octokit payloads (tests/fixtures/github)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python bench/x.py` from anywhere
FIXTURES = ROOT / "tests" / "fixtures" / "github"
SECRET = "bench-secret"


def merged_pr() -> bytes:
    """pull_request closed+merged, 28 KB: the richest handler (5 metrics)."""
    payload = json.loads((FIXTURES / "pull_request/closed.payload.json").read_text())
    payload["pull_request"].update(merged=True, merged_at="2019-05-16T15:20:33Z",
                                   additions=120, deletions=7, changed_files=4)
    return json.dumps(payload, indent=2).encode()


def mix() -> list[tuple[str, bytes]]:
    """A realistic mix for the HTTP benchmark: (event, body)."""
    read = lambda name: (FIXTURES / name).read_bytes()  # noqa: E731
    return [
        ("pull_request", merged_pr()),
        ("pull_request", read("pull_request/opened.payload.json")),
        ("workflow_run", read("workflow_run/completed.payload.json")),
        ("workflow_job", read("workflow_job/completed.success.with-organization.payload.json")),
        ("push", read("push/with-new-branch.payload.json")),
        ("check_run", read("check_run/completed.payload.json")),
    ]
