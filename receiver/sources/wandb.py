"""The W&B automations webhook source: `POST /webhooks/wandb`.

W&B sends a JSON body the user writes as a template (the recommended one is
tests/fixtures/wandb_template.json, which the tests send). Authentication is whichever is configured, both if both are:
`Authorization: Bearer <WANDB_WEBHOOK_TOKEN>` (W&B's "access token") and/or
`X-Wandb-Signature`, an HMAC-SHA256 of the body with WANDB_WEBHOOK_SECRET,
accepted hex- or base64-encoded (W&B's own docs and community code disagree).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from orgpulse import metrics as m
from orgpulse.config import Secret
from orgpulse.tags import BoundedValues, entity_project
from receiver.envelope import Event, Handled, Rejected
from receiver.payload import View

# ${event_type} values (wandb.automations EventType) → (metric, extra tags).
RUN_STATES = {"finished", "failed", "crashed", "running", "killed"}
ALERT_KINDS = {"RUN_METRIC": "threshold", "RUN_METRIC_CHANGE": "change", "RUN_METRIC_ZSCORE": "zscore"}
ARTIFACT_EVENTS = {
    "CREATE_ARTIFACT": "wandb.artifacts.versions_created",
    "ADD_ARTIFACT_ALIAS": "wandb.artifacts.aliases_added",
    "ADD_ARTIFACT_TAG": "wandb.artifacts.tags_added",
    "LINK_MODEL": "wandb.artifacts.linked",
    "LINK_ARTIFACT": "wandb.artifacts.linked",
}


KNOWN_EVENTS = {"RUN_STATE"} | set(ALERT_KINDS) | set(ARTIFACT_EVENTS)


def _decode_signature(value: str) -> bytes | None:
    value = value.strip().removeprefix("sha256=")
    try:
        return bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None


def delivery_metrics(payload: View, projects: BoundedValues) -> list[m.Metric] | None:
    """Pure: one rendered template → metrics; None for an event type we do not measure."""
    event_type = (payload.text("event_type") or "").upper()
    entity, name = payload.text("entity"), payload.text("project")
    project = projects(f"{entity}/{name}") if entity and name else "unknown"
    if event_type == "RUN_STATE":
        state = (payload.text("run_state") or "").lower()
        return [m.count("wandb.runs.state_changes", project=project, state=state if state in RUN_STATES else "other")]
    if event_type in ALERT_KINDS:
        return [m.count("wandb.runs.metric_alerts", project=project, kind=ALERT_KINDS[event_type])]
    if event_type in ARTIFACT_EVENTS:
        return [m.count(ARTIFACT_EVENTS[event_type], project=project)]
    return None


class WandbSource:
    name = "wandb"
    capture_headers = ("content-type", "user-agent")

    def __init__(self, token: Secret | None, secret: Secret | None, options: dict[str, Any]):
        self._token = b"Bearer " + token.reveal() if token else None
        self._secret = secret.reveal() if secret else None
        self.projects = BoundedValues(options.get("projects", []), options.get("max_projects", 50), entity_project)
        self.dedup = options.get("dedup", True)

    def missing(self) -> list[str]:
        """What it lacks to count deliveries (/readyz and the status page say so)."""
        return [] if self._token or self._secret else ["WANDB_WEBHOOK_TOKEN or WANDB_WEBHOOK_SECRET"]

    def configured(self) -> bool:
        return not self.missing()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        if self._token is not None:
            given = headers.get("Authorization", "").encode("utf-8", "replace")
            if not given:
                raise Rejected("missing_signature", "Authorization: Bearer … is required")
            if not hmac.compare_digest(given, self._token):
                raise Rejected("bad_signature")
        if self._secret is not None:
            given_sig = headers.get("X-Wandb-Signature")
            if not given_sig:
                raise Rejected("missing_signature", "X-Wandb-Signature is required")
            expected = hmac.digest(self._secret, body, "sha256")
            decoded = _decode_signature(given_sig)
            if decoded is None or not hmac.compare_digest(decoded, expected):
                raise Rejected("bad_signature")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Rejected("malformed", f"body is not JSON: {exc.msg}") from None
        if not isinstance(payload, dict):
            raise Rejected("malformed", "body is not an object with event_type")
        view = View(payload)
        event_type = view.require_text("event_type").upper()
        # The event name becomes a tag on the receiver's own counters: bounded.
        return Event(event_type if event_type in KNOWN_EVENTS else "other", None, view, "")

    def dedup_key(self, event: Event, body: bytes) -> bytes | None:
        if not self.dedup:
            return None
        return b"wandb:" + hashlib.blake2b(body, digest_size=16).digest()

    def handle(self, event: Event) -> Handled:
        out = delivery_metrics(event.payload, self.projects)
        return Handled("ignored") if out is None else Handled("accepted", out)
