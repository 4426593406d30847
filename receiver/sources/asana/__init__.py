"""The Asana webhook source: handshake, signature, compact events → metrics.

`POST /webhooks/asana/<name>`: one webhook per name. The handshake stores the
X-Hook-Secret durably (secretstore.py) before answering, and only for a name an
operator armed. Events are verified against that name's secret. Compact events
become metrics at once where they carry enough (an event count, comments,
deletions); what needs the API (project names, a completed task's created_at
and section) is queued to the Enricher and emitted when the fetch succeeds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from orgpulse import metrics as m
from receiver import secretstore
from receiver.envelope import Event, Handled, Rejected
from receiver.payload import Malformed, View

log = logging.getLogger("orgpulse.receiver")

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GID = re.compile(r"[0-9]{1,32}")
RESOURCE_TYPES = {
    "task",
    "story",
    "project",
    "section",
    "tag",
    "attachment",
    "portfolio",
    "project_membership",
    "team",
    "user",
    "workspace",
    "custom_field",
    "goal",
}
ACTIONS = {"added", "changed", "removed", "deleted", "undeleted"}
REFRESH_SECONDS = 2.0  # at most one store read this often, on unknown or mismatched secrets


def signature(secret: bytes, body: bytes) -> str:
    """The X-Hook-Signature Asana sends: hex HMAC-SHA256 of the raw body."""
    return hmac.digest(secret, body, "sha256").hex()


@dataclass(frozen=True)
class Compact:
    """What orgpulse reads of one compact event, typed."""

    resource_type: str | None
    subtype: str | None
    gid: str | None
    action: str | None
    parent_type: str | None
    parent_gid: str | None
    change_field: str | None


def _gid(view: View, key: str) -> str | None:
    """Asana gids are digit strings; anything else would end up in an API path."""
    value = view.ident(key)
    if value is None:
        return None
    if not GID.fullmatch(str(value)):
        raise Malformed(f"{view.path(key)} is not an Asana gid")
    return str(value)


def compact(value: Any, where: str) -> Compact:
    """One event through a strict View: a field of the wrong type raises Malformed."""
    if not isinstance(value, dict):
        raise Malformed(f"{where} must be an object")
    ev = View(value, strict=True, where=where)
    resource, parent = ev.require("resource"), ev.obj("parent")
    return Compact(
        resource.text("resource_type"),
        resource.text("resource_subtype"),
        _gid(resource, "gid"),
        ev.text("action"),
        parent.text("resource_type"),
        _gid(parent, "gid"),
        ev.obj("change").text("field"),
    )


def _jobs(ev: Compact) -> list[tuple]:
    """Enrichment a task event needs; Malformed when it lacks the gid to fetch."""
    if ev.action in ("added", "removed") and ev.parent_type == "project":
        if ev.parent_gid is None:
            raise Malformed(f"a task {ev.action} to a project without the project's gid")
        return [(f"task_{ev.action}", ev.parent_gid)]
    if ev.action == "changed" and ev.change_field == "completed":
        # The compact event says only that `completed` changed, not to what:
        # the task must be fetched (and its created_at gives the cycle time).
        if ev.gid is None:
            raise Malformed("a changed task without its gid")
        return [("completion", ev.gid)]
    return []


def one_event(webhook: str, ev: Compact) -> tuple[list[m.Metric], list[tuple]]:
    """Pure: one well-typed compact event → (metrics now, enrichment jobs for later)."""
    rtype, action = ev.resource_type, ev.action
    out = [
        m.count(
            "asana.events",
            webhook=webhook,
            resource_type=rtype if rtype in RESOURCE_TYPES else "other",
            action=action if action in ACTIONS else "other",
        )
    ]
    if rtype == "story" and action == "added" and ev.subtype == "comment_added":
        out.append(m.count("asana.comments.added", webhook=webhook))
    elif rtype == "task" and action == "deleted":
        out.append(m.count("asana.tasks.deleted", webhook=webhook))
    elif rtype == "task":
        return out, _jobs(ev)
    return out, []


def event_metrics(webhook: str, values: list[Any]) -> tuple[list[m.Metric], list[tuple]]:
    """Pure: raw events → (metrics, jobs). A malformed event is skipped and counted —
    it never costs the valid events beside it; Malformed (400) only when none is valid."""
    out: list[m.Metric] = []
    jobs: list[tuple] = []
    problems: list[str] = []
    for i, value in enumerate(values):
        try:
            metrics, more = one_event(webhook, compact(value, f"events[{i}]"))
        except Malformed as exc:
            problems.append(exc.detail)
            continue
        out += metrics
        jobs += more
    if problems and len(problems) == len(values):
        raise Malformed(f"no well-formed event: {problems[0]}")
    if problems:
        out.append(m.count("orgpulse.receiver.malformed_events", len(problems), source="asana"))
        log.warning(
            "malformed events skipped",
            extra={"source": "asana", "webhook": webhook, "malformed": len(problems), "detail": problems[0]},
        )
    return out, jobs


class AsanaSource:
    name = "asana"
    capture_headers = ("content-type", "user-agent")

    def __init__(self, store: secretstore.SecretStore, enricher=None):
        self.store = store
        self.enricher = enricher
        self._secrets: dict[str, bytes] = {}
        # Monotonic time of the last full store read, per purpose: a delivery's check and
        # /readyz or the status page each read at most once every REFRESH_SECONDS, and a
        # probe never spends the read a delivery from a just-made webhook needs.
        self._read_at = {"deliveries": -REFRESH_SECONDS, "configured": -REFRESH_SECONDS}
        self._readable = True  # whether that read succeeded
        self._lock = threading.Lock()

    def missing(self) -> list[str]:
        """What Asana lacks to count events: a webhook with a completed handshake (its
        stored secret). The one definition of "configured" for /readyz and the status page.
        Every /webhooks/asana/<name> still answers (a handshake needs no secret; an unknown
        name gets 404, not 503): the envelope asks AsanaWebhook, not this."""
        if not self._reload("configured"):
            return ["a readable webhook secret store"]
        if not self.names():
            return ["a webhook: `orgpulse asana webhooks create --name NAME …` (or `arm NAME` and its handshake)"]
        return []

    def configured(self) -> bool:
        return not self.missing()

    def names(self) -> list[str]:
        """The webhook names with a stored secret, as last read (at most REFRESH_SECONDS old,
        or newer: a handshake on this replica is remembered at once)."""
        with self._lock:
            return sorted(self._secrets)

    def webhook(self, name: str) -> AsanaWebhook:
        return AsanaWebhook(self, name)

    def remember(self, name: str, secret: str) -> None:
        with self._lock:
            self._secrets[name] = secret.encode("utf-8")

    def secret(self, name: str, refresh: bool = False) -> bytes | None:
        """The cached secret; with refresh, re-read the whole store — for deliveries at most
        once every REFRESH_SECONDS in all, whatever names are asked for — so a handshake completed on
        another replica is seen here, and requests for made-up names can neither grow this
        cache nor hammer the store (a Kubernetes API server, in the chart)."""
        if refresh:
            self._reload("deliveries")
        with self._lock:
            return self._secrets.get(name)

    def _reload(self, purpose: str) -> bool:
        """Re-read the whole store unless it was read less than REFRESH_SECONDS ago; whether
        the last read succeeded (a failed one keeps the cached secrets)."""
        with self._lock:
            if time.monotonic() - self._read_at[purpose] < REFRESH_SECONDS:
                return self._readable
            self._read_at[purpose] = time.monotonic()
        try:
            stored = secretstore.load_secrets(self.store)
        except secretstore.StoreError:
            with self._lock:
                self._readable = False
            return False
        with self._lock:
            self._secrets = {k: v.encode("utf-8") for k, v in stored.items()}
            self._readable = True
        return True


class AsanaWebhook:
    """The Source the envelope sees for one webhook name."""

    name = "asana"
    capture_headers = AsanaSource.capture_headers

    def __init__(self, source: AsanaSource, webhook: str):
        self.source = source
        self.webhook = webhook

    def configured(self) -> bool:
        return True  # every name is answerable: unknown ones get 404, not 503

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        if not NAME.match(self.webhook):
            raise Rejected("unknown_webhook", "webhook names are [A-Za-z0-9_-]{1,64}")
        if headers.get("X-Hook-Secret"):
            try:
                armed = secretstore.is_armed(self.source.store, self.webhook)
            except secretstore.StoreError as exc:
                raise Rejected("store_unavailable", str(exc)) from None
            if not armed:
                raise Rejected("handshake_refused", "not armed: run `orgpulse asana webhooks create` or `arm`")
            return
        given = headers.get("X-Hook-Signature", "")
        for refresh in (False, True):
            secret = self.source.secret(self.webhook, refresh=refresh)
            if secret is None and refresh:
                raise Rejected("unknown_webhook", "no handshake was completed for this name")
            if secret is not None and hmac.compare_digest(
                signature(secret, body).encode(), given.encode("utf-8", "replace")
            ):
                return
        raise Rejected("missing_signature" if not given else "bad_signature")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event:
        if headers.get("X-Hook-Secret"):
            return Event("handshake", None, headers["X-Hook-Secret"], "")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Rejected("malformed", f"body is not JSON: {exc.msg}") from None
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            raise Rejected("malformed", 'body is not {"events": [...]}')
        return Event("events", None, events, "")  # each event is checked on its own

    def dedup_key(self, event: Event, body: bytes) -> bytes | None:
        if event.name == "handshake":
            return None  # a repeated handshake must be echoed again
        # No delivery id; Asana retries for 24 h: the body identifies a delivery.
        return b"asana:" + self.webhook.encode() + b":" + hashlib.blake2b(body, digest_size=16).digest()

    def handle(self, event: Event) -> Handled:
        tag = {"webhook": self.webhook}
        if event.name == "handshake":
            try:  # durable first: answer only once every replica can verify
                secretstore.complete_handshake(self.source.store, self.webhook, event.payload)
            except secretstore.StoreError as exc:
                raise Rejected("store_unavailable", str(exc)) from None
            self.source.remember(self.webhook, event.payload)
            return Handled("handshake", [m.count("asana.webhooks.handshakes", **tag)], {"X-Hook-Secret": event.payload})
        if not event.payload:
            return Handled("heartbeat", [m.count("asana.webhooks.heartbeats", **tag)])
        metrics, jobs = event_metrics(self.webhook, event.payload)
        enricher = self.source.enricher
        for kind, gid in jobs:
            if enricher is not None:
                metrics += enricher.submit(kind, gid)
        return Handled("accepted", metrics)
