"""What any signed-webhook receiver must do, and nothing more: verify the HMAC
of the body, parse the JSON, answer with a small JSON body. Between the bare
app and orgpulse in the benchmark, it shows how much of the gap is this floor."""

import hmac

import orjson
from flask import Flask, Response, request

SECRET = b"bench-secret"


def create_app() -> Flask:
    app = Flask("floor")

    @app.post("/webhooks/github")
    def webhook():
        body = request.get_data(cache=False)
        given = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(hmac.digest(SECRET, body, "sha256").hex(), given[7:]):
            return Response(b'{"result":"bad_signature"}', status=401, mimetype="application/json")
        payload = orjson.loads(body)
        return Response(
            orjson.dumps({"result": "accepted", "action": payload.get("action")}), mimetype="application/json"
        )

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app
