"""Soak: worker RSS under mixed hostile and normal traffic, for --minutes (default 10).

A real gunicorn serves the receiver (receiver/server/gunicorn_conf.py) on loopback with a UDP
drain as the Agent. Sender threads post, at --rate deliveries/s in all, a mix of:
normal signed GitHub deliveries (octokit's examples, distinct ids), Asana and W&B ones;
signed 1 MB bodies; values nested 1,000 deep; wrongly typed fields; unknown event
names; 1 MB bodies with a bad signature; malformed chunked framing; bodies over the
size limit; Asana batches with a malformed event. Every --sample seconds the worker's
RSS is read from /proc; printed: RSS each minute, after warm-up and at the end, and
how many answers were 2xx / 4xx / 5xx (5xx must be 0). The dedup cache is kept small
(--dedup-entries) so that it is full after warm-up: it is the one memory that grows by
design until its cap (100,000 entries by default ≈ 27 MB, bench/handlers.py).

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from receiver import secretstore  # noqa: E402
from receiver.sources import asana  # noqa: E402
from tests.conftest import GITHUB, SECRET, github_headers  # noqa: E402
from tests.support.servers import start_gunicorn, stop  # noqa: E402

ASANA_SECRET, WANDB_TOKEN, LIMIT = "soak-asana-secret", "soak-wandb-token", 5 * 1024 * 1024
NORMAL = [(p.parent.name, p.read_bytes()) for p in sorted(GITHUB.rglob("*.json"))]
DEEP = "[" * 1000 + "1" + "]" * 1000


def github(event: str, body: bytes, secret: str = SECRET) -> tuple:
    return ("/webhooks/github", github_headers(body, event, secret=secret), body)


def big_pr() -> tuple:
    pr = json.loads((GITHUB / "pull_request/closed.payload.json").read_text())
    pr["pull_request"]["body"] = uuid.uuid4().hex * 32768  # 1 MB of text
    return github("pull_request", json.dumps(pr).encode())


def deep_value() -> tuple:
    event, body = random.choice(NORMAL)
    text = body.decode()
    key = random.choice(['"full_name": ', '"name": ', '"login": ', '"merged_at": '])
    if key in text:
        start = text.index(key) + len(key)
        end = text.index(",", start)
        text = text[:start] + DEEP + text[end:]
    return github(event, text.encode())


def wrong_types() -> tuple:
    event, body = random.choice(NORMAL)
    payload = json.loads(body)
    for key in list(payload)[:3]:
        payload[key] = random.choice([1e20, [], "x", None, {"a": [1]}, 253402300800])
    return github(event, json.dumps(payload).encode())


def asana_body(events: list, extra: str = "") -> tuple:
    text = json.dumps({"events": events})
    body = (text[:-2] + ", " + extra + "]}" if extra else text).encode()
    return (
        "/webhooks/asana/soak",
        {"X-Hook-Signature": asana.signature(ASANA_SECRET.encode(), body), "Content-Type": "application/json"},
        body,
    )


def wandb_body() -> tuple:
    body = json.dumps(
        {
            "event_type": "RUN_STATE",
            "entity": "e",
            "project": "p",
            "run_state": random.choice(["failed", "finished"]),
            "nonce": uuid.uuid4().hex,
        }
    ).encode()
    return ("/webhooks/wandb", {"Authorization": f"Bearer {WANDB_TOKEN}"}, body)


TASK = {"action": "deleted", "resource": {"gid": "1201", "resource_type": "task"}}
MIX = [  # (weight, make a delivery; "chunked" and "oversize" are raw-socket kinds)
    (50, lambda: github(*random.choice(NORMAL))),
    (8, lambda: asana_body([dict(TASK, nonce=uuid.uuid4().hex)])),
    (8, wandb_body),
    (8, big_pr),
    (6, deep_value),
    (6, wrong_types),
    (4, lambda: github("".join(random.choices("abcdefgh/._", k=40)), random.choice(NORMAL)[1])),
    (4, lambda: github("pull_request", big_pr()[2], secret="forged")),
    (3, lambda: asana_body([TASK, {"action": [], "resource": 1, "n": uuid.uuid4().hex}], DEEP)),
    (2, lambda: "chunked"),
    (1, lambda: "oversize"),
]


def raw(address, kind: str) -> int:
    """Protocol abuse over a raw socket; returns the status answered (0: none)."""
    try:
        return _raw(address, kind)
    except OSError:
        return 0


def _raw(address, kind: str) -> int:
    with socket.create_connection(address, timeout=10) as sock:
        if kind == "chunked":
            sock.sendall(
                b"POST /webhooks/github HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked"
                b"\r\nX-GitHub-Event: push\r\n\r\nzz\r\nxx\r\n"
            )
        else:
            sock.sendall(
                b"POST /webhooks/github HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1) + b"x" * 65536
            )
        sock.shutdown(socket.SHUT_WR)
        match = re.match(rb"HTTP/1\.1 (\d{3})", sock.recv(100))
        return int(match.group(1)) if match else 0


def sender(address, rate: float, until: float, counts: Counter, lock) -> None:
    conn = http.client.HTTPConnection(*address, timeout=30)
    weights = [w for w, _ in MIX]
    next_at = time.monotonic()
    while (now := time.monotonic()) < until:
        time.sleep(max(0.0, next_at - now))
        next_at += 1 / rate
        made = random.choices(MIX, weights)[0][1]()
        if isinstance(made, str):
            status = raw(address, made)
        else:
            path, headers, body = made
            if "X-GitHub-Delivery" in headers:
                headers = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
            try:
                conn.request("POST", path, body, headers)
                reply = conn.getresponse()
                reply.read()
                status = reply.status
            except (OSError, http.client.HTTPException):
                status, conn = 0, http.client.HTTPConnection(*address, timeout=30)
        with lock:
            counts[f"{status // 100}xx" if status else "connection error"] += 1


def worker_rss(master: int) -> float:
    child = Path(f"/proc/{master}/task/{master}/children").read_text().split()[0]
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{child}/status").read_text()).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=100, help="deliveries per second in all")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=2.0, help="minutes")
    parser.add_argument(
        "--dedup-entries",
        type=int,
        default=10_000,
        help="receiver.dedup_max_entries: small, so the cache is full after warm-up",
    )
    args = parser.parse_args()
    drain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    drain.bind(("127.0.0.1", 0))
    threading.Thread(target=lambda: [drain.recv(65536) for _ in iter(int, 1)], daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="orgpulse-soak-"))
    secretstore.complete_handshake(secretstore.FileStore(tmp / "data"), "soak", ASANA_SECRET)
    config = tmp / "orgpulse.json"
    config.write_text(json.dumps({"receiver": {"dedup_max_entries": args.dedup_entries}}))
    env = {
        "DD_DOGSTATSD_URL": f"udp://127.0.0.1:{drain.getsockname()[1]}",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "WANDB_WEBHOOK_TOKEN": WANDB_TOKEN,
        "ORGPULSE_DATA_DIR": str(tmp / "data"),
        "ORGPULSE_MAX_BODY_BYTES": str(LIMIT),
        "ORGPULSE_LOG_LEVEL": "ERROR",
        "ORGPULSE_CONFIG": str(config),
    }
    proc, url = start_gunicorn(env, tmp)
    address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    counts, lock = Counter(), threading.Lock()
    began = time.monotonic()
    until = began + args.minutes * 60
    threads = [
        threading.Thread(target=sender, args=(address, args.rate / args.senders, until, counts, lock))
        for _ in range(args.senders)
    ]
    for t in threads:
        t.start()
    samples = [(0.0, worker_rss(proc.pid))]
    while time.monotonic() < until:
        time.sleep(args.sample)
        samples.append(((time.monotonic() - began) / 60, worker_rss(proc.pid)))
    for t in threads:
        t.join()
    stop(proc)
    print(
        f"{args.minutes:g} min at {args.rate:g} deliveries/s, {sum(counts.values()):,} requests: "
        + ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items(), key=str))
    )
    print(
        "worker RSS by minute (MB): "
        + ", ".join(f"{m:.0f}:{rss:.0f}" for m, rss in samples if abs(m - round(m)) < args.sample / 120)
    )
    after = [rss for m, rss in samples if m >= args.warmup]
    print(
        f"start {samples[0][1]:.0f} MB, after {args.warmup:g} min warm-up {after[0]:.0f} MB, "
        f"end {samples[-1][1]:.0f} MB, max {max(r for _, r in samples):.0f} MB; "
        f"growth after warm-up {samples[-1][1] - after[0]:+.0f} MB (dedup cache: "
        f"{args.dedup_entries:,} entries, full after warm-up; each entry ~280 B)"
    )


if __name__ == "__main__":
    main()
