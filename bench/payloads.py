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
    payload["pull_request"].update(
        merged=True, merged_at="2019-05-16T15:20:33Z", additions=120, deletions=7, changed_files=4
    )
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


ASANA_WEBHOOK = "bench"
ASANA_SECRET = "bench-asana-secret"
WANDB_TOKEN = "bench-wandb-token"


def asana_bodies(n: int) -> list[bytes]:
    """n distinct Asana deliveries (Asana has no delivery id: bodies must differ)."""
    line = (ROOT / "tests/fixtures/asana/deliveries.jsonl").read_text().splitlines()[6]
    events = json.loads(json.loads(line)["body"])["events"]
    out = []
    for i in range(n):
        for ev in events:
            ev["created_at"] = f"2026-11-20T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100:03d}Z"
        out.append(json.dumps({"events": events}).encode())
    return out


def wandb_bodies(n: int) -> list[bytes]:
    """n distinct rendered W&B templates (deduplicated by body, like Asana)."""
    samples = sorted((ROOT / "tests/fixtures/wandb").glob("*.json"))
    out = []
    for i in range(n):
        payload = json.loads(samples[i % len(samples)].read_text())
        payload["event_author"] = f"user-{i}"
        out.append(json.dumps(payload).encode())
    return out
