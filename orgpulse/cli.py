"""`orgpulse` — serve | poll | informer | replay | catalog | asana webhooks | probe | dashboards.

Each command is a function registered in COMMANDS; main() parses arguments,
loads settings once (a bad setting exits 2 with every problem listed) and
dispatches.
"""
from __future__ import annotations

import argparse
import sys
import time
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

    from receiver import create_app, status
    from receiver.server import gunicorn_conf

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
    print(f"orgpulse: receiver on {url} (sink: {settings.sink}), POST /webhooks/github{page}",
          file=sys.stderr)
    for line in _try_locally(settings, url) if settings.sink == "log" else []:  # local mode
        print(line, file=sys.stderr)
    Server().run()
    return 0


def _try_locally(settings: config.Settings, url: str) -> list[str]:
    """How to try each source the receiver cannot count yet (the README's examples, working)."""
    from receiver import missing

    try:
        lacking = [name for name, lacks in missing(settings).items() if lacks]
    except config.ConfigError:
        return []  # the secret store's settings: the app says so as it starts
    prog = sys.argv[0] if Path(sys.argv[0]).name == "orgpulse" else "orgpulse"
    return ["orgpulse: " + TRY_LOCALLY[name].format(prog=prog, url=url)
            for name in lacking if name in TRY_LOCALLY]


# What `make run` says about a source it cannot count yet, in local mode.
TRY_LOCALLY = {
    "wandb": "W&B deliveries get 503 (no WANDB_WEBHOOK_TOKEN): to try them, `WANDB_WEBHOOK_TOKEN=try-me make run` "
             "and `WANDB_WEBHOOK_TOKEN=try-me {prog} replay --source wandb tests/fixtures/wandb --url {url}`",
    "asana": "Asana deliveries get 404 (no webhook handshake yet): to try them, `{prog} asana webhooks arm "
             "engineering`, then `{prog} replay tests/fixtures/asana/deliveries.jsonl --url {url}` "
             "(it makes the handshake first, as Asana does)",
}


def informer(args: argparse.Namespace) -> int:
    """Run the pod informer alone until SIGTERM/SIGINT (the poller runs it too, later)."""
    import signal
    import threading

    from orgpulse import logs
    from orgpulse.emit import Emitter, build_sink
    from pollers.kubernetes import client as kube
    from pollers.kubernetes.informer import Informer
    from orgpulse.state import StateFile

    settings = _settings()
    logs.setup(settings.log_level)
    opts = settings.section("kubernetes")
    try:
        api = kube.api_client(settings)
    except Exception as exc:  # noqa: BLE001 - no cluster config: say so and stop
        print(f"orgpulse: no Kubernetes configuration: {exc}", file=sys.stderr)
        return 2
    elector = _elector(settings)
    emitter = Emitter(build_sink(settings))
    watcher = Informer(api, emitter, opts, elector, state=StateFile(settings.data_dir))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    watcher.start()
    print(f"orgpulse: informer watching {', '.join(opts['namespaces']) or 'all namespaces'}"
          f"{' (leader election on)' if elector else ''}", file=sys.stderr)
    done.wait()
    watcher.stop()
    if elector:
        elector.stop()
    emitter.close()
    return 0


def poll(args: argparse.Namespace) -> int:
    """Collectors every poller.interval_seconds (jittered), FoM scores after each cycle."""
    import signal
    import threading

    from fom.scores import score_metrics
    from orgpulse import logs
    from orgpulse.emit import Emitter, build_sink
    from pollers import registry
    from orgpulse import state
    from pollers.loop import Poller
    from pollers.values import ValueStore

    settings = _settings()
    logs.setup(settings.log_level)
    opts = settings.section("poller")
    elector = _elector(settings) if settings.kubernetes_api_url else None
    collectors = registry.build(settings, elector)
    if args.only and args.only not in collectors:
        print(f"orgpulse: no collector {args.only!r} (configured: {sorted(collectors)})", file=sys.stderr)
        return 2
    max_age = opts["interval_seconds"] * opts["max_age_cycles"]
    fom = settings.section("fom")

    def score(values, now):
        return score_metrics(lambda name, agg, where: values.get(name, max_age, agg, where), fom, now)

    emitter = Emitter(build_sink(settings))
    values = ValueStore()
    states = state.StateFile(settings.data_dir)  # the liveness probe's and status page's view
    if not args.once:
        states.update(state.started(time.time(), opts["interval_seconds"], state.role(elector)))
    poller = Poller(collectors, emitter, values, score, elector, opts["interval_seconds"], state=states)
    if opts["run_informer"] and settings.kubernetes_api_url and not args.once:
        _start_informer(settings, poller, elector)
    if args.once:
        return _poll_once(poller, args.only)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (done.set(), poller.stop()))
    worker = threading.Thread(target=poller.run_forever, name="poller", daemon=True)
    worker.start()
    done.wait()
    worker.join(timeout=opts["collector_timeout_seconds"])  # finish the cycle under way
    emitter.close()
    return 0


def _poll_once(poller, only: str | None) -> int:
    """One cycle. On a terminal: the first cycle's pages per GitHub repository as it goes,
    then a table per collector; on a pipe or in a log, one line per collector."""
    from orgpulse import termui

    bars = termui.PageBars("github", sys.stderr) if sys.stderr.isatty() else None
    for collector in poller.collectors.values():
        if bars is not None and collector.on_progress is not None:
            collector.on_progress(bars)
    results = poller.run_once(only)
    poller.emitter.close()
    if bars is not None:
        bars.close()
        print(termui.poll_summary(poller.report), file=sys.stderr)
    else:
        for line in termui.poll_lines(poller.report):
            print(line, file=sys.stderr)
    return 0 if all(results.values()) else 1


def _start_informer(settings: config.Settings, poller, elector) -> None:
    """The informer inside the poller: its gauges also feed the FoM inputs."""
    from pollers.kubernetes import client as kube
    from pollers.kubernetes.informer import Informer

    class Tap:  # record what the informer emits, then send it
        def emit(self, metrics):
            poller.values.record(metrics)
            return poller.emitter.emit(metrics)

    Informer(kube.api_client(settings), Tap(), settings.section("kubernetes"), elector,
             state=poller.state).start()


def _elector(settings: config.Settings):
    from pollers.kubernetes import client as kube
    from pollers.kubernetes.informer import identity
    from pollers.kubernetes.lease import LeaderElector

    opts = settings.section("kubernetes")
    if not opts["lease_enabled"]:
        return None
    elector = LeaderElector(kube.api_client(settings), opts["lease_namespace"] or kube.own_namespace(),
                            opts["lease_name"], identity(), opts["lease_seconds"], opts["renew_seconds"])
    elector.start()
    return elector


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
    from receiver import create_app

    client = create_app(settings).test_client()

    def send(d) -> tuple[int, bytes]:
        response = client.post(d.path, data=d.body, headers=signer.headers(d))
        return response.status_code, response.get_data()
    return send


def replay(args: argparse.Namespace) -> int:
    import orjson
    from tqdm import tqdm

    from receiver import replay as stored
    from receiver import secretstore

    settings = _ensure_github_secret(_settings())
    store = secretstore.from_settings(settings)
    signer = stored.Signer(
        github=settings.github_secrets[0] if settings.github_secrets else None,
        wandb_token=settings.wandb_token, wandb_secret=settings.wandb_secret)
    try:
        deliveries, made = stored.signable(list(stored.load([Path(p) for p in args.paths], args.source)),
                                           signer, store)
    except (ValueError, secretstore.StoreError) as exc:
        print(f"orgpulse: {exc}", file=sys.stderr)
        return 2
    # An Asana handshake this replay makes first: its deliveries are signed with that secret.
    signer.asana_secret = lambda name: made.get(name) or secretstore.get_secret(store, name)
    send = _sender(args.url, settings, signer)
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


def probe(args: argparse.Namespace) -> int:
    """A liveness probe: exit 0 when the target's part of the state file is fresh, else 1,
    with one line saying why (the kubelet shows it in the pod's events)."""
    from orgpulse import state

    store = state.StateFile(_settings().data_dir)
    try:
        doc = store.read()
    except state.StateError as exc:
        print(f"{args.target}: {exc}")
        return 1
    healthy, line = state.verdict(doc, time.time(), args.target)
    print(line if doc else f"{args.target}: no state file at {store.path} yet")
    return 0 if healthy else 1


def catalog(args: argparse.Namespace) -> int:
    from orgpulse.metrics import catalog as rows
    from orgpulse.termui import table

    known = sorted({r.source for r in rows().values() if r.source})
    if args.source is not None and args.source not in known:
        print(f"orgpulse: no source {args.source!r} in the catalog (known: {', '.join(known)})",
              file=sys.stderr)
        return 2
    chosen = [[r.name, r.type, r.unit or "-", r.source or "-", " ".join(sorted(r.tags)) or "-"]
              for r in rows().values() if args.source in (None, r.source)]
    print(table(["name", "type", "unit", "source", "tags"], chosen))
    return 0


def asana_webhooks(args: argparse.Namespace) -> int:
    from receiver import secretstore
    from receiver.sources.asana import admin

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
        hook = admin.create(store, token, settings.asana_base_url, args.name, args.resource,
                            args.receiver_url, args.filter or [])
        print(f"created webhook {hook['gid']} for resource {args.resource} → "
              f"{admin.target_url(args.receiver_url, args.name)} (handshake completed)")
    elif args.action == "list":
        workspace = args.workspace or settings.section("asana")["workspace"]
        for hook in admin.list_webhooks(token, settings.asana_base_url, workspace):
            print(f"{hook['gid']}  active={hook.get('active')}  "
                  f"resource={(hook.get('resource') or {}).get('gid')}  {hook.get('target')}")
    else:
        admin.delete(store, token, settings.asana_base_url, args.gid, args.name)
        print(f"deleted webhook {args.gid}" + (f" and forgot {args.name}'s secret" if args.name else ""))
    return 0


def dashboards(args: argparse.Namespace) -> int:
    """Dashboards, monitors and SLOs as code: the logic is in dashboards/cli.py."""
    from dashboards import cli as dashboards_cli

    return dashboards_cli.run(args, _settings())


COMMANDS = {"serve": serve, "poll": poll, "informer": informer, "replay": replay, "catalog": catalog,
            "asana": asana_webhooks, "probe": probe, "dashboards": dashboards}


def parser() -> argparse.ArgumentParser:
    from orgpulse.state import TARGETS

    top = argparse.ArgumentParser(prog="orgpulse", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the webhook receiver (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("poll", help="run the collectors and FoM scores every cycle")
    p.add_argument("--once", action="store_true", help="one cycle; exit 1 if any collector failed")
    p.add_argument("--only", help="run only this collector")
    sub.add_parser("informer", help="watch pods and emit a metric at every transition")
    p = sub.add_parser("replay", help="post stored deliveries, signed, and print what was emitted")
    p.add_argument("paths", nargs="+", help=".jsonl capture files, octokit example files or trees")
    p.add_argument("--url", help="receiver base URL (default: an in-process app)")
    p.add_argument("--source", choices=("github", "wandb"), default="github",
                   help="what .json example files are (captures say it themselves)")
    p = sub.add_parser("asana", help="manage Asana webhooks")
    hooks = p.add_subparsers(dest="what", required=True).add_parser("webhooks").add_subparsers(
        dest="action", required=True)
    c = hooks.add_parser("create", help="arm NAME, create the webhook; Asana handshakes at once")
    c.add_argument("--name", required=True, help="the webhook's name: /webhooks/asana/<name>")
    c.add_argument("--resource", required=True, help="gid of the project (or other resource)")
    c.add_argument("--receiver-url", required=True, help="public base URL of the receiver")
    c.add_argument("--filter", action="append",
                   help="resource_type[:action[:field,…]], repeatable (e.g. task:changed:completed)")
    c = hooks.add_parser("list", help="list the workspace's webhooks")
    c.add_argument("--workspace", help="workspace gid (default: asana.workspace)")
    c = hooks.add_parser("delete", help="delete a webhook (and forget its name's secret)")
    c.add_argument("gid")
    c.add_argument("--name")
    c = hooks.add_parser("arm", help="allow a handshake for NAME (webhooks made elsewhere)")
    c.add_argument("name")
    c.add_argument("--seconds", type=float, default=600)
    p = sub.add_parser("probe", help="liveness: exit 0 if the poller's state file is fresh")
    p.add_argument("target", choices=sorted(TARGETS),
                   help="poller: its cycle (and its informer's, if it runs one); informer: alone")
    from dashboards import cli as dashboards_cli

    dashboards_cli.add_arguments(sub.add_parser(
        "dashboards", help="dashboards, monitors and SLOs: validate | render | diff | apply | pull | pictures"))
    p = sub.add_parser("catalog", help="list the metric catalog")
    p.add_argument("--source", help="only this source's metrics")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
