"""Fuzz outcomes: mutated, correctly signed deliveries of every source, and what became
of them. The mutations are tests/support/fuzzing.py's (the Hypothesis suite's), drawn here by a
seeded random.Random so a run is repeatable; each delivery goes through the in-process
receiver (tests/support/inprocess.py) and is checked as the suite checks it. Printed per source:
deliveries, answers by status and result, and problems (5xx, a metric from a refused
delivery, a tag value out of bounds — all must be 0).

    .venv/bin/python bench/fuzz.py [--github 40000] [--asana 3000] [--wandb 3000] [--seed 15]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fuzzing import (  # noqa: E402
    KINDS,
    SWAPS,
    apply,
    asana_corpus,
    fuzz_options,
    github_corpus,
    problems,
    wandb_corpus,
)
from tests.support.inprocess import Receiver  # noqa: E402


def value(rng: random.Random):
    pick = rng.randrange(4)
    if pick == 0:
        return rng.choice(SWAPS)
    if pick == 1:
        return "".join(rng.choice(string.printable + "éß漢字🙂\u200b") for _ in range(rng.randrange(60)))
    if pick == 2:
        return rng.randrange(-(2**63), 2**64)
    return rng.uniform(-1e300, 1e300)


def ops(rng: random.Random) -> list[tuple]:
    return [(rng.choice(KINDS), rng.randrange(10**6), value(rng)) for _ in range(rng.randint(1, 4))]


def run(name: str, count: int, send, rng, rx, seen) -> None:
    outcomes, broken = Counter(), []
    began = time.perf_counter()
    for _ in range(count):
        response = send(rng)
        result = response.json.get("result", "?") if response.is_json else "not json"
        outcomes[f"{response.status_code} {result}"] += 1
        broken += problems(response.status_code, rx.lines(), seen)
    seconds = time.perf_counter() - began
    print(
        f"{name}: {count:,} deliveries in {seconds:.0f} s; problems: {len(broken)}"
        + (f" (first: {broken[0]})" if broken else "")
    )
    print("  " + ", ".join(f"{k}: {v:,}" for k, v in sorted(outcomes.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--github", type=int, default=40000)
    parser.add_argument("--asana", type=int, default=3000)
    parser.add_argument("--wandb", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="orgpulse-fuzz-"))
    rx = Receiver(tmp / "data", {**fuzz_options(tmp), "ORGPULSE_LOG_LEVEL": "ERROR"})
    seen: dict = {}
    github = [(e, orjson.dumps(p), handled) for e, p, handled in github_corpus()]
    handled = [x for x in github if x[2]]
    asana, wandb = [orjson.dumps(x) for x in asana_corpus()], [orjson.dumps(x) for x in wandb_corpus()]

    def send_github(rng):
        event, body, _ = rng.choice(handled if rng.random() < 0.7 else github)
        return rx.github(apply(orjson.loads(body), ops(rng)), event)

    run("GitHub (70% handled events)", args.github, send_github, rng, rx, seen)
    run("Asana", args.asana, lambda rng: rx.asana(apply(orjson.loads(rng.choice(asana)), ops(rng))), rng, rx, seen)
    run("W&B", args.wandb, lambda rng: rx.wandb(apply(orjson.loads(rng.choice(wandb)), ops(rng))), rng, rx, seen)


if __name__ == "__main__":
    main()
