"""What a sender writes is not kept. Check names, SHAs and workflow
names of any size pass through the receiver's memories (the flaky recall, the tag-value
cache, the capped tags) without being retained. Measured with tracemalloc (bytes still
allocated after the deliveries), not with time; RSS under load is bench/soak.py's."""

from __future__ import annotations

import gc
import json
import tracemalloc
import uuid

from tests.conftest import GITHUB
from tests.support.inprocess import Receiver

BIG = 100_000  # characters per sender-chosen name


def retained(send) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    send()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


def test_sender_chosen_names_are_not_retained(tmp_path):
    rx = Receiver(tmp_path, {"ORGPULSE_LOG_LEVEL": "WARNING"})
    check = json.loads((GITHUB / "check_run/completed.payload.json").read_text())
    run = json.loads((GITHUB / "workflow_run/completed.payload.json").read_text())
    rx.github(json.dumps(check).encode(), "check_run")  # warm caches and imports
    rx.lines()

    def send():
        for _ in range(50):
            check["check_run"].update(
                name=uuid.uuid4().hex * (BIG // 32), conclusion="failure", head_sha=uuid.uuid4().hex * (BIG // 32)
            )
            run["workflow_run"]["name"] = uuid.uuid4().hex * (BIG // 32)
            assert rx.github(json.dumps(check).encode(), "check_run").status_code == 200
            assert rx.github(json.dumps(run).encode(), "workflow_run").status_code == 200
            rx.lines()

    # 150 names of 100 KB went through: 15 MB if kept. Dedup and recall entries are digests.
    assert retained(send) < 1_000_000
