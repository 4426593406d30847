"""Conformance: `orgpulse poll --once --only skypilot` against REAL SkyPilot 0.14.1 API servers.

Two servers from the separate venv `make peers` builds (.peers/skypilot; never a runtime
dependency), each started once per run, both at once, with HOME in a temp dir (no cloud
needed): one whose jobs controller is down — never launched, as after autostop — and one
in `jobs.controller.consolidation_mode`, where the server itself answers the jobs queue.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.dogstatsd import udp_listener
from tests.peers import require_peer
from tests.servers import ROOT, clean_env, free_port

pytestmark = pytest.mark.peers
CONSOLIDATION = "jobs:\n  controller:\n    consolidation_mode: true\n"
MARKER = "ORGPULSE_TEST_SKYPILOT_SERVER"  # inherited by every process the servers start
HISTORY = ("skypilot.jobs.started_7d", "skypilot.jobs.succeeded_7d", "skypilot.jobs.cancelled_7d",
           "skypilot.jobs.failed_7d", "skypilot.users.active_7d")
NOW_ZERO = ("skypilot.jobs.active", "skypilot.jobs.queued", "skypilot.jobs.running",
            "skypilot.resources.spot_jobs", "skypilot.resources.ondemand_jobs", "skypilot.jobs.with_recoveries",
            "skypilot.jobs.runtime_buckets.0_1h", "skypilot.jobs.runtime_buckets.over_24h",
            "skypilot.clusters.active", "skypilot.clusters.stopped", "skypilot.clusters.init")


def _start(sky: Path, home: Path, marker: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {"PATH": f"{sky.parent}:{os.environ.get('PATH', '')}", "HOME": str(home), MARKER: marker,
           "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
           # The server sizes its workers, and in consolidation mode a pool of jobs
           # controllers, from the machine's memory (12 processes on 24 GB); 2 GB → one.
           "SKYPILOT_POD_MEMORY_GB_LIMIT": "2"}
    with (home / "server.log").open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([str(sky), "api", "start", "--foreground", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"SkyPilot API server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"SkyPilot API server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _warm(url: str) -> None:
    """One request through the server's executor: right after it turns healthy the server still
    runs its boot daemons (status refresh, boot check) and its first request waits on them."""
    start = urllib.request.Request(url + "/status", method="POST", data=b'{"all_users": true}',
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(start, timeout=120) as resp:
        request_id = resp.headers["X-Skypilot-Request-ID"]
    with urllib.request.urlopen(f"{url}/api/get?request_id={request_id}", timeout=120):
        pass


def _stop_everything_started_with(marker: str, procs: list[subprocess.Popen]) -> None:
    """The servers' process groups, then what they started in sessions of its own
    (jobs controllers, subprocess daemons): found by the marker in their environment."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
    needle = f"{MARKER}={marker}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # gone already, or not ours to read


@pytest.fixture(scope="session")
def skypilot_servers(tmp_path_factory):
    sky = require_peer("skypilot/bin/sky")
    marker = uuid.uuid4().hex
    started = {}
    try:
        for state in ("controller_down", "consolidation"):
            home = tmp_path_factory.mktemp(f"sky-{state}")
            if state == "consolidation":
                (home / ".sky").mkdir()
                (home / ".sky" / "config.yaml").write_text(CONSOLIDATION)
            started[state] = (*_start(sky, home, marker), home / "server.log")
        for proc, url, log in started.values():
            _wait_healthy(url, proc, log)
        warmers = [threading.Thread(target=_warm, args=(url,)) for _, url, _ in started.values()]
        for thread in warmers:  # both at once: their boots overlap
            thread.start()
        for thread in warmers:
            thread.join()
        yield {state: url for state, (_, url, _) in started.items()}
    finally:
        _stop_everything_started_with(marker, [proc for proc, _, _ in started.values()])


def poll_once(url: str, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    listener = udp_listener()
    try:
        host, port = listener.address
        env = {"SKYPILOT_API_SERVER_ENDPOINT": url, "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
               "PYTHONPATH": str(ROOT)}
        result = subprocess.run([sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "skypilot"],
                                cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=120)
        lines = listener.settle(0.2)
    finally:
        listener.close()
    return result, {(x.name, tuple(sorted(x.tag_map.items()))): x.value for x in lines}


def names(got: dict) -> set[str]:
    return {name for name, _ in got}


def assert_true_zeros_now(result, got):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skypilot: ok" in result.stderr
    assert "orgpulse.collector.errors" not in names(got), got
    for name in NOW_ZERO:
        values = [v for (n, _), v in got.items() if n == name]
        assert values and all(v == 0 for v in values), (name, values)
    assert len([k for k in got if k[0] == "skypilot.jobs.active"]) == 6  # every non-terminal status


def test_controller_down(skypilot_servers, tmp_path):
    result, got = poll_once(skypilot_servers["controller_down"], tmp_path)
    assert_true_zeros_now(result, got)
    assert not names(got) & set(HISTORY)  # the stopped controller cannot say: absent, never 0


def test_consolidation_mode(skypilot_servers, tmp_path):
    result, got = poll_once(skypilot_servers["consolidation"], tmp_path)
    assert_true_zeros_now(result, got)
    for name in HISTORY:
        values = [v for (n, _), v in got.items() if n == name]
        assert values and all(v == 0 for v in values), (name, values)
    assert len([k for k in got if k[0] == "skypilot.jobs.failed_7d"]) == 5  # one per FAILED_* status
