"""The GitHub webhook source: verification, event parsing and the handler table.

Handlers are pure functions (payload, ctx) -> [Metric] | None; None means the
event's action is not one orgpulse measures (answered 2xx, counted as ignored).
Adding an event: a handler here, its catalog rows, its fixture test.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

import orjson

from orgpulse import metrics as m
from orgpulse.config import Secret
from receiver.envelope import Event, Handled, Rejected
from receiver.payload import View
from receiver.sources.github import ci, deploys, dora, incidents, prs, refs
from receiver.sources.github.context import GithubContext
from receiver.sources.github.events import event_name

Handler = Callable[[View, GithubContext], "list[m.Metric] | None"]
MAX_DELIVERY_ID = 100  # GitHub's are 36-character GUIDs; a longer header is not one


def both(*handlers: Handler) -> Handler:
    """Several handlers of one event (each its own module): None only when all ignore it."""

    def handler(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
        outs = [h(payload, ctx) for h in handlers]
        return None if all(o is None for o in outs) else [x for o in outs if o for x in o]

    return handler


HANDLERS: dict[str, Handler] = {
    "pull_request": prs.pull_request,
    "pull_request_review": prs.pull_request_review,
    "push": refs.push,
    "create": refs.create,
    "delete": refs.delete,
    "workflow_run": both(ci.workflow_run, dora.workflow_run),
    "workflow_job": ci.workflow_job,
    "check_run": ci.check_run,
    "check_suite": ci.check_suite,
    "deployment_status": both(deploys.deployment_status, dora.deployment_status),
    "issues": incidents.issues,
}


def signature(secret: bytes, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.digest(secret, body, "sha256").hex()


def _signature_bytes(header: str) -> bytes | None:
    """The raw digest in a 'sha256=<64 hex>' header, or None if it is not one."""
    prefix, _, hexdigest = header.partition("=")
    if prefix != "sha256" or len(hexdigest) != 64:
        return None
    try:
        return bytes.fromhex(hexdigest)
    except ValueError:
        return None


class GithubSource:
    name = "github"
    capture_headers = ("x-github-event", "x-github-delivery", "x-github-hook-id", "content-type", "user-agent")

    def __init__(self, secrets: tuple[Secret, ...], ctx: GithubContext):
        self._secrets = tuple(s.reveal() for s in secrets)
        self.ctx = ctx

    def missing(self) -> list[str]:
        """What it lacks to count deliveries (/readyz and the status page say so)."""
        return [] if self._secrets else ["GITHUB_WEBHOOK_SECRET (or _FILE)"]

    def configured(self) -> bool:
        return not self.missing()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        # Only SHA-256: the legacy SHA-1 X-Hub-Signature alone is refused.
        given = headers.get("X-Hub-Signature-256")
        if not given:
            raise Rejected("missing_signature")
        expected = _signature_bytes(given)
        if expected is None:
            raise Rejected("bad_signature")
        # Every secret is tried (no early exit), each compare in constant time;
        # hmac.digest is OpenSSL's one-shot HMAC, the fastest on a 25 MB body.
        matches = [hmac.compare_digest(hmac.digest(s, body, "sha256"), expected) for s in self._secrets]
        if not any(matches):
            raise Rejected("bad_signature")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event:
        name = headers.get("X-GitHub-Event")
        if not name:
            raise Rejected("missing_header", "X-GitHub-Event is required")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Rejected("malformed", f"body is not JSON: {exc.msg}") from None
        if not isinstance(payload, dict):
            raise Rejected("malformed", "body is not a JSON object")
        view = View(payload)
        delivery = headers.get("X-GitHub-Delivery") or ""
        # The event name is a tag (bounded); the action is only logged (cut short).
        return Event(
            name=event_name(name),
            action=(view.text("action") or "")[:64] or None,
            payload=view,
            delivery_id=delivery if len(delivery) <= MAX_DELIVERY_ID else "",
        )

    def dedup_key(self, event: Event, body: bytes) -> str | bytes:
        # The delivery GUID is kept on redelivery; without one, the body identifies it.
        if event.delivery_id:
            return "github:" + event.delivery_id
        return b"github-body:" + hashlib.blake2b(body, digest_size=16).digest()

    def handle(self, event: Event) -> Handled:
        if event.name == "ping":
            return Handled("ping")
        handler = HANDLERS.get(event.name)
        if handler is None:
            return Handled("ignored")
        # A payload lacking what GitHub always sends raises Malformed (a 400) from
        # receiver.payload; anything else a handler raises is a bug (a 500).
        out = handler(event.payload, self.ctx)
        return Handled("ignored") if out is None else Handled("accepted", out)
