"""The status page's HTTP side: `GET /status` (HTML, receiver/status/page.py) and
`GET /status.json` (the model itself, receiver/status/model.py)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template_string, request

from receiver.envelope import STATUS
from receiver.status.model import DeliveryLog, model
from receiver.status.page import TEMPLATE, helpers

bp = Blueprint("status", __name__)


def _base_url() -> str:
    receiver = current_app.extensions["orgpulse"]
    return receiver.settings.section("receiver").get("public_url") or request.host_url


def _current() -> dict:
    log = current_app.extensions["orgpulse.status"]
    return model(current_app.extensions["orgpulse"], log, _base_url(), log.clock())


@bp.get("/status.json")
def status_json() -> Response:
    return jsonify(_current())


@bp.get("/status")
def status_html() -> Response:
    page = _current()
    html = render_template_string(
        TEMPLATE,
        page=page,
        outcomes=STATUS,
        public_url=bool(current_app.extensions["orgpulse"].settings.section("receiver").get("public_url")),
        **helpers(page["generated_at"]),
    )
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})


def install(app, log: DeliveryLog) -> None:
    app.extensions["orgpulse.status"] = log
    app.register_blueprint(bp)
