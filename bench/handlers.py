"""In-process throughput: verify + parse + dedup + handle + emit, one thread, one core.

Prints deliveries/s for a 28 KB merged pull_request delivery (goal >= 5,000/s),
the JSON parsers compared on that body, and the dedup cache's memory per entry.
Metrics go to a real UDP socket on loopback (nothing reads it: like an Agent
that is keeping up, the send is a non-blocking sendto).
"""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
import uuid

import orjson
from payloads import SECRET, merged_pr

from orgpulse import config, options
from orgpulse.emit import DogStatsdSink, Emitter
from receiver.dedup import Dedup
from receiver.envelope import Envelope
from receiver.sources.github import GithubSource, signature
from receiver.sources.github.context import GithubContext

N = 20_000


def per_second(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    sink_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink_sock.bind(("127.0.0.1", 0))
    host, port = sink_sock.getsockname()
    settings = config.load(
        {"DD_DOGSTATSD_URL": f"udp://{host}:{port}", "GITHUB_WEBHOOK_SECRET": SECRET, "ORGPULSE_LOG_LEVEL": "WARNING"}
    )
    envelope = Envelope(Emitter(DogStatsdSink(settings)), Dedup(72 * 3600, 100_000))
    source = GithubSource(settings.github_secrets, GithubContext.from_options({}))
    body = merged_pr()
    base = {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": signature(SECRET.encode(), body)}
    headers = [{**base, "X-GitHub-Delivery": str(uuid.uuid4())} for _ in range(N)]

    def deliver(i: int) -> None:
        outcome = envelope.process(source, "/webhooks/github", headers[i], body)
        assert outcome.status == 200, outcome.result

    deliver(0)  # warm up; the id is then a duplicate, so start from 1
    rate = per_second(lambda i: deliver(i + 1), N - 1)
    print(f"payload: pull_request closed+merged, {len(body):,} bytes, 5 source metrics + 4 own")
    print(f"in-process deliveries/s (verify+parse+dedup+handle+emit): {rate:,.0f}  (goal >= 5,000)")

    for name, parse in (("orjson.loads", orjson.loads), ("json.loads", json.loads)):
        print(f"  parse only, {name:<12}: {per_second(lambda i, parse=parse: parse(body), 5000):,.0f}/s")

    tracemalloc.start()
    dedup = Dedup(72 * 3600, 100_000)
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):
        dedup.claim(f"github:{uuid.UUID(int=i)}")
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / 100_000
    tracemalloc.stop()
    default = options.SCHEMA["receiver"]["dedup_max_entries"].default
    print(
        f"dedup cache: {per_entry:.0f} bytes per remembered delivery "
        f"({per_entry * default / 2**20:.0f} MiB at the default {default:,} entries)"
    )


if __name__ == "__main__":
    main()
