"""HTTP bindings: Flask request → Envelope.process → JSON response. No logic of its own."""

from __future__ import annotations

import time

import orjson
from flask import Blueprint, Response, current_app, request

from receiver.envelope import Rejected

bp = Blueprint("webhooks", __name__)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def read_body(limit: int) -> bytes:
    """The whole request body, or Rejected: too_large (413), malformed (400: framing that
    does not parse, a body shorter than its Content-Length) or timeout (408).

    A Content-Length over the limit is refused before anything is read. A chunked
    body (no Content-Length) is read to at most limit + 1 bytes from the server's
    terminated stream: Werkzeug's own limit would silently truncate it instead
    (then fail as a bad signature, not as a 413)."""
    length = request.content_length
    if length is not None and length > limit:
        raise Rejected("too_large")
    try:
        if length is not None:
            data = request.get_data(cache=False)
        elif request.environ.get("wsgi.input_terminated"):
            data = request.environ["wsgi.input"].read(limit + 1)
        else:
            return b""  # a server that cannot end a chunked stream: never read unbounded
    except TimeoutError:
        raise Rejected("timeout", "the body did not arrive in time") from None
    except Exception as exc:  # noqa: BLE001 - gunicorn's chunk errors, a reset: the sender's doing
        raise Rejected("malformed", f"the body could not be read: {type(exc).__name__}") from None
    if length is not None and len(data) != length:
        # The client half-closed early; its signature may even match the short body.
        raise Rejected("malformed", f"body of {len(data)} bytes, Content-Length {length}")
    if len(data) > limit:
        raise Rejected("too_large")
    return data


def deliver(source_name: str, webhook: str | None = None) -> Response:
    state = current_app.extensions["orgpulse"]
    envelope, source = state.envelope, state.sources[source_name]
    if webhook is not None:  # a source with one endpoint per webhook name (Asana)
        source = source.webhook(webhook)
    try:
        body = read_body(state.settings.max_body_bytes)
    except Rejected as exc:
        # The body was not read to its end: the connection cannot carry another
        # request (receiver/server/worker.py makes gunicorn close it and say so).
        outcome = envelope.reject(source_name, exc.reason, time.perf_counter(), exc.detail)
        return _json(outcome.status, outcome.body(), {"Connection": "close"})
    outcome = envelope.process(source, request.path, request.headers, body)
    return _json(outcome.status, outcome.body(), outcome.headers)


@bp.post("/webhooks/github")
def github() -> Response:
    return deliver("github")


@bp.post("/webhooks/asana/<name>")
def asana(name: str) -> Response:
    return deliver("asana", name)


@bp.post("/webhooks/wandb")
def wandb() -> Response:
    return deliver("wandb")


@bp.get("/healthz")
def healthz() -> Response:
    return _json(200, {"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    sources = {name: src.configured() for name, src in current_app.extensions["orgpulse"].sources.items()}
    # Settings were validated when the app was built, so a running receiver is ready
    # (Asana can always take a handshake). The body says which sources can count
    # deliveries — each source's configured(), as the status page shows it: a secret
    # for GitHub and W&B (else 503), a completed handshake for Asana (else 404).
    return _json(200, {"ready": True, "sources": sources})
