"""The webhook traffic of the demo: the stored deliveries in tests/fixtures (GitHub's octokit
examples, Asana's and W&B's captured and rendered ones), signed as each provider signs
them, posted to the receiver at a realistic pace — a first pass a few a second, then one
every couple of seconds, as an active organisation sends them. One GitHub delivery in
FORGED_EVERY carries a wrong signature, as a stranger's would: the page shows it refused.
"""

from __future__ import annotations

import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from orgpulse.config import Secret
from receiver import replay, secretstore
from receiver.sources.github import HANDLERS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FORGED_EVERY = 40


def first_pass(rng: random.Random) -> list[replay.Delivery]:
    """Every stored delivery: GitHub's events orgpulse handles with one it acknowledges and
    ignores after every two (an organisation's webhook sends both), the Asana and W&B ones
    spread among the first of them."""
    github = list(replay.load([FIXTURES / "github"]))
    handled = [d for d in github if d.headers["X-GitHub-Event"] in HANDLERS]
    ignored = [d for d in github if d.headers["X-GitHub-Event"] not in HANDLERS]
    rng.shuffle(handled)
    rng.shuffle(ignored)
    out = []
    while handled or ignored:
        out += handled[:2] + ignored[:1]
        handled, ignored = handled[2:], ignored[1:]
    others = list(replay.load([FIXTURES / "asana" / "deliveries.jsonl"]))
    others += list(replay.load([FIXTURES / "wandb"], "wandb"))
    rng.shuffle(others)
    for k, delivery in enumerate(others):  # one every few GitHub deliveries, from the start
        out.insert(1 + 3 * k, delivery)
    return out


def later_pass(rng: random.Random) -> list[replay.Delivery]:
    """GitHub's handled events again, with new delivery ids (the others would be duplicates)."""
    again = [d for d in replay.load([FIXTURES / "github"]) if d.headers["X-GitHub-Event"] in HANDLERS]
    rng.shuffle(again)
    return again


class Traffic:
    def __init__(self, url: str, data_dir: Path, env: dict[str, str], pace: float = 1.0, seed: int = 7):
        self.url = url.rstrip("/")
        self.store = secretstore.FileStore(data_dir)
        self.signer = replay.Signer(
            github=Secret(env["GITHUB_WEBHOOK_SECRET"]),
            wandb_token=Secret(env["WANDB_WEBHOOK_TOKEN"]),
            asana_secret=lambda name: secretstore.get_secret(self.store, name),
        )
        self.pace, self.rng = pace, random.Random(seed)
        self.sent: Counter = Counter()  # (source, HTTP status) → deliveries
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def post(self, delivery: replay.Delivery, forged: bool = False) -> int:
        headers = self.signer.headers(delivery)
        if forged:
            headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
        request = urllib.request.Request(self.url + delivery.path, data=delivery.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0  # the receiver is stopping
        self.sent[(delivery.source, status)] += 1
        return status

    def _run(self) -> None:
        rounds = 0
        while not self.stop.is_set():
            batch, gap = (first_pass(self.rng), 0.25) if rounds == 0 else (later_pass(self.rng), 2.0)
            for k, delivery in enumerate(batch):
                forged = delivery.source == "github" and k % FORGED_EVERY == FORGED_EVERY - 1
                self.post(delivery, forged)
                if self.stop.wait(self.rng.expovariate(1 / (gap * self.pace))):  # Poisson arrivals
                    return
            rounds += 1

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
