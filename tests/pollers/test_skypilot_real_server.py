"""Conformance: `orgpulse poll --once --only skypilot` against REAL SkyPilot 0.14.1 API servers.

Two servers from the separate venv `make peers` builds (.peers/skypilot; never a runtime
dependency), each started once per run, both at once, with HOME in a temp dir (no cloud
needed): one whose jobs controller is down — never launched, as after autostop — and one
in `jobs.controller.consolidation_mode`, where the server itself answers the jobs queue.
Each takes an API port whose derived queue port is free as well, and is started once more on
new ports if one is taken before it binds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.dogstatsd import udp_listener
from tests.support.peers import require_peer
from tests.support.servers import ROOT, clean_env, free_port

pytestmark = pytest.mark.peers
CONSOLIDATION = "jobs:\n  controller:\n    consolidation_mode: true\n"
MARKER = "ORGPULSE_TEST_SKYPILOT_SERVER"  # inherited by every process the servers start
HISTORY = (
    "skypilot.jobs.started_7d",
    "skypilot.jobs.succeeded_7d",
    "skypilot.jobs.cancelled_7d",
    "skypilot.jobs.failed_7d",
    "skypilot.users.active_7d",
)
NOW_ZERO = (
    "skypilot.jobs.active",
    "skypilot.jobs.queued",
    "skypilot.jobs.running",
    "skypilot.resources.spot_jobs",
    "skypilot.resources.ondemand_jobs",
    "skypilot.jobs.with_recoveries",
    "skypilot.jobs.runtime_buckets.0_1h",
    "skypilot.jobs.runtime_buckets.over_24h",
    "skypilot.clusters.active",
    "skypilot.clusters.stopped",
    "skypilot.clusters.init",
)


# SkyPilot 0.14.1 binds a second port, its request queue's manager, derived from the API port
# (sky/server/requests/queues/mp_queue.py, get_queue_manager_port), and exits "fails to start as
# port … is already in use" when that one is taken: both must be free, and apart from the other
# server's two.
SKY_API_PORT, SKY_QUEUE_PORT = 46580, 50011
PORT_TAKEN = ("is already in use", "is not available")  # SkyPilot's words for either port taken


def queue_manager_port(api_port: int) -> int:
    offset = api_port - SKY_API_PORT
    return SKY_QUEUE_PORT if offset == 0 else 50000 + (SKY_QUEUE_PORT - 50000 + offset) % 10000


def _bindable(port: int) -> bool:
    """As SkyPilot checks it (common_utils.is_port_available): SO_REUSEADDR, bind on localhost."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def choose_port(taken: set[int], candidates: Callable[[], int] = free_port) -> int:
    """A free API port whose queue port is free too, neither held by another server of this run
    (`taken`, which gets both)."""
    for _ in range(50):
        port = candidates()
        queue = queue_manager_port(port)
        if port != queue and not {port, queue} & taken and _bindable(queue):
            taken.update((port, queue))
            return port
    raise RuntimeError("no API port with a free queue manager port in 50 tries")


_CHOOSING = threading.Lock()


class PortTaken(Exception):
    """Taken between our check and the server's bind, by some other process on the machine."""


def _start(sky: Path, home: Path, marker: str, port: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    env = {
        "PATH": f"{sky.parent}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        MARKER: marker,
        "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
        # The server sizes its workers, and in consolidation mode a pool of jobs
        # controllers, from the machine's memory (12 processes on 24 GB); 2 GB → one.
        "SKYPILOT_POD_MEMORY_GB_LIMIT": "2",
    }
    with log_path.open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(sky), "api", "start", "--foreground", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text()
            if any(words in text for words in PORT_TAKEN):
                raise PortTaken(text[-3000:])
            pytest.fail(f"SkyPilot API server exited {proc.returncode}:\n{text[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"SkyPilot API server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _warm(url: str) -> None:
    """One request through the server's executor: right after it turns healthy the server still
    runs its boot daemons (status refresh, boot check) and its first request waits on them."""
    start = urllib.request.Request(
        url + "/status", method="POST", data=b'{"all_users": true}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(start, timeout=120) as resp:
        request_id = resp.headers["X-Skypilot-Request-ID"]
    with urllib.request.urlopen(f"{url}/api/get?request_id={request_id}", timeout=120):
        pass


def _stop_everything_started_with(marker: str, procs: list[subprocess.Popen]) -> None:
    """The servers' process groups, then what they started in sessions of its own
    (jobs controllers, subprocess daemons): found by the marker in their environment."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    needle = f"{MARKER}={marker}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # gone already, or not ours to read


def _boot(sky: Path, home: Path, marker: str, taken: set[int], procs: list[subprocess.Popen]) -> str:
    """Start a server and wait until it answers; once more on new ports if one was taken meanwhile."""
    for attempt in (1, 2):
        log = home / f"server-{attempt}.log"
        with _CHOOSING:  # the two boots choose apart from each other
            port = choose_port(taken)
        proc, url = _start(sky, home, marker, port, log)
        procs.append(proc)
        try:
            _wait_healthy(url, proc, log)
            break
        except PortTaken as exc:
            if attempt == 2:
                pytest.fail(f"SkyPilot API server: a port taken twice:\n{exc}")
    _warm(url)
    return url


@pytest.fixture(scope="session")
def skypilot_servers(tmp_path_factory):
    sky = require_peer("skypilot/bin/sky")
    marker = uuid.uuid4().hex
    homes = {}
    for state in ("controller_down", "consolidation"):
        homes[state] = tmp_path_factory.mktemp(f"sky-{state}")
        if state == "consolidation":
            (homes[state] / ".sky").mkdir()
            (homes[state] / ".sky" / "config.yaml").write_text(CONSOLIDATION)
    taken: set[int] = set()  # ports of this run's servers: each must keep off the other's two
    procs: list[subprocess.Popen] = []
    try:
        with ThreadPoolExecutor(len(homes)) as pool:  # both at once: their boots overlap
            booting = {state: pool.submit(_boot, sky, home, marker, taken, procs) for state, home in homes.items()}
            urls = {state: future.result() for state, future in booting.items()}
        yield urls
    finally:
        _stop_everything_started_with(marker, procs)


def poll_once(url: str, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    listener = udp_listener()
    try:
        host, port = listener.address
        env = {"SKYPILOT_API_SERVER_ENDPOINT": url, "DD_DOGSTATSD_URL": f"udp://{host}:{port}", "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "skypilot"],
            cwd=cwd,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=120,
        )
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


def test_an_api_port_is_chosen_only_with_its_queue_port_free(tmp_path):
    # This test once picked a free API port and never looked at the queue port
    # SkyPilot derives from it — "fails to start as port 51688 is already in use", at random.
    with socket.socket() as busy:
        for queue in range(50100, 59900, 97):  # a port in the queue range we can hold
            try:
                busy.bind(("127.0.0.1", queue))
                break
            except OSError:
                continue
        busy.listen()
        unlucky = SKY_API_PORT + (queue - SKY_QUEUE_PORT) % 10000
        assert queue_manager_port(unlucky) == queue
        taken: set[int] = set()
        assert choose_port(taken, iter([unlucky, 47000]).__next__) == 47000
        assert taken == {47000, 50431}  # 50011 + 420
    # The other server of the run keeps off the first one's ports: 57000 would share its queue port.
    assert queue_manager_port(57000) == 50431
    assert choose_port(taken, iter([57000, 48000]).__next__) == 48000


def test_the_queue_port_is_the_one_skypilot_derives(tmp_path):
    python = require_peer("skypilot/bin/python")
    ports = [46580, 46581, 48257, 56569, 56570, 60000, 36580]
    script = (
        "import os, sys\nfrom sky.server.requests.queues import mp_queue\n"
        "for p in sys.argv[1:]:\n"
        "    os.environ['SKYPILOT_API_SERVER_LOCAL_PORT'] = p\n"
        "    print(mp_queue.get_queue_manager_port())\n"
    )
    result = subprocess.run(
        [str(python), "-c", script, *map(str, ports)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env({"HOME": str(tmp_path)}),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert [int(x) for x in result.stdout.split()] == [queue_manager_port(p) for p in ports]


STAND_IN = '''#!{python}
"""`sky api start … --port P` that first fails as SkyPilot does when its queue port is taken."""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

tried = Path(__file__).with_name("tried")
if not tried.exists():
    tried.touch()
    print("RuntimeError: SkyPilot API server fails to start as port 51688 is already in use "
          "by another process.", flush=True)
    sys.exit(1)


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        self.send_response(200)
        self.send_header("X-Skypilot-Request-ID", "r1")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({{"status": "SUCCEEDED"}}).encode())
    do_GET = do_POST = _answer


HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), Handler).serve_forever()
'''


def test_a_port_taken_at_start_is_retried_once_on_new_ports(tmp_path):
    sky = tmp_path / "sky"
    sky.write_text(STAND_IN.format(python=sys.executable))
    sky.chmod(0o755)
    taken: set[int] = set()
    procs: list[subprocess.Popen] = []
    marker = uuid.uuid4().hex
    try:
        url = _boot(sky, tmp_path, marker, taken, procs)
    finally:
        _stop_everything_started_with(marker, procs)
    assert "already in use" in (tmp_path / "server-1.log").read_text()
    assert len(procs) == 2 and procs[0].returncode == 1
    assert len(taken) == 4 and int(url.rsplit(":", 1)[1]) in taken  # the second start: new ports
