"""Stored deliveries → signed HTTP requests, for `orgpulse replay` and the tests.

Reads capture files (JSONL lines with source, path, headers, body, as
receiver/capture.py writes them; the Asana and W&B fixtures use the same form),
octokit-style GitHub example trees (<event>/<action>.payload.json, the event
name taken from the folder) and rendered W&B templates (--source wandb).
A Signer adds each source's authentication, as the provider would.
"""
from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import orjson

from orgpulse.config import Secret
from receiver.sources import asana as asana_source
from receiver.sources.github import signature as github_signature


@dataclass
class Delivery:
    source: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def signed(self, secret: Secret) -> dict[str, str]:
        """Headers with a fresh GitHub signature (the common case in tests)."""
        return Signer(github=secret).headers(self)


@dataclass
class Signer:
    """Signs a delivery for its source with what the receiver is configured to check."""

    github: Secret | None = None
    wandb_token: Secret | None = None
    wandb_secret: Secret | None = None
    asana_secret: Callable[[str], str | None] = lambda name: None

    def headers(self, delivery: Delivery) -> dict[str, str]:
        headers = dict(delivery.headers)
        headers.setdefault("Content-Type", "application/json")
        body = delivery.body
        if delivery.source == "github" and self.github:
            headers["X-Hub-Signature-256"] = github_signature(self.github.reveal(), body)
        elif delivery.source == "asana":
            secret = self.asana_secret(delivery.path.rsplit("/", 1)[-1])
            if secret:
                headers["X-Hook-Signature"] = asana_source.signature(secret.encode(), body)
        elif delivery.source == "wandb":
            if self.wandb_token:
                headers["Authorization"] = "Bearer " + self.wandb_token.reveal().decode()
            if self.wandb_secret:
                headers["X-Wandb-Signature"] = hmac.digest(self.wandb_secret.reveal(), body,
                                                           "sha256").hex()
        return headers


def github_example(path: Path, event: str | None = None) -> Delivery:
    """One octokit example file as a GitHub delivery with a new delivery id."""
    return Delivery(
        source="github", path="/webhooks/github", body=path.read_bytes(), origin=str(path),
        headers={"X-GitHub-Event": event or path.parent.name,
                 "X-GitHub-Delivery": str(uuid.uuid4())})


def _captured(path: Path) -> Iterator[Delivery]:
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        rec = orjson.loads(line)
        yield Delivery(source=rec["source"], path=rec["path"], body=rec["body"].encode("utf-8"),
                       headers=rec.get("headers") or {}, origin=f"{path}:{number}")


def wandb_example(path: Path) -> Delivery:
    return Delivery(source="wandb", path="/webhooks/wandb", body=path.read_bytes(),
                    origin=str(path))


EXAMPLES = {"github": github_example, "wandb": wandb_example}


def load(paths: list[Path], example_source: str = "github") -> Iterator[Delivery]:
    """Deliveries from capture files and example files or trees (of `example_source`)."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl"))
        else:
            files = [path]
        for file in files:
            if file.suffix == ".jsonl":
                yield from _captured(file)
            elif file.suffix == ".json":
                yield EXAMPLES[example_source](file)
            else:
                raise ValueError(f"{file}: not a .json example or a .jsonl capture")
