"""HTTP bindings: Flask request → Envelope.process → JSON response. No logic of its own."""
from __future__ import annotations

import time

import orjson
from flask import Blueprint, Response, current_app, request

bp = Blueprint("webhooks", __name__)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes.

    A Content-Length over the limit is refused before anything is read. A
    chunked body (no Content-Length) is read to at most limit + 1 bytes from
    the server's terminated stream: Werkzeug's own limit would silently
    truncate it instead (then fail as a bad signature, not as a 413)."""
    if request.content_length is not None:
        return None if request.content_length > limit else request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # a server that cannot end a chunked stream: never read unbounded
    data = request.environ["wsgi.input"].read(limit + 1)
    return None if len(data) > limit else data


def deliver(source_name: str, webhook: str | None = None) -> Response:
    state = current_app.extensions["orgpulse"]
    envelope, source = state.envelope, state.sources[source_name]
    if webhook is not None:  # a source with one endpoint per webhook name (Asana)
        source = source.webhook(webhook)
    body = read_body(state.settings.max_body_bytes)
    if body is None:
        outcome = envelope.reject(source_name, "too_large", time.perf_counter())
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
    sources = {name: src.configured() for name, src in
               current_app.extensions["orgpulse"].sources.items()}
    # Settings were validated when the app was built; Asana can always take a
    # handshake, so a running receiver is ready. The body says which sources
    # would answer 503 for want of a secret.
    return _json(200, {"ready": True, "sources": sources})
