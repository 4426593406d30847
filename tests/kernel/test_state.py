"""The poller's state file (orgpulse/state.py): what the loop and the informer write, that
neither loses the other's part, and the liveness probe `orgpulse probe poller|informer`
judging it with an injected clock (and, through the CLI, against the wall clock)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time

import pytest

from orgpulse import metrics as m
from orgpulse import state
from orgpulse.emit import Emitter, LogSink
from pollers.kubernetes.informer import Informer
from pollers.loop import Collector, Poller
from pollers.values import ValueStore
from tests.fakes.kube_api import FakeKube
from tests.pollers.test_kubernetes_informer import api_client, wait_until
from tests.pollers.test_loop import Clock
from tests.support.k8s_pods import pod
from tests.support.servers import ROOT, clean_env


class Elector:
    """An injected elector: holds the Lease or not."""

    def __init__(self, leader: bool):
        self.leader = leader

    def is_leader(self) -> bool:
        return self.leader


@pytest.fixture
def emitter(make_settings):
    return Emitter(LogSink(make_settings(), io.StringIO()), strict=True)


def collectors():
    def good(now):
        return [m.gauge("ec2.instances.running", 4, region="us-east-1")]

    def bad(now):
        raise RuntimeError("API down")

    def partial(now):
        return [m.count("orgpulse.collector.errors", collector="ec2", reason="http_500")]

    return {
        "good": Collector("good", good, 5),
        "bad": Collector("bad", bad, 5),
        "partial": Collector("partial", partial, 5),
    }


def test_the_poller_writes_its_cycle_and_the_probe_judges_it_by_two_intervals(tmp_path, emitter):
    clock = Clock(1_800_000_000.0)
    store = state.StateFile(tmp_path)
    poller = Poller(collectors(), emitter, ValueStore(), interval=900, clock=clock, state=store, elector=Elector(False))
    poller.run_once()
    doc = json.loads((tmp_path / "poller-state.json").read_text())
    assert doc["updated_at"] == clock.now and doc["interval_seconds"] == 900
    assert doc["role"] == "standby"
    assert doc["poller"]["good"]["ok"] is True and doc["poller"]["good"]["error"] is None
    assert doc["poller"]["good"]["last_success"] == clock.now
    assert doc["poller"]["good"]["duration"] >= 0
    assert doc["poller"]["bad"] == {
        "ok": False,
        "duration": doc["poller"]["bad"]["duration"],
        "last_success": None,
        "error": "exception",
        "reasons": ["RuntimeError"],
        "emitted": 0,
    }
    assert doc["poller"]["partial"]["error"] == "partial"
    assert doc["poller"]["partial"]["reasons"] == ["http_500"]
    assert state.verdict(doc, clock.now + 1800)[0] is True
    healthy, reason = state.verdict(doc, clock.now + 1801)
    assert not healthy and "poller" in reason and "1801 s ago" in reason and "\n" not in reason


def test_a_cycle_waiting_on_a_slow_collector_has_already_said_it_is_alive(tmp_path, emitter):
    """Written when a cycle starts as well as when it ends: the gap the probe sees is the
    longer of the pause and one cycle (bounded by the collectors' timeouts), not their sum."""
    clock, store, release = Clock(1_000.0), state.StateFile(tmp_path), threading.Event()
    slow = Collector("slow", lambda now: release.wait(10) and [], 5)
    poller = Poller({"slow": slow}, emitter, ValueStore(), interval=60, clock=clock, state=store)
    cycle = threading.Thread(target=poller.run_once)
    cycle.start()
    try:
        assert wait_until(lambda: store.read().get("updated_at") == 1_000.0)
        assert store.read()["poller"] == {}  # nothing finished yet
        clock.now += 100  # the collector is slow: the cycle outlasts the pause
    finally:
        release.set()
        cycle.join()
    doc = store.read()
    assert doc["updated_at"] == 1_100.0 and doc["poller"]["slow"]["ok"] is True


def test_a_cycle_of_one_collector_keeps_the_others_last_results(tmp_path, emitter):
    clock = Clock()
    store = state.StateFile(tmp_path)
    poller = Poller(collectors(), emitter, ValueStore(), clock=clock, state=store)
    poller.run_once()
    clock.now += 60
    poller.run_once(only="good")
    doc = store.read()
    assert set(doc["poller"]) == {"good", "bad", "partial"} and doc["role"] == "single"
    assert doc["poller"]["good"]["last_success"] == clock.now
    assert doc["poller"]["bad"]["error"] == "exception"


def test_the_leader_says_so_and_a_start_drops_a_previous_process_parts(tmp_path, emitter):
    store = state.StateFile(tmp_path)
    store.update(state.informer(100.0, 60, "leader", True))
    store.update(state.started(5000.0, 900, "leader"))
    assert store.read() == {"updated_at": 5000.0, "interval_seconds": 900, "role": "leader", "poller": {}}
    # Right after a start the file is fresh: the first cycle has two intervals to finish.
    assert state.verdict(store.read(), 5000.0 + 1799)[0]


def test_the_poller_and_a_separate_informer_keep_their_own_roles(tmp_path):
    """`make demo` runs them apart: the poller without election (single), the informer as a
    leader. Each write leaves the other's role as it was, whatever the order."""
    store = state.StateFile(tmp_path)
    store.update(state.started(1000.0, 20, "single"))
    for t in (1001.0, 1002.0, 1003.0):
        store.update(state.informer(t, 5, "leader", True))
        assert (store.read()["role"], store.read()["informer"]["role"]) == ("single", "leader")
        store.update(state.cycle(t, 20, "single", {}))
        assert (store.read()["role"], store.read()["informer"]["role"]) == ("single", "leader")
    assert state.verdict(store.read(), 1004.0, "poller")[0]
    assert state.verdict(store.read(), 1004.0, "informer")[0]


def test_the_informer_part_is_checked_when_present_and_required_for_the_informer_alone():
    doc = {
        "updated_at": 1000.0,
        "interval_seconds": 900,
        "role": "leader",
        "poller": {},
        "informer": {"watching": True, "updated_at": 1000.0, "interval_seconds": 60},
    }
    assert state.verdict(doc, 1100.0) == (
        True,
        "ok: poller 100 s ago (stale after 1800 s); informer 100 s ago (stale after 120 s)",
    )
    healthy, reason = state.verdict(doc, 1121.0)
    assert not healthy and reason.startswith("informer: last wrote the state file 121 s ago")
    assert state.verdict({"updated_at": 1000.0, "interval_seconds": 900}, 1121.0)[0]
    assert state.verdict({"updated_at": 1000.0, "interval_seconds": 900}, 1000.0, "informer") == (
        False,
        "informer: has not written the state file yet",
    )
    assert state.verdict({}, 1000.0) == (False, "poller: has not written the state file yet")
    assert state.verdict({"updated_at": "soon", "interval_seconds": 900}, 1.0) == (
        False,
        "poller: the state file has no valid updated_at/interval_seconds",
    )


def test_concurrent_writers_never_lose_each_others_part_and_readers_never_see_half(tmp_path):
    store = state.StateFile(tmp_path)
    store.update(state.started(0.0, 900, "single"))
    errors: list[str] = []
    done = threading.Event()

    def write(change_for, n=200):
        for i in range(n):
            store.update(change_for(float(i)))

    def read():
        while not done.is_set():
            try:
                store.read()
            except state.StateError as exc:
                errors.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [
        threading.Thread(
            target=write,
            args=(
                lambda i: state.cycle(
                    i, 900, "single", {"c": {"ok": True, "duration": 0.1, "last_success": i, "error": None}}
                ),
            ),
        ),
        threading.Thread(target=write, args=(lambda i: state.informer(i, 60, "single", True),)),
    ]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    doc = store.read()
    assert errors == []
    assert doc["updated_at"] == 199.0 and doc["informer"]["updated_at"] == 199.0
    assert doc["poller"]["c"]["last_success"] == 199.0


def test_a_corrupt_file_fails_the_probe_and_is_replaced_by_the_next_write(tmp_path):
    store = state.StateFile(tmp_path)
    store.path.write_text("{half a docu")
    with pytest.raises(state.StateError):
        store.read()
    store.update(state.cycle(10.0, 900, "single", {}))
    assert store.read()["updated_at"] == 10.0


def test_an_unwritable_data_dir_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert state.StateFile(blocker / "data").update(state.cycle(1.0, 900, "single", {})) is None
    assert "cannot write the state file" in caplog.text


def test_the_informer_writes_its_part_every_gauge_interval(tmp_path, emitter):
    fake = FakeKube()
    fake.put(pod(uid="p1"))
    clock = Clock(2_000_000_000.0)
    store = state.StateFile(tmp_path)
    informer = Informer(
        api_client(fake),
        emitter,
        {"watch_timeout_seconds": 2, "gauge_interval_seconds": 0.05},
        elector=Elector(True),
        clock=clock,
        state=store,
    )
    try:
        informer.start()
        assert wait_until(lambda: (store.read().get("informer") or {}).get("watching") is True)
        doc = store.read()
        assert "role" not in doc  # the top level is the poller's
        assert {k: doc["informer"][k] for k in ("watching", "updated_at", "interval_seconds", "role")} == {
            "watching": True,
            "updated_at": clock.now,
            "interval_seconds": 0.05,
            "role": "leader",
        }
        clock.now += 1000
        assert wait_until(lambda: store.read()["informer"]["updated_at"] == clock.now)
    finally:
        informer.stop()
        fake.close()


def probe(data_dir, target="poller"):
    return subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "probe", target],
        env=clean_env({"ORGPULSE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_probe_command_exits_0_when_fresh_and_1_with_one_line_otherwise(tmp_path):
    store = state.StateFile(tmp_path)
    missing = probe(tmp_path)
    assert missing.returncode == 1
    assert missing.stdout == f"poller: no state file at {store.path} yet\n"
    now = time.time()
    store.update(state.cycle(now - 30, 900, "leader", {}))
    store.update(state.informer(now - 5, 60, "leader", True))
    fresh = probe(tmp_path)
    # The probe reads its own clock: the age it says is 30 s plus however long the process
    # took to start (seconds on a loaded machine), rounded, and never more than that.
    waited = time.time() - now
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    said = re.fullmatch(r"ok: poller (\d+) s ago \(stale after 1800 s\); informer \d+ s ago .*\n", fresh.stdout)
    assert said, fresh.stdout
    assert 30 <= int(said[1]) <= round(30 + waited)
    store.update(state.cycle(now - 1900, 900, "leader", {}))  # the loop stopped 1,900 s ago
    stale = probe(tmp_path)
    assert stale.returncode == 1 and stale.stdout.startswith("poller: last wrote the state file 19")
    assert stale.stdout.count("\n") == 1
    store.update(state.informer(now - 500, 60, "leader", True))
    assert probe(tmp_path, "informer").returncode == 1
    store.path.write_text("[]")
    broken = probe(tmp_path)
    assert broken.returncode == 1 and "does not hold a JSON object" in broken.stdout
