"""`orgpulse serve | replay | asana webhooks`: the receiver's commands, registered with the
`orgpulse` command through the entry-point group orgpulse.commands (pyproject.toml)."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

import orjson
from gunicorn.app.base import BaseApplication
from tqdm import tqdm

from orgpulse import config
from orgpulse.cli import settings as _settings
from receiver import create_app, missing, secretstore, status
from receiver import replay as stored
from receiver.server import gunicorn_conf
from receiver.sources.asana import admin


def _ensure_github_secret(settings: config.Settings) -> config.Settings:
    """With no GitHub secret configured, create one in the data dir and say where."""
    if settings.github_secret_origin != "unset":
        return settings
    path = config.ensure_github_secret(settings.data_dir)
    print(
        f"orgpulse: no GITHUB_WEBHOOK_SECRET set; using the generated secret in {path} "
        f"(paste its content into the GitHub webhook's secret field)",
        file=sys.stderr,
    )
    return _settings()


def serve(args: argparse.Namespace) -> int:
    settings = _ensure_github_secret(_settings())

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in vars(gunicorn_conf).items():
                if key in self.cfg.settings and key != "wsgi_app":
                    self.cfg.set(key, value)
            self.cfg.set("bind", f"{args.host}:{args.port}")

        def load(self):
            return create_app(settings)

    url = f"http://{args.host}:{args.port}"
    page = f"; status page: {url}/status" if status.enabled(settings) else ""
    print(f"orgpulse: receiver on {url} (sink: {settings.sink}), POST /webhooks/github{page}", file=sys.stderr)
    for line in _try_locally(settings, url) if settings.sink == "log" else []:  # local mode
        print(line, file=sys.stderr)
    Server().run()
    return 0


def _try_locally(settings: config.Settings, url: str) -> list[str]:
    """How to try each source the receiver cannot count yet, as commands that work as printed."""
    try:
        lacking = [name for name, lacks in missing(settings).items() if lacks]
    except config.ConfigError:
        return []  # the secret store's settings: the app says so as it starts
    prog = sys.argv[0] if Path(sys.argv[0]).name == "orgpulse" else "orgpulse"
    return ["orgpulse: " + TRY_LOCALLY[name].format(prog=prog, url=url) for name in lacking if name in TRY_LOCALLY]


# What `make run` says about a source it cannot count yet, in local mode.
TRY_LOCALLY = {
    "wandb": "W&B deliveries get 503 (no WANDB_WEBHOOK_TOKEN): to try them, `WANDB_WEBHOOK_TOKEN=try-me make run` "
    "and `WANDB_WEBHOOK_TOKEN=try-me {prog} replay --source wandb tests/fixtures/wandb --url {url}`",
    "asana": "Asana deliveries get 404 (no webhook handshake yet): to try them, `{prog} asana webhooks arm "
    "engineering`, then `{prog} replay tests/fixtures/asana/deliveries.jsonl --url {url}` "
    "(it makes the handshake first, as Asana does)",
}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _sender(url: str | None, settings: config.Settings, signer):
    """Post a delivery to the receiver at `url`, or to an in-process one: (status, body)."""
    if url:
        return lambda d: _post(url.rstrip("/") + d.path, d.body, signer.headers(d))
    client = create_app(settings).test_client()

    def send(d) -> tuple[int, bytes]:
        response = client.post(d.path, data=d.body, headers=signer.headers(d))
        return response.status_code, response.get_data()

    return send


def replay(args: argparse.Namespace) -> int:
    settings = _ensure_github_secret(_settings())
    store = secretstore.from_settings(settings)
    signer = stored.Signer(
        github=settings.github_secrets[0] if settings.github_secrets else None,
        wandb_token=settings.wandb_token,
        wandb_secret=settings.wandb_secret,
    )
    try:
        deliveries, made = stored.signable(list(stored.load([Path(p) for p in args.paths], args.source)), signer, store)
    except (ValueError, secretstore.StoreError) as exc:
        print(f"orgpulse: {exc}", file=sys.stderr)
        return 2
    # An Asana handshake this replay makes first: its deliveries are signed with that secret.
    signer.asana_secret = lambda name: made.get(name) or secretstore.get_secret(store, name)
    send = _sender(args.url, settings, signer)
    failures = 0
    for delivery in tqdm(deliveries, desc="replay", unit="delivery", file=sys.stderr, disable=None):
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


def asana_webhooks(args: argparse.Namespace) -> int:
    settings = _settings()
    store = secretstore.from_settings(settings)
    if args.action == "arm":
        secretstore.arm(store, args.name, args.seconds)
        print(f"armed {args.name} for a handshake within {args.seconds:.0f} s")
        return 0
    if settings.asana_token is None:
        print("orgpulse: ASANA_ACCESS_TOKEN (or _FILE) is required", file=sys.stderr)
        return 2
    token = settings.asana_token.reveal().decode()
    if args.action == "create":
        hook = admin.create(
            store, token, settings.asana_base_url, args.name, args.resource, args.receiver_url, args.filter or []
        )
        print(
            f"created webhook {hook['gid']} for resource {args.resource} → "
            f"{admin.target_url(args.receiver_url, args.name)} (handshake completed)"
        )
    elif args.action == "list":
        workspace = args.workspace or settings.section("asana")["workspace"]
        for hook in admin.list_webhooks(token, settings.asana_base_url, workspace):
            print(
                f"{hook['gid']}  active={hook.get('active')}  "
                f"resource={(hook.get('resource') or {}).get('gid')}  {hook.get('target')}"
            )
    else:
        admin.delete(store, token, settings.asana_base_url, args.gid, args.name)
        print(f"deleted webhook {args.gid}" + (f" and forgot {args.name}'s secret" if args.name else ""))
    return 0


def register(sub) -> None:
    """The receiver's commands, on the `orgpulse` command's subparsers."""
    p = sub.add_parser("serve", help="run the webhook receiver (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(run=serve)
    p = sub.add_parser("replay", help="post stored deliveries, signed, and print what was emitted")
    p.add_argument("paths", nargs="+", help=".jsonl capture files, octokit example files or trees")
    p.add_argument("--url", help="receiver base URL (default: an in-process app)")
    p.add_argument(
        "--source",
        choices=("github", "wandb"),
        default="github",
        help="what .json example files are (captures say it themselves)",
    )
    p.set_defaults(run=replay)
    p = sub.add_parser("asana", help="manage Asana webhooks")
    p.set_defaults(run=asana_webhooks)
    hooks = (
        p.add_subparsers(dest="what", required=True).add_parser("webhooks").add_subparsers(dest="action", required=True)
    )
    c = hooks.add_parser("create", help="arm NAME, create the webhook; Asana handshakes at once")
    c.add_argument("--name", required=True, help="the webhook's name: /webhooks/asana/<name>")
    c.add_argument("--resource", required=True, help="gid of the project (or other resource)")
    c.add_argument("--receiver-url", required=True, help="public base URL of the receiver")
    c.add_argument(
        "--filter", action="append", help="resource_type[:action[:field,…]], repeatable (e.g. task:changed:completed)"
    )
    c = hooks.add_parser("list", help="list the workspace's webhooks")
    c.add_argument("--workspace", help="workspace gid (default: asana.workspace)")
    c = hooks.add_parser("delete", help="delete a webhook (and forget its name's secret)")
    c.add_argument("gid")
    c.add_argument("--name")
    c = hooks.add_parser("arm", help="allow a handshake for NAME (webhooks made elsewhere)")
    c.add_argument("name")
    c.add_argument("--seconds", type=float, default=600)
