"""The terminal side: `orgpulse poll --once` on a terminal shows the first cycle's pages per
GitHub repository and ends with a table per collector; on a pipe, neither (one line per
collector, as before). `orgpulse catalog` prints an aligned table."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from datetime import UTC, datetime

from orgpulse.metrics import catalog
from orgpulse.state import StateFile
from orgpulse.termui import table
from tests.fakes.github_api import FakeGithub
from tests.fakes.skypilot_api import FakeSkyPilot
from tests.support.github_history import generated
from tests.support.servers import ROOT, clean_env


def run_cli(args: list[str], env: dict[str, str], cwd, terminal: bool) -> tuple[int, str]:
    """(exit code, stderr) of `orgpulse ARGS`, stderr on a pseudo-terminal or on a pipe."""
    command = [sys.executable, "-m", "orgpulse.cli", *args]
    env = clean_env({**env, "PYTHONPATH": str(ROOT)})
    if not terminal:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a terminal's size
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []

    def drain():  # read while it writes: a full pty buffer would block the child
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    code = proc.wait(timeout=120)
    reader.join(10)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_catalog_is_an_aligned_table():
    out = subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "catalog"],
        capture_output=True,
        text=True,
        env=clean_env({"PYTHONPATH": str(ROOT)}),
        cwd=ROOT,
        timeout=60,
    ).stdout.splitlines()
    header, rule, rows = out[0], out[1], out[2:]
    assert header.split() == ["name", "type", "unit", "source", "tags"] and set(rule) <= {"-", " "}
    starts = [header.index(col) for col in ("type", "unit", "source", "tags")]
    assert len(rows) == len(catalog())
    for row in rows:  # every column starts where its header does
        assert all(row[i - 2 : i] == "  " and row[i] != " " for i in starts), row
    assert table(["a", "n"], [["x", 1], ["yy", 10]], right=(1,)) == "a    n\n--  --\nx    1\nyy  10"


def test_catalog_of_an_unknown_source_exits_2_naming_the_known_ones():
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "orgpulse.cli", "catalog", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            env=clean_env({"PYTHONPATH": str(ROOT)}),
        )

    unknown = run("--source", "nosuch")
    known = sorted({r.source for r in catalog().values() if r.source})
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == f"orgpulse: no source 'nosuch' in the catalog (known: {', '.join(known)})\n"
    assert {"github", "asana", "wandb", "kubernetes"} <= set(known)
    wandb = run("--source", "wandb")
    assert wandb.returncode == 0
    assert len(wandb.stdout.splitlines()) - 2 == sum(r.source == "wandb" for r in catalog().values())


def pages_shown(shown: str, repo: str) -> list[int]:
    return [int(n) for n in re.findall(rf"github {repo}: (\d+) pages", shown)]


def test_poll_once_shows_pages_and_a_summary_on_a_terminal_and_neither_on_a_pipe(tmp_path):
    github, sky = FakeGithub(), FakeSkyPilot()
    try:
        now = datetime.now(UTC)
        for repo in ("org/app", "org/lib"):
            generated(github, repo, now, prs=150)  # two pages of closed PRs each, and more
        config = tmp_path / "orgpulse.yaml"
        config.write_text("github: {repositories: [org/app, org/lib], request_interval_seconds: 0}\n")
        env = {
            "ORGPULSE_CONFIG": str(config),
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.url,
            # a token SkyPilot refuses: the collector fails and the table says why
            "SKYPILOT_API_SERVER_ENDPOINT": sky.url,
            "SKYPILOT_SERVICE_ACCOUNT_TOKEN": "wrong",
            "ORGPULSE_SINK": "log",
            "ORGPULSE_DATA_DIR": str(tmp_path / "data"),
        }
        # The github collector alone: its bars count every request of its first cycle, per repository.
        code, shown = run_cli(["poll", "--once", "--only", "github"], env, tmp_path, terminal=True)
        assert code == 0, shown
        app, lib = pages_shown(shown, "org/app"), pages_shown(shown, "org/lib")
        assert max(app) + max(lib) == sum(github.requests.values()) and max(app) > 5
        assert len(set(app)) > 1  # the bar moved as pages came, not only at the end
        # Every collector (dora too: this fake has no deployments API, so it fails as well).
        code, shown = run_cli(["poll", "--once"], env, tmp_path, terminal=True)
        assert code == 1, shown
        lines = [line for line in re.split(r"\r\n|\r|\n", shown) if line.strip()]
        header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["collector", "outcome"])
        report = StateFile(tmp_path / "data").read()["poller"]
        rows = {line.split()[0]: line for line in lines[header + 2 : header + 2 + len(report)]}
        assert set(rows) == set(report) >= {"github", "skypilot"}
        assert rows["github"].split()[:2] == ["github", "ok"]
        assert rows["github"].split()[-2:] == [str(report["github"]["emitted"]), "-"]
        assert not report["skypilot"]["ok"] and report["skypilot"]["reasons"]  # refused (401)
        for name, r in report.items():  # a failed one says why, as its state file entry does
            if not r["ok"]:
                assert f"FAILED ({r['error']})" in rows[name] and rows[name].endswith(", ".join(r["reasons"]))
        code, logged = run_cli(["poll", "--once"], env, tmp_path, terminal=False)
        assert code == 1
        report = StateFile(tmp_path / "data").read()["poller"]
        # One line per collector: outcome, duration and metrics emitted, as the table has them.
        lines = {line.split(":")[0]: line for line in logged.splitlines() if not line.startswith("{")}
        assert set(lines) == set(report)
        for name, r in report.items():
            assert re.fullmatch(
                rf"{name}: (ok|FAILED \({r['error']}\)), \d+\.\d\d s, {r['emitted']} metrics"
                r"(, errors: .+)?",
                lines[name],
            ), lines[name]
        assert lines["github"].startswith("github: ok, ") and report["github"]["emitted"] > 0
        assert lines["skypilot"].endswith("errors: " + ", ".join(report["skypilot"]["reasons"]))
        assert " pages" not in logged and "collector  outcome" not in logged and "\r" not in logged
    finally:
        github.close()
        sky.close()
