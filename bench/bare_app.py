"""The floor any receiver pays: a Flask app that only reads the body and answers 204."""

from flask import Flask, request


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/github")
    def webhook():
        request.get_data(cache=False)
        return "", 204

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app
