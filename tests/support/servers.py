"""Real processes on loopback for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {output(proc)[1]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: only what a process needs plus `extra`, none of
    the Datadog/orgpulse variables of the shell that runs the tests."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")}
    return {**keep, **extra}


def start_gunicorn(
    env: dict[str, str], cwd: Path, app: str = "receiver:create_app()", extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "receiver" / "server" / "gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            *extra_args,
            app,
        ],
        cwd=cwd,
        env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    drain(proc)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    return proc, url


def drain(proc: subprocess.Popen) -> None:
    """Read the server's stdout and stderr as it writes them: a pipe nobody reads fills
    after 64 KiB and then blocks the server's next log line (and its request)."""
    proc.captured = ([], [])
    proc.drains = [
        threading.Thread(target=lambda s=stream, into=into: into.extend(s), daemon=True)
        for stream, into in ((proc.stdout, proc.captured[0]), (proc.stderr, proc.captured[1]))
    ]
    for thread in proc.drains:
        thread.start()


def output(proc: subprocess.Popen, timeout: float = 5.0) -> tuple[str, str]:
    """(stdout, stderr) of a process that has exited (drained, or with its own pipes)."""
    if not hasattr(proc, "drains"):
        return tuple(s.read() if s else "" for s in (proc.stdout, proc.stderr))
    for thread in proc.drains:
        thread.join(timeout)
    return "".join(proc.captured[0]), "".join(proc.captured[1])


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if hasattr(proc, "captured"):
        return output(proc)
    return proc.communicate()


class RedisServer:
    """A real redis-server on loopback (no persistence), which tests can stop, restart on
    the same port, or freeze (SIGSTOP: a Redis that accepts but never answers)."""

    def __init__(self, executable: str, directory: Path):
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def thaw_and_start(self) -> None:
        """Running and answering again, whatever a test did to it."""
        if self.proc is None:
            self.start()
        else:
            self.thaw()
