"""The containers' footprint, for the chart's requests and limits (chart/orgpulse/values.yaml).

- receiver: gunicorn as the image runs it (receiver/server/gunicorn_conf.py: one gthread worker),
  arbiter + worker RSS at start and after 20,000 distinct signed deliveries (the GitHub
  mix), and the CPU seconds the two spent per 1,000 deliveries;
- poller: `orgpulse poll --once` with every collector configured (GitHub, Asana, W&B,
  SkyPilot, EC2) against endpoints that refuse connections (W&B: the fake W&B API, since its
  client checks the login while it is built), so each builds its client and fails fast: the
  peak RSS of the process tree (W&B's login check runs its wandb-core binary as a child).
  The informer's cache at 10,000 pods comes on top (bench/informer.py).

    .venv/bin/python bench/footprint.py [--deliveries N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from payloads import ROOT, SECRET, mix

from receiver.sources.github import signature
from tests.fakes.wandb_api import FakeWandb
from tests.support.servers import clean_env, free_port, stop, wait_http

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def receiver(deliveries: int) -> None:
    port = free_port()
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an Agent that drops what it gets
    agent.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "receiver" / "server" / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "receiver:create_app()",
            ],
            cwd=data,
            env=clean_env(
                {
                    "PYTHONPATH": str(ROOT),
                    "GITHUB_WEBHOOK_SECRET": SECRET,
                    "ORGPULSE_DATA_DIR": data,
                    "ORGPULSE_LOG_LEVEL": "WARNING",
                    "DD_DOGSTATSD_URL": f"udp://127.0.0.1:{agent.getsockname()[1]}",
                }
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        pids = tree(proc.pid)
        idle = sum(rss_mb(p) for p in pids)
        cpu_before = sum(cpu_seconds(p) for p in pids)
        bodies = mix()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        started = time.perf_counter()
        for i in range(deliveries):
            event, body = bodies[i % len(bodies)]
            conn.request(
                "POST",
                "/webhooks/github",
                body,
                {
                    "X-GitHub-Event": event,
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": signature(SECRET.encode(), body),
                    "Content-Type": "application/json",
                },
            )
            conn.getresponse().read()
        elapsed = time.perf_counter() - started
        loaded = {p: rss_mb(p) for p in pids}
        cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
        stop(proc)
    print(
        f"receiver: arbiter + worker RSS {idle:.0f} MB at start, {sum(loaded.values()):.0f} MB after "
        f"{deliveries:,} deliveries ({', '.join(f'{v:.0f}' for v in loaded.values())} MB); "
        f"{1000 * cpu / deliveries:.2f} CPU s per 1,000 deliveries ({deliveries / elapsed:,.0f}/s, one client)"
    )


def poller() -> None:
    refused = "http://127.0.0.1:9"
    wandb = FakeWandb()  # W&B's client checks its login while it is built
    config = {
        "github": {"repositories": ["org/repo"]},
        "asana": {"workspace": "1"},
        "wandb": {"projects": ["ent/proj"]},
        "aws": {"regions": ["us-east-1"]},
        "poller": {"collector_timeout_seconds": 60},
    }
    with tempfile.TemporaryDirectory() as data:
        path = Path(data) / "config.yaml"
        path.write_text(json.dumps(config))
        env = clean_env(
            {
                "PYTHONPATH": str(ROOT),
                "ORGPULSE_CONFIG": str(path),
                "ORGPULSE_DATA_DIR": data,
                "GITHUB_TOKEN": "x",
                "GITHUB_API_URL": refused,
                "ASANA_ACCESS_TOKEN": "x",
                "ASANA_BASE_URL": refused,
                "WANDB_API_KEY": "x" * 40,
                "WANDB_BASE_URL": wandb.url,
                "SKYPILOT_API_SERVER_ENDPOINT": refused,
                "AWS_ENDPOINT_URL": refused,
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
                "HOME": data,
                "DD_DOGSTATSD_URL": "udp://127.0.0.1:9",
                "ORGPULSE_LOG_LEVEL": "ERROR",
            }
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "orgpulse.cli", "poll", "--once"],
            cwd=data,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak, done = [0.0], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], sum(rss_mb(p) for p in tree(proc.pid)))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        _, err = proc.communicate(timeout=300)
        done.set()
        sampler.join()
    wandb.close()
    results = [
        line for line in err.splitlines() if line.split(":")[0] in ("github", "asana", "wandb", "skypilot", "ec2")
    ]
    print(
        f"poller: peak RSS of the process tree {peak[0]:.0f} MB with every collector's client built "
        f"({time.perf_counter() - started:.1f} s; {', '.join(results)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    args = parser.parse_args()
    receiver(args.deliveries)
    poller()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
