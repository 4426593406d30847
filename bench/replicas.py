"""Replica dedup: redeliveries that land on the other replica, with and without Redis.

Two real gunicorn receivers (replicas A and B) run on loopback. --deliveries distinct
signed deliveries (GitHub with delivery ids; Asana bodies, which have none) go to A, then
every one is delivered again to B — a GitHub redelivery or an Asana retry routed to the
other pod. Run with receiver.dedup_backend memory (each replica alone) and redis (one
real redis-server). Then, with redis, the Redis process is stopped part way through a
stream of deliveries and started again after another third: printed are the answers
during the outage, the slowest answer, and what the receiver counted
(orgpulse.receiver.dedup_fallbacks): one error, then each delivery until Redis is asked
again (RETRY_AFTER seconds later) as skipped, and none once it answers.

    .venv/bin/python bench/replicas.py [--deliveries 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
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
from receiver.dedup import RETRY_AFTER  # noqa: E402
from receiver.sources import asana  # noqa: E402
from tests.conftest import GITHUB, SECRET, github_headers  # noqa: E402
from tests.support.servers import RedisServer, start_gunicorn, stop  # noqa: E402

PR = (GITHUB / "pull_request/opened.payload.json").read_bytes()
ASANA_SECRET = "bench-asana-secret"


class Drain:
    """A UDP Agent that counts the dedup fallbacks reported, by reason."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.fallbacks: Counter = Counter()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            for line in self.sock.recv(65536).decode().splitlines():
                if line.startswith("orgpulse.receiver.dedup_fallbacks:"):
                    reason = line.split("reason:")[1].split(",")[0].split("|")[0]
                    self.fallbacks[reason] += int(float(line.split(":")[1].split("|")[0]))


def deliveries(n: int) -> list[tuple[str, dict, bytes]]:
    out = []
    for i in range(n):
        if i % 2:
            body = json.dumps(
                {"events": [{"action": "deleted", "resource": {"gid": str(10**9 + i), "resource_type": "task"}}]}
            ).encode()
            out.append(
                ("/webhooks/asana/bench", {"X-Hook-Signature": asana.signature(ASANA_SECRET.encode(), body)}, body)
            )
        else:
            out.append(("/webhooks/github", github_headers(PR, "pull_request", str(uuid.uuid4())), PR))
    return out


def post(conn: http.client.HTTPConnection, item) -> tuple[int, str, float]:
    path, headers, body = item
    began = time.perf_counter()
    conn.request("POST", path, body, headers)
    reply = conn.getresponse()
    result = json.loads(reply.read()).get("result", "")
    return reply.status, result, time.perf_counter() - began


def replica(tmp: Path, name: str, backend: str, drain: Drain, redis_url: str | None):
    data = tmp / name
    secretstore.complete_handshake(secretstore.FileStore(data), "bench", ASANA_SECRET)
    config = tmp / f"{name}.json"
    config.write_text(json.dumps({"receiver": {"dedup_backend": backend}}))
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "ORGPULSE_DATA_DIR": str(data),
        "ORGPULSE_CONFIG": str(config),
        "ORGPULSE_LOG_LEVEL": "ERROR",
        "DD_DOGSTATSD_URL": f"udp://127.0.0.1:{drain.sock.getsockname()[1]}",
        **({"ORGPULSE_REDIS_URL": redis_url} if redis_url else {}),
    }
    proc, url = start_gunicorn(env, tmp)
    return proc, http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)


def redeliveries(tmp: Path, backend: str, n: int, drain: Drain, redis_url: str | None) -> Counter:
    (a, conn_a), (b, conn_b) = (replica(tmp, x, backend, drain, redis_url) for x in "ab")
    items = deliveries(n)
    first = Counter(post(conn_a, item)[1] for item in items)
    again = Counter(post(conn_b, item)[1] for item in items)
    stop(a), stop(b)
    return first, again


def outage(tmp: Path, n: int, drain: Drain, redis: RedisServer) -> None:
    drain.fallbacks.clear()
    proc, conn = replica(tmp, "outage", "redis", drain, redis.url)
    items = deliveries(n)
    answers = []
    for i, item in enumerate(items):
        if i == n // 3:
            redis.stop()
        if i == 2 * n // 3:
            redis.start()
            time.sleep(RETRY_AFTER + 0.5)  # the receiver asks Redis again after this
        answers.append(post(conn, item))
    time.sleep(0.5)  # the emitter flushes every 0.3 s
    stop(proc)
    during = Counter(f"{s} {r}" for s, r, _ in answers[n // 3 : 2 * n // 3])
    slowest = max(t for _, _, t in answers) * 1000
    print(
        f"Redis stopped for deliveries {n // 3}–{2 * n // 3} of {n}: answers meanwhile "
        + ", ".join(f"{k}: {v}" for k, v in sorted(during.items()))
        + f"; slowest answer of the run {slowest:.0f} ms; fallbacks counted: "
        + ", ".join(f"{k} {v}" for k, v in sorted(drain.fallbacks.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    args = parser.parse_args()
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("bench/replicas.py needs redis-server (apt-get install redis-server)")
    tmp = Path(tempfile.mkdtemp(prefix="orgpulse-replicas-"))
    drain, redis = Drain(), RedisServer(executable, tmp)
    try:
        for backend in ("memory", "redis"):
            first, again = redeliveries(tmp / backend, backend, args.deliveries, drain, redis.url)
            counted_twice = again["accepted"]
            print(
                f"dedup_backend {backend:<6}: {args.deliveries:,} deliveries to replica A "
                f"({dict(first)}), then each again to replica B ({dict(again)}): "
                f"{counted_twice:,} counted twice"
            )
        outage(tmp / "outage", args.deliveries, drain, redis)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
