"""`orgpulse` — serve | replay | catalog.

Each command is a function registered in COMMANDS; main() parses arguments,
loads settings once (a bad setting exits 2 with every problem listed) and
dispatches.
"""
from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

from orgpulse import config


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        print(f"orgpulse: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _ensure_github_secret(settings: config.Settings) -> config.Settings:
    """With no GitHub secret configured, create one in the data dir and say where."""
    if settings.github_secret_origin != "unset":
        return settings
    path = config.ensure_github_secret(settings.data_dir)
    print(f"orgpulse: no GITHUB_WEBHOOK_SECRET set; using the generated secret in {path} "
          f"(paste its content into the GitHub webhook's secret field)", file=sys.stderr)
    return _settings()


def serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from receiver import create_app, gunicorn_conf

    settings = _ensure_github_secret(_settings())

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in vars(gunicorn_conf).items():
                if key in self.cfg.settings and key != "wsgi_app":
                    self.cfg.set(key, value)
            self.cfg.set("bind", f"{args.host}:{args.port}")

        def load(self):
            return create_app(settings)

    print(f"orgpulse: receiver on http://{args.host}:{args.port} "
          f"(sink: {settings.sink}), POST /webhooks/github", file=sys.stderr)
    Server().run()
    return 0


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def replay(args: argparse.Namespace) -> int:
    import orjson
    from tqdm import tqdm

    from receiver import replay as stored

    settings = _ensure_github_secret(_settings())
    if not settings.github_secrets:
        print("orgpulse: no GitHub secret to sign with", file=sys.stderr)
        return 2
    secret = settings.github_secrets[0]
    deliveries = list(stored.load([Path(p) for p in args.paths]))
    if args.url:
        send = lambda d: _post(args.url.rstrip("/") + d.path, d.body, d.signed(secret))  # noqa: E731
    else:
        from receiver import create_app

        client = create_app(settings).test_client()

        def send(d: stored.Delivery) -> tuple[int, bytes]:
            response = client.post(d.path, data=d.body, headers=d.signed(secret))
            return response.status_code, response.get_data()

    failures = 0
    for delivery in tqdm(deliveries, desc="replay", unit="delivery", file=sys.stderr,
                         disable=None):
        status, body = send(delivery)
        try:
            result = orjson.loads(body)
        except orjson.JSONDecodeError:
            result = {"result": body[:200].decode("utf-8", "replace")}
        failures += status >= 400
        names = ", ".join(result.get("emitted", [])) or "-"
        tqdm.write(f"{status} {result.get('result', '?'):<10} {delivery.origin}: {names}")
    print(f"orgpulse: replayed {len(deliveries)} deliveries, {failures} refused", file=sys.stderr)
    return 1 if failures else 0


def catalog(args: argparse.Namespace) -> int:
    from orgpulse.metrics import catalog as rows

    for row in rows().values():
        if args.source in (None, row.source):
            print(f"{row.name:<40} {row.type:<12} {row.unit:<12} {' '.join(sorted(row.tags))}")
    return 0


COMMANDS = {"serve": serve, "replay": replay, "catalog": catalog}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="orgpulse", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the webhook receiver (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("replay", help="post stored deliveries, signed, and print what was emitted")
    p.add_argument("paths", nargs="+", help=".jsonl capture files, octokit example files or trees")
    p.add_argument("--url", help="receiver base URL (default: an in-process app)")
    p = sub.add_parser("catalog", help="list the metric catalog")
    p.add_argument("--source", help="only this source's metrics")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
