"""Stored deliveries → signed HTTP requests, for `orgpulse replay` and the tests.

Reads two formats: capture files (JSONL lines with source, path, headers, body,
as receiver/capture.py writes them) and octokit-style example trees
(<event>/<action>.payload.json, the event name taken from the folder).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

from orgpulse.config import Secret
from receiver.sources.github import signature as github_signature


@dataclass
class Delivery:
    source: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def signed(self, secret: Secret) -> dict[str, str]:
        """Headers with a fresh signature over the exact body bytes."""
        headers = dict(self.headers)
        headers.setdefault("Content-Type", "application/json")
        if self.source == "github":
            headers["X-Hub-Signature-256"] = github_signature(secret.reveal(), self.body)
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


def load(paths: list[Path]) -> Iterator[Delivery]:
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl"))
        else:
            files = [path]
        for file in files:
            if file.suffix == ".jsonl":
                yield from _captured(file)
            elif file.suffix == ".json":
                yield github_example(file)
            else:
                raise ValueError(f"{file}: not a .json example or a .jsonl capture")
