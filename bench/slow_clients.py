"""Slow clients: does a normal delivery get through while many connections trickle in?

For each candidate worker model a real gunicorn (receiver/server/gunicorn_conf.py, overridden
with -k / --threads) serves the receiver on loopback. --slow connections open and send
their request at 1 byte/s — half stuck in their headers, half in their body, as anyone on
the internet can — and, once they are all sending, --deliveries normal signed GitHub
deliveries are posted one after another (each waits at most --patience seconds).
Printed per candidate: the deliveries' latency (p50, max, how many never got an answer),
what the slow connections got (408s and when, from their first byte), and worker RSS.

    .venv/bin/python bench/slow_clients.py [--slow 100] [--deliveries 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import GITHUB, github_headers  # noqa: E402
from tests.support.servers import start_gunicorn, stop  # noqa: E402

BODY = (GITHUB / "pull_request/opened.payload.json").read_bytes()
CANDIDATES = [  # (label, extra gunicorn arguments)
    ("gthread, 8 threads (before)", ("-k", "gthread", "--threads", "8")),
    ("gthread, 128 threads", ("-k", "gthread", "--threads", "128")),
    ("BufferingWorker, 8 threads", ("-k", "receiver.server.worker.BufferingWorker", "--threads", "8")),
]


def request_bytes() -> bytes:
    headers = github_headers(BODY, "pull_request")
    lines = ["POST /webhooks/github HTTP/1.1", "Host: bench", f"Content-Length: {len(BODY)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY


class Trickle:
    """--slow connections, each sent 1 byte per second from one thread; notes when (and
    with what status) the server answers or closes each one."""

    def __init__(self, address, count: int):
        self.socks, self.data, self.sent, self.started, self.ended = [], [], [], [], {}
        self.selector = selectors.DefaultSelector()
        data = request_bytes()
        for i in range(count):
            sock = socket.create_connection(address)
            sock.setblocking(False)
            # Even connections are slow in their body: headers and 200 bytes go at once.
            # Odd ones are slow in their headers: everything goes 1 byte/s.
            first = data.index(b"\r\n\r\n") + 204 if i % 2 == 0 else 1
            self.sent.append(sock.send(data[:first]))
            self.socks.append(sock)
            self.data.append(data)
            self.started.append(time.monotonic())
            self.selector.register(sock, selectors.EVENT_READ, i)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while self.running:
            for key, _ in self.selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                self._answered(key.data, key.fileobj)
            if time.monotonic() >= next_tick:
                next_tick += 1.0
                for i, sock in enumerate(self.socks):
                    if i not in self.ended and self.sent[i] < len(self.data[i]) - 1:
                        try:
                            self.sent[i] += sock.send(self.data[i][self.sent[i] : self.sent[i] + 1])
                        except OSError:
                            self._answered(i, sock)

    def _answered(self, i: int, sock) -> None:
        try:
            head = sock.recv(4096)
        except OSError:
            head = b""
        match = re.match(rb"HTTP/1\.1 (\d{3})", head)
        self.ended[i] = (match.group(1).decode() if match else "closed", time.monotonic() - self.started[i])
        self.selector.unregister(sock)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        for sock in self.socks:
            sock.close()


def deliveries(address, count: int, patience: float) -> list[float | None]:
    out = []
    for _ in range(count):
        conn = http.client.HTTPConnection(*address, timeout=patience)
        began = time.perf_counter()
        try:
            conn.request("POST", "/webhooks/github", BODY, github_headers(BODY, "pull_request"))
            reply = conn.getresponse()
            reply.read()
            out.append(time.perf_counter() - began if reply.status == 200 else None)
        except OSError:
            out.append(None)
        conn.close()
    return out


def rss_mb(master: int) -> float:
    child = Path(f"/proc/{master}/task/{master}/children").read_text().split()[0]
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{child}/status").read_text()).group(1)) / 1024


def measure(args, extra: tuple[str, ...], tmp: Path) -> dict:
    config = tmp / "orgpulse.json"
    config.write_text(json.dumps({"receiver": {"request_deadline_seconds": args.deadline}}))
    env = {
        "GITHUB_WEBHOOK_SECRET": "It's a Secret to Everybody",
        "ORGPULSE_SINK": "log",
        "ORGPULSE_LOG_LEVEL": "ERROR",
        "ORGPULSE_DATA_DIR": str(tmp / "data"),
        "ORGPULSE_CONFIG": str(config),
    }
    proc, url = start_gunicorn(env, tmp, extra_args=("--worker-connections", "1000", *extra))
    address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    trickle = Trickle(address, args.slow)
    time.sleep(2.5)  # every slow connection has sent its first bytes
    latencies = deliveries(address, args.deliveries, args.patience)
    time.sleep(max(0.0, args.deadline + 2 - (time.monotonic() - trickle.started[-1])))
    rss = rss_mb(proc.pid)
    trickle.close()
    stop(proc)
    return {"latencies": latencies, "ended": dict(trickle.ended), "rss": rss}


def report(label: str, r: dict, args) -> None:
    done = sorted(x for x in r["latencies"] if x is not None)
    lost = len(r["latencies"]) - len(done)
    lat = f"p50 {done[len(done) // 2] * 1000:.1f} ms, max {done[-1] * 1000:.1f} ms" if done else "none answered"
    timeouts = sorted(t for status, t in r["ended"].values() if status == "408")
    slow = (
        f"{len(timeouts)}/{args.slow} got 408, {timeouts[0]:.1f}–{timeouts[-1]:.1f} s after their first byte"
        if timeouts
        else f"0/{args.slow} got 408"
    )
    print(
        f"{label:<30} deliveries: {lat}, {lost}/{len(r['latencies'])} unanswered within "
        f"{args.patience:.0f} s | slow connections: {slow} | worker RSS {r['rss']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--patience", type=float, default=10.0, help="seconds a delivery waits")
    parser.add_argument("--deadline", type=int, default=10, help="request_deadline_seconds")
    args = parser.parse_args()
    print(
        f"{args.slow} connections sending 1 byte/s ({args.slow // 2} in their headers, "
        f"{args.slow - args.slow // 2} in their body); {args.deliveries} normal deliveries "
        f"(28 KB pull_request) posted one after another meanwhile"
    )
    for label, extra in CANDIDATES:
        with tempfile.TemporaryDirectory() as tmp:
            report(label, measure(args, extra, Path(tmp)), args)


if __name__ == "__main__":
    main()
