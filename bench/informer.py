"""Informer throughput and memory: 10,000 pods, then a churn of 50,000 watch events.

The fake API server (tests/fakes/kube_api.py) runs in a child process on its
own core, so this process holds only the informer, the kubernetes client and
the emitter (metrics go to a real UDP socket nobody reads). Prints list time,
events/s from the first churn event to the cache reflecting the last one, and
this process's peak RSS. Every event is an OOM kill finished in the last 24 h (the worst
case for the informer's memory of kills). Goals: >= 5,000 events/s, <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = r"""
import copy, json, random, sys, threading, time
from http.server import BaseHTTPRequestHandler
sys.path.insert(0, sys.argv[1])
from tests.fakes.kube_api import FakeKube
from tests.support.k8s_pods import pod, container_status, oom
n_pods, n_events = int(sys.argv[2]), int(sys.argv[3])
fake = FakeKube()
namespaces = [f"team-{i}" for i in range(40)]
for i in range(n_pods):
    fake.put(pod(name=f"w{i % 300}-7d9f8b6c5d-{i:05d}", namespace=namespaces[i % 40], uid=f"u{i}",
                 owner=("ReplicaSet", f"w{i % 300}-7d9f8b6c5d")))
fake.compact()
original = FakeKube.dispatch
def dispatch(self, req):
    if req.path == "/bench/churn":  # build every event first, then publish them at once
        rng, restarts, batch, now = random.Random(7), {}, [], time.time()
        for k in range(n_events):
            uid = f"u{rng.randrange(n_pods)}"
            base = copy.deepcopy(fake.objects[uid])
            restarts[uid] = restarts.get(uid, 0) + 1
            killed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - k))
            base["status"]["containerStatuses"] = [container_status("main", restarts[uid], last=oom(killed))]
            batch.append(base)
        with fake.cond:
            for base in batch:
                fake.rv += 1
                base["metadata"]["resourceVersion"] = str(fake.rv)
                fake.objects[base["metadata"]["uid"]] = base
                fake.events.append((fake.rv, "MODIFIED", base))
            fake.cond.notify_all()
        return 200, {}, {"last": str(fake.rv), "restarts": sum(restarts.values())}
    return original(self, req)
FakeKube.dispatch = dispatch
print(fake.url, flush=True)
threading.Event().wait()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=300, help="bound on the whole run")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), str(args.pods), str(args.events)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip()
        run(url, args)
    finally:
        server.kill()


def run(url: str, args) -> None:
    from kubernetes import client

    from orgpulse import config
    from orgpulse.emit import DogStatsdSink, Emitter
    from pollers.kubernetes.informer import Informer

    drain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    drain.bind(("127.0.0.1", 0))
    settings = config.load({"DD_DOGSTATSD_URL": f"udp://127.0.0.1:{drain.getsockname()[1]}"})
    cfg = client.Configuration()
    cfg.host = url
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    informer = Informer(
        client.ApiClient(cfg),
        Emitter(DogStatsdSink(settings)),
        {"watch_timeout_seconds": 300, "gauge_interval_seconds": 3600},
    )
    started = time.perf_counter()
    informer.start()
    deadline = time.monotonic() + args.timeout
    while "" not in informer.synced and time.monotonic() < deadline:
        time.sleep(0.01)
    listed = time.perf_counter() - started
    time.sleep(0.5)  # the watch is open
    begin, first_events = time.perf_counter(), informer.events
    with urllib.request.urlopen(
        urllib.request.Request(url + "/bench/churn", method="POST", data=b""), timeout=args.timeout
    ) as resp:
        churn = json.loads(resp.read())
    while informer.events - first_events < args.events and time.monotonic() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - begin
    processed = informer.events - first_events
    restarts = sum(c.restarts for s in informer.cache.values() for c in s.containers.values())
    informer.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pods listed: {len(informer.cache):,} in {listed:.2f} s (informer start to synced cache)")
    print(
        f"watch events processed: {processed:,} of {args.events:,} in {elapsed:.2f} s "
        f"(from asking the fake to publish them to the cache reflecting the last): "
        f"{processed / elapsed:,.0f} events/s  (goal >= 5,000)"
    )
    print(f"restarts in the cache: {restarts:,} (the churn made {churn['restarts']:,})")
    print(
        f"peak RSS of the informer process: {peak:.0f} MB (before the informer: {rss_before:.0f} MB)  (goal <= 150 MB)"
    )


if __name__ == "__main__":
    main()
