"""`make demo`, started and stopped as a person would (Ctrl-C is SIGINT to the terminal's
foreground process group): every section of the status page populated, a screenshot saved
as a test artifact (tests/artifacts/status-demo.png), and every process gone after the stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.demo.run import COLLECTORS, missing
from tests.support.browser import Watched
from tests.support.peers import require_executable
from tests.support.servers import ROOT, clean_env

pytestmark = pytest.mark.peers
ARTIFACTS = ROOT / "tests" / "artifacts"


def descendants(pid: int) -> set[int]:
    """Every process under `pid`, from /proc (parent links)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def yours(env_file: Path, receiver: str, said: str) -> None:
    """The documented commands of one's own against the running demo's fakes, through the env
    file the demo writes (the fakes exist only in the demo's processes otherwise)."""
    assert f"env $(cat {env_file}) .venv/bin/orgpulse poll --once --only github" in said
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert {
        "GITHUB_API_URL",
        "GITHUB_TOKEN",
        "ASANA_BASE_URL",
        "AWS_ENDPOINT_URL",
        "KUBECONFIG",
        "ORGPULSE_CONFIG",
        "ORGPULSE_SINK",
        "ORGPULSE_DATA_DIR",
    } <= set(env)
    urls = [v for v in env.values() if "://" in v]
    assert len(urls) >= 6 and all(v.startswith("http://127.0.0.1:") for v in urls)  # no network
    assert env["ORGPULSE_DATA_DIR"] != str(env_file.parent)  # not the demo poller's state file

    def run(command):
        return subprocess.run(
            ["sh", "-c", f"env $(cat {env_file}) {command}"],
            cwd=ROOT,
            env=clean_env({}),
            capture_output=True,
            text=True,
            timeout=120,
        )

    mine = run(".venv/bin/orgpulse poll --once --only github")
    assert mine.returncode == 0, mine.stderr
    assert re.search(r"^github: ok, \d+\.\d\d s, [1-9]\d* metrics$", mine.stderr, re.M), mine.stderr
    assert "github.prs." in mine.stdout  # the log sink's DogStatsD lines
    replayed = run(f".venv/bin/orgpulse replay tests/fixtures/wandb --source wandb --url {receiver}")
    assert replayed.returncode == 0 and "replayed 9 deliveries, 0 refused" in replayed.stderr, replayed.stderr


def test_make_demo_populates_every_section_and_ctrl_c_leaves_no_process(browser, tmp_path):
    require_executable("make", "apt-get install make")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "demo", f"DEMO_ARGS=--port 0 --data-dir {tmp_path / 'demo'}"],
        cwd=ROOT,
        env=clean_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # its own group, as a terminal's job
    lines: list[str] = []
    populated = threading.Event()

    def read():
        for line in make.stdout:
            lines.append(line)
            if "every section populated" in line:
                populated.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert populated.wait(120), "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+/status)", "".join(lines)).group(1)
        with urllib.request.urlopen(url + ".json", timeout=10) as response:
            doc = json.loads(response.read())
        assert missing(doc) == []
        assert {s["name"] for s in doc["sources"] if s["configured"] and s["last_hour"]} == {"github", "asana", "wandb"}
        assert {c["name"] for c in doc["poller"]["collectors"] if c["ok"]} == COLLECTORS
        assert doc["informer"]["pods"] > 0 and doc["gauges"]
        # Apart, as in the demo, each has its own role: the poller elects nothing, the informer leads.
        assert (doc["poller"]["role"], doc["informer"]["role"]) == ("single", "leader")
        page = Watched(browser, 1440, 1000)
        page.page.goto(url)
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / "status-demo.png"), full_page=True)
        for section in ("sources", "deliveries", "poller", "health", "informer", "gauges"):
            assert page.page.locator(f"section#{section}").is_visible()
        assert page.errors == [] and all(u.startswith(url.rsplit("/", 1)[0]) for u in page.requested)
        page.close()
        yours(tmp_path / "demo" / "env", url.rsplit("/", 1)[0], "".join(lines))
        started = descendants(make.pid)
        assert len(started) >= 5  # the demo, the receiver's master and worker, the poller, the informer
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        make.wait(timeout=60)
        reader.join(10)
    assert "every process it started has exited" in "".join(lines)
    deadline = time.monotonic() + 5
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in started if alive(p)] == []
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
