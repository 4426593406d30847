"""Stored deliveries → signed HTTP requests, for `orgpulse replay` and the tests.

Reads capture files (JSONL lines with source, path, headers, body, as
receiver/capture.py writes them; the Asana and W&B fixtures use the same form),
octokit-style GitHub example trees (<event>/<action>.payload.json, the event
name taken from the folder) and rendered W&B templates (--source wandb).
A Signer adds each source's authentication, as the provider would.

What cannot be replayed is refused before anything is sent (ValueError, with what to
do): a W&B template taken for a GitHub example (it would be posted as a GitHub
delivery and ignored), W&B deliveries with no W&B token or secret to sign them, Asana
deliveries to a webhook name with no handshake secret that no one armed.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from orgpulse.config import Secret
from receiver import secretstore
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
                headers["X-Wandb-Signature"] = hmac.digest(self.wandb_secret.reveal(), body, "sha256").hex()
        return headers


def is_wandb_template(body: bytes) -> bool:
    """A rendered W&B automation payload: a JSON object with a string `event_type` at its
    top, which no GitHub webhook payload has (none of tests/fixtures/github's)."""
    if b'"event_type"' not in body:
        return False  # cheap: most bodies are not parsed at all
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("event_type"), str)


def github_example(path: Path, event: str | None = None) -> Delivery:
    """One octokit example file as a GitHub delivery with a new delivery id."""
    body = path.read_bytes()
    if is_wandb_template(body):
        raise ValueError(
            f"{path} is a W&B automation payload (it has an event_type), not a GitHub "
            "delivery: replay it with --source wandb"
        )
    return Delivery(
        source="github",
        path="/webhooks/github",
        body=body,
        origin=str(path),
        headers={"X-GitHub-Event": event or path.parent.name, "X-GitHub-Delivery": str(uuid.uuid4())},
    )


def _captured(path: Path) -> Iterator[Delivery]:
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        rec = orjson.loads(line)
        yield Delivery(
            source=rec["source"],
            path=rec["path"],
            body=rec["body"].encode("utf-8"),
            headers=rec.get("headers") or {},
            origin=f"{path}:{number}",
        )


def wandb_example(path: Path) -> Delivery:
    body = path.read_bytes()
    if not is_wandb_template(body):
        raise ValueError(
            f"{path} is not a W&B automation payload (no event_type): replay GitHub examples without --source wandb"
        )
    return Delivery(source="wandb", path="/webhooks/wandb", body=body, origin=str(path))


EXAMPLES = {"github": github_example, "wandb": wandb_example}


def load(paths: list[Path], example_source: str = "github") -> Iterator[Delivery]:
    """Deliveries from capture files and example files or trees (of `example_source`)."""
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".jsonl":
                yield from _captured(file)
            elif file.suffix == ".json":
                yield EXAMPLES[example_source](file)
            else:
                raise ValueError(f"{file}: not a .json example or a .jsonl capture")


def asana_name(delivery: Delivery) -> str:
    return delivery.path.rsplit("/", 1)[-1]


def signable(
    deliveries: list[Delivery], signer: Signer, store: secretstore.SecretStore
) -> tuple[list[Delivery], dict[str, str]]:
    """(the deliveries to send, the Asana secrets of the handshakes put first). An Asana
    name with no stored secret that an operator armed gets a handshake first, as Asana
    makes one when it creates the webhook; ValueError for what could only be refused."""
    if any(d.source == "wandb" for d in deliveries) and not (signer.wandb_token or signer.wandb_secret):
        raise ValueError(
            "W&B deliveries are signed with the receiver's WANDB_WEBHOOK_TOKEN (or "
            "WANDB_WEBHOOK_SECRET): set the same value here, e.g. "
            "`WANDB_WEBHOOK_TOKEN=… orgpulse replay --source wandb …`"
        )
    made: dict[str, str] = {}
    for name in sorted({asana_name(d) for d in deliveries if d.source == "asana"}):
        if secretstore.get_secret(store, name) is not None:
            continue
        if not secretstore.is_armed(store, name):
            raise ValueError(
                f"the Asana webhook {name!r} has no handshake secret to sign with: run "
                f"`orgpulse asana webhooks arm {name}`, then replay again (it makes the "
                "handshake first, as Asana does when it creates a webhook)"
            )
        made[name] = secrets.token_hex(16)
    handshakes = [
        Delivery("asana", f"/webhooks/asana/{name}", b"", {"X-Hook-Secret": secret}, origin=f"handshake for {name}")
        for name, secret in made.items()
    ]
    return handshakes + deliveries, made
