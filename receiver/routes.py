"""HTTP bindings: Flask request → Envelope.process → JSON response. No logic of its own."""
from __future__ import annotations

import time

import orjson
from flask import Blueprint, Response, current_app, request

bp = Blueprint("webhooks", __name__)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


def deliver(source_name: str) -> Response:
    state = current_app.extensions["orgpulse"]
    envelope, source = state.envelope, state.sources[source_name]
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # Refuse an oversize delivery from its Content-Length, before reading it;
    # a chunked body is cut at the same limit by Werkzeug (-> 413 handler).
    if request.content_length is not None and request.content_length > limit:
        outcome = envelope.reject(source_name, "too_large", time.perf_counter())
        return _json(outcome.status, outcome.body(), {"Connection": "close"})
    body = request.get_data(cache=False)
    outcome = envelope.process(source, request.path, request.headers, body)
    return _json(outcome.status, outcome.body(), outcome.headers)


@bp.post("/webhooks/github")
def github() -> Response:
    return deliver("github")


@bp.get("/healthz")
def healthz() -> Response:
    return _json(200, {"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    sources = {name: src.configured() for name, src in
               current_app.extensions["orgpulse"].sources.items()}
    ready = any(sources.values())
    return _json(200 if ready else 503, {"ready": ready, "sources": sources})
