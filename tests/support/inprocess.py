"""An in-process receiver for all three sources whose metrics arrive through the embedded
log sink (one DogStatsD line per metric) into memory: synchronous, so tests that send
thousands of deliveries (hostile input, the fuzz suite) read exactly what each one emitted
without waiting on a socket. The UDP/UDS path is covered by test_receiver.py and test_e2e.py."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from orgpulse import config
from orgpulse.emit import Emitter, LogSink
from receiver import create_app, secretstore
from receiver.sources import asana
from receiver.sources.github import signature
from tests.support.dogstatsd import PRODUCED, Line, parse_line

GITHUB_SECRET = "It's a Secret to Everybody"
ASANA_SECRET = "0d3c2a1b9f8e7d6c5b4a39281706f5e4"
WANDB_TOKEN = "wandb-access-token"
WEBHOOK = "engineering"


class Receiver:
    def __init__(self, data_dir: Path, env: dict | None = None):
        settings = config.load(
            {
                "ORGPULSE_DATA_DIR": str(data_dir),
                "DD_ENV": "test",
                "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
                "WANDB_WEBHOOK_TOKEN": WANDB_TOKEN,
                **(env or {}),
            }
        )
        self.stream = io.StringIO()
        self.app = create_app(settings, Emitter(LogSink(settings, self.stream), strict=True))
        self.app.config["TESTING"] = True
        self.client = self.app.test_client()
        store = self.app.extensions["orgpulse"].sources["asana"].store
        secretstore.arm(store, WEBHOOK)
        assert (
            self.client.post(f"/webhooks/asana/{WEBHOOK}", headers={"X-Hook-Secret": ASANA_SECRET}).status_code == 200
        )
        self.lines()

    def github(self, body: bytes, event: str, delivery: str | None = None):
        return self.client.post(
            "/webhooks/github",
            data=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": signature(GITHUB_SECRET.encode(), body),
                "Content-Type": "application/json",
            },
        )

    def asana(self, body: bytes):
        return self.client.post(
            f"/webhooks/asana/{WEBHOOK}",
            data=body,
            headers={
                "X-Hook-Signature": asana.signature(ASANA_SECRET.encode(), body),
                "Content-Type": "application/json",
            },
        )

    def wandb(self, body: bytes):
        return self.client.post(
            "/webhooks/wandb",
            data=body,
            headers={"Authorization": f"Bearer {WANDB_TOKEN}", "Content-Type": "application/json"},
        )

    def lines(self) -> list[Line]:
        """The metric lines emitted since the last call (recorded as produced)."""
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        parsed = [parse_line(x) for x in text.splitlines() if x]
        PRODUCED.update(x.name for x in parsed)
        return parsed


def source_lines(lines: list[Line]) -> list[Line]:
    return [x for x in lines if not x.name.startswith("orgpulse.")]


def own(lines: list[Line], name: str) -> list[dict[str, str]]:
    """The tags of each `orgpulse.receiver.<name>` line."""
    return [x.tag_map for x in lines if x.name == f"orgpulse.receiver.{name}"]
