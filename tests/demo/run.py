"""The demo's processes: the receiver (`orgpulse serve`), the poller (`orgpulse poll`) and the
informer (`orgpulse informer`), each a real orgpulse process against the world's fakes, with
its output in a log file under the demo's data dir. Stopping ends every one of them: each is
asked (SIGTERM) and, after a grace period, killed; each also gets SIGTERM from the kernel
should the demo itself die (PR_SET_PDEATHSIG), so no process outlives it.
"""

from __future__ import annotations

import ctypes
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.demo.traffic import Traffic
from tests.demo.world import World
from tests.support.servers import ROOT, clean_env, wait_http

COLLECTORS = {"ec2", "skypilot", "asana", "wandb", "github", "dora"}
SOURCES = {"github", "asana", "wandb"}
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def missing(doc: dict) -> list[str]:
    """The parts of a /status.json document that are not populated yet (the demo's promise)."""
    out = [
        f"deliveries from {s['name']}"
        for s in doc["sources"]
        if s["name"] in SOURCES and not (s["configured"] and s["recent"])
    ]
    poller = doc["poller"]
    ran = {c["name"] for c in poller.get("collectors", [])}
    if poller["state"] != "fresh" or ran != COLLECTORS:
        out.append(f"a poller cycle of every collector (have {sorted(ran)})")
    if not doc["gauges"]:
        out.append("gauges")
    if not any(row["cells"][-1]["value"] is not None for row in doc["health"]["rows"]):
        out.append("today's health scores")
    informer = doc["informer"]
    if informer["state"] != "fresh" or not informer.get("watching") or informer.get("last_event") is None:
        out.append("an informer watching, with an event")
    return out


def write_env(path: Path, env: dict[str, str]) -> None:
    """The poller's environment as `KEY=value` lines, for a person's own commands against the
    demo's fakes (which listen only while the demo runs), e.g.
    `env $(cat .orgpulse/demo/env) .venv/bin/orgpulse poll --once --only github`. It holds
    the fakes' URLs and the demo's made-up credentials: no real secret exists there."""
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())), encoding="utf-8")
    path.chmod(0o600)


def _port(wanted: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", wanted))
        except OSError:
            s.bind(("127.0.0.1", 0))  # taken (a `make run` elsewhere?): any free port
        return s.getsockname()[1]


class Demo:
    def __init__(self, data_dir: Path, port: int = 8080, interval: int = 20, pace: float = 1.0):
        self.data_dir, self.interval, self.pace = data_dir, interval, pace
        self.port = _port(port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.world: World | None = None
        self.traffic: Traffic | None = None

    def say(self, text: str) -> None:
        print(f"orgpulse demo: {text}", flush=True)

    def start(self) -> None:
        started = time.monotonic()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.say(
            f"starting the fakes (GitHub, Asana, W&B, SkyPilot, Kubernetes, EC2 on moto) — data in {self.data_dir}"
        )
        self.world = World(self.data_dir)
        config = self.data_dir / "orgpulse.yaml"
        config.write_text(json.dumps(World.options(self.interval), indent=1))  # JSON is YAML
        own = {**self.world.env(), "ORGPULSE_CONFIG": str(config), "ORGPULSE_SINK": "log"}
        # A command of one's own gets a data dir apart: its first cycle and its high-water
        # marks neither race the demo's poller nor show on the demo's page.
        write_env(self.data_dir / "env", {**own, "ORGPULSE_DATA_DIR": str(self.data_dir / "mine")})
        env = clean_env({**own, "ORGPULSE_DATA_DIR": str(self.data_dir), "PYTHONPATH": str(ROOT)})
        self._spawn("receiver", ["serve", "--port", str(self.port)], env)
        wait_http(self.url + "/healthz", self.procs["receiver"], timeout=60)
        self._asana_webhook()
        self._spawn("poller", ["poll"], env)
        self._spawn("informer", ["informer"], env)
        self.traffic = Traffic(self.url, self.data_dir, self.world.env(), self.pace)
        self.traffic.start()
        self.say(
            f"receiver, poller and informer started in {time.monotonic() - started:.1f} s; "
            f"logs in {self.data_dir}/*.log"
        )
        self.say(f"status page: {self.url}/status   (Ctrl-C stops everything)")
        self.say(
            f"your own commands against the fakes: env $(cat {self._shown(self.data_dir / 'env')}) "
            ".venv/bin/orgpulse poll --once --only github"
        )

    @staticmethod
    def _shown(path: Path) -> str:
        """A path as typed from the project's root, where `make demo` runs."""
        try:
            return str(path.resolve().relative_to(ROOT))
        except ValueError:
            return str(path)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - the child holds it
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "orgpulse.cli", *args],
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _asana_webhook(self) -> None:
        """As `orgpulse asana webhooks create` does: arm the name, have Asana (the fake) create
        the webhook, which performs the handshake against the receiver."""
        from receiver import secretstore
        from receiver.sources.asana import admin

        env = self.world.env()
        admin.create(
            secretstore.FileStore(self.data_dir),
            env["ASANA_ACCESS_TOKEN"],
            env["ASANA_BASE_URL"],
            "engineering",
            "1900",
            self.url,
            ["task", "story:added"],
        )

    def status(self) -> dict:
        with urllib.request.urlopen(self.url + "/status.json", timeout=5) as response:
            return json.loads(response.read())

    def wait(self, started: float) -> None:
        """Until stop(): the cluster keeps moving; says once when every section is populated."""
        rng, populated, ticks = random.Random(11), False, 0
        while not self.stopping.wait(1.0):
            ticks += 1
            if ticks % 6 == 0:
                self.world.tick(rng)
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                self.say(f"{', '.join(dead)} exited; see {self.data_dir}/{dead[0]}.log")
                return
            if not populated and not missing(self.status()):
                populated = True
                self.say(f"every section populated {time.monotonic() - started:.1f} s after start: {self.url}/status")

    def stop(self) -> None:
        self.stopping.set()
        if self.traffic is not None:
            self.traffic.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.world is not None:
            self.world.close()
        sent = sum(self.traffic.sent.values()) if self.traffic else 0
        self.say(f"stopped: {sent} deliveries sent; every process it started has exited")
