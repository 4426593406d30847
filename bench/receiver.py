"""HTTP benchmark: orgpulse's receiver vs a bare Flask app on the same gunicorn settings.

Three apps — bare_app.py, floor_app.py (verify + parse only) and orgpulse —
run under a real gunicorn on loopback (receiver/server/gunicorn_conf.py), fed the
same signed real GitHub deliveries with distinct delivery ids; orgpulse is
then measured again on signed Asana and W&B deliveries. Prints, for each:
requests/s at saturation (wrk, bounded in time and count), p50/p99 latency at
a fixed 200 requests/s (an open-loop generator that measures from the
scheduled send time), worker RSS and cold start; then the throughput ratio.
Goals: ratio >= 0.7, p99 <= 20 ms at 200 req/s, RSS <= 80 MB, cold start <= 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from payloads import (
    ASANA_SECRET,
    ASANA_WEBHOOK,
    ROOT,
    SECRET,
    WANDB_TOKEN,
    asana_bodies,
    mix,
    wandb_bodies,
)

from receiver import secretstore
from receiver.sources import asana
from receiver.sources.github import signature
from tests.support.servers import clean_env, free_port, stop, wait_http


class Drain:
    """A UDP 'Agent' that reads and counts datagrams, so the kernel never drops them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.datagrams = 0
        self.running = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while self.running:
            try:
                self.sock.recv(65536)
                self.datagrams += 1
            except OSError:
                pass


# On a machine with >= 2 cores the server and the load generator get one core
# each, so the figures compare the apps and not the scheduler's mood.
PINNED = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
SERVER_CPU, CLIENT_CPU = sorted(os.sched_getaffinity(0))[:2] if PINNED else (None, None)


def _pin(cpu):
    return (lambda: os.sched_setaffinity(0, {cpu})) if PINNED else None


def start(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "receiver/server/gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=ROOT,
        env=clean_env({**env, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_pin(SERVER_CPU),
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    return proc, url, time.perf_counter() - began


def worker_memory_mb(master: int) -> tuple[float, float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    field = lambda k: int(re.search(rf"{k}:\s+(\d+) kB", status).group(1)) / 1024  # noqa: E731
    return field("VmRSS"), field("VmHWM")


def write_listing(directory: Path, name: str, deliveries) -> Path:
    """The wrk list file for deliveries [(path, headers, body)]."""
    lines = []
    for i, (path, headers, body) in enumerate(deliveries):
        file = directory / f"{name}-{i}.json"
        file.write_bytes(body)
        lines.append("\t".join([path, str(file), *(f"{k}: {v}" for k, v in headers.items())]))
    listing = directory / f"{name}.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def wrk(url: str, listing: Path, seconds: int, max_requests: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench/wrk_mix.lua"),
            url,
            "--",
            str(listing),
            str(max_requests),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        preexec_fn=_pin(CLIENT_CPU),
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "non2xx": int(bad.group(1)) if bad else 0}


def fixed_rate(url: str, deliveries, rate: int, seconds: float, threads: int = 8) -> list[float]:
    """Open loop: request k is due at start + k/rate; latency counts from that due time."""
    host, port = url.removeprefix("http://").split(":")
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = []
    lock = threading.Lock()
    next_k = [0]

    def run():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while True:
            with lock:
                k = next_k[0]
                next_k[0] += 1
            if k >= total:
                return
            due = start + k / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            path, headers, body = deliveries[k % len(deliveries)]
            if path == "/webhooks/github":
                headers = {**headers, "X-GitHub-Delivery": f"fixed-{os.getpid()}-{k}-{start}"}
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            done = time.perf_counter()
            with lock:
                latencies.append(done - due)
                if response.status >= 300:
                    errors.append(response.status)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"{len(errors)} non-2xx responses at fixed rate: {errors[:5]}")
    return sorted(latencies)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def deliveries_by_source(n: int) -> dict[str, list]:
    github = [
        (
            "/webhooks/github",
            {
                "X-GitHub-Event": event,
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(SECRET.encode(), body),
            },
            body,
        )
        for event, body in mix()
    ]
    asana_path = f"/webhooks/asana/{ASANA_WEBHOOK}"
    return {
        "github": github,
        "asana": [
            (
                asana_path,
                {"X-Hook-Signature": asana.signature(ASANA_SECRET.encode(), body), "Content-Type": "application/json"},
                body,
            )
            for body in asana_bodies(n)
        ],
        "wandb": [
            ("/webhooks/wandb", {"Authorization": f"Bearer {WANDB_TOKEN}", "Content-Type": "application/json"}, body)
            for body in wandb_bodies(n)
        ],
    }


def measure(app: str, env: dict, deliveries: list, listing: Path, args) -> dict:
    proc, url, cold = start(app, env)
    try:
        fixed_rate(url, deliveries[:100], 100, 1.0)  # warm up
        latencies = fixed_rate(url, deliveries[100:] or deliveries, 200, args.seconds)
        sat = wrk(url, listing, args.seconds, args.max_requests)
        rss, peak = worker_memory_mb(proc.pid)
    finally:
        stop(proc)
    return {
        "rps": sat["rps"],
        "non2xx": sat["non2xx"],
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "n": len(latencies),
        "rss": rss,
        "peak": peak,
        "cold": cold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per phase (bounded)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="wrk cap per run")
    parser.add_argument(
        "--workers",
        nargs="*",
        default=[],
        metavar="CLASS",
        help="also measure orgpulse (GitHub mix) under these gunicorn worker "
        "classes, e.g. gthread receiver.server.worker.BufferingWorker",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/receiver.py needs wrk (apt-get install wrk)")
    if PINNED:
        os.sched_setaffinity(0, {CLIENT_CPU})  # the fixed-rate generator and the drain
    drain = Drain()
    tmp = Path(tempfile.mkdtemp(prefix="orgpulse-bench-"))
    # Distinct bodies for the sources deduplicated by content: enough that the
    # fixed-rate phase never repeats one; wrk cycles through them (a repeat is
    # answered as a duplicate, which is cheaper: the figure is then flattering).
    by_source = deliveries_by_source(200 * args.seconds + 100)
    listings = {name: write_listing(tmp, name, items) for name, items in by_source.items()}
    secretstore.complete_handshake(secretstore.FileStore(tmp / "data"), ASANA_WEBHOOK, ASANA_SECRET)
    env = {
        "DD_DOGSTATSD_URL": f"udp://127.0.0.1:{drain.sock.getsockname()[1]}",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "WANDB_WEBHOOK_TOKEN": WANDB_TOKEN,
        "ORGPULSE_DATA_DIR": str(tmp / "data"),
    }

    runs = [
        ("bare flask", "bare_app:create_app()", "github"),
        ("floor", "floor_app:create_app()", "github"),
        ("orgpulse", "receiver:create_app()", "github"),
        ("orgpulse", "receiver:create_app()", "asana"),
        ("orgpulse", "receiver:create_app()", "wandb"),
    ]
    results = {}
    for name, app, source in runs:
        r = measure(app, env, by_source[source], listings[source], args)
        results[(name, source)] = r["rps"]
        print(
            f"{name:<10} {source:<6} {r['rps']:7,.0f} req/s (wrk -t1 -c16, {r['non2xx']} non-2xx) | "
            f"at 200 req/s: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms ({r['n']} requests) | "
            f"worker RSS {r['rss']:.0f} MB (peak {r['peak']:.0f}) | cold start {r['cold']:.2f} s"
        )
    for worker in args.workers:  # the same app and load under another worker model
        r = measure(
            "receiver:create_app()",
            {**env, "GUNICORN_CMD_ARGS": f"-k {worker}"},
            by_source["github"],
            listings["github"],
            args,
        )
        print(
            f"orgpulse under -k {worker}: {r['rps']:,.0f} req/s | at 200 req/s: p50 "
            f"{r['p50']:.2f} ms, p99 {r['p99']:.2f} ms | worker RSS {r['rss']:.0f} MB"
        )
    bare = results[("bare flask", "github")]
    print(
        f"throughput ratio orgpulse / bare flask (GitHub mix): "
        f"{results[('orgpulse', 'github')] / bare:.2f}  (goal >= 0.7); "
        f"floor (verify + parse only) / bare flask: {results[('floor', 'github')] / bare:.2f}"
    )
    print(f"metrics datagrams received by the drain: {drain.datagrams:,}")
    print(
        f"server pinned to CPU {SERVER_CPU}, load generator to CPU {CLIENT_CPU}"
        if PINNED
        else "not pinned (fewer than 2 CPUs)"
    )
    print(
        "GitHub mix: "
        + ", ".join(f"{h['X-GitHub-Event']} {len(b) // 1024} KB" for _, h, b in by_source["github"])
        + f"; Asana: 3-event deliveries, {len(by_source['asana'][0][2])} B; "
        f"W&B: rendered templates, ~{len(by_source['wandb'][0][2])} B"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
