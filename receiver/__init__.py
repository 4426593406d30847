"""The webhook receiver: `gunicorn 'receiver:create_app()'`.

create_app() builds everything once per worker (after gunicorn forks): the
settings, the one emitter, the dedup cache, the sources. Nothing happens at
import time. Tests inject settings and an emitter; production reads the env.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask

from orgpulse import config, logs, redisconn
from orgpulse import metrics as m
from orgpulse.emit import Emitter, build_sink
from receiver import secretstore, status
from receiver.capture import Capture
from receiver.dedup import Dedup, SharedDedup
from receiver.envelope import Envelope, Registered
from receiver.routes import bp
from receiver.sources.asana import AsanaSource
from receiver.sources.asana.enrich import AsanaApi, AsanaContext, Enricher
from receiver.sources.github import GithubSource
from receiver.sources.github.context import GithubContext
from receiver.sources.wandb import WandbSource

log = logging.getLogger("orgpulse.receiver")


@dataclass
class ReceiverState:
    settings: config.Settings
    envelope: Envelope
    sources: dict[str, Registered]


def build_enricher(settings: config.Settings, emitter: Emitter, shared=None):
    """Asana's background fetcher, when a token allows it (the asana client loads only then).
    `shared`: the replicas' claim store, so a task's change is counted once across replicas."""
    if settings.asana_token is None:
        log.warning(
            "ASANA_ACCESS_TOKEN not set: Asana task completions, cycle times and "
            "project names are not measured, only what events carry"
        )
        return None
    opts = settings.section("asana")
    api = AsanaApi(
        settings.asana_token.reveal().decode(),
        settings.asana_base_url,
        opts["request_timeout_seconds"],
        opts["requests_per_minute"],
    )
    ctx = AsanaContext(opts, settings.section("dora")["incidents_project"])
    return Enricher(api, ctx, emitter, opts["enrich_workers"], opts["enrich_queue"], changes=shared)


def build_dedup(settings: config.Settings, emitter: Emitter) -> Dedup | SharedDedup:
    """memory (one replica) or redis (shared by replicas), as receiver.dedup_backend says."""
    opts = settings.section("receiver")
    local = Dedup(opts["dedup_ttl_seconds"], opts["dedup_max_entries"])
    if opts["dedup_backend"] == "memory":
        return local

    def fallback(reason: str) -> None:
        emitter.emit([m.count("orgpulse.receiver.dedup_fallbacks", reason=reason)])

    return SharedDedup(redisconn.client(settings), local, opts["dedup_ttl_seconds"], fallback)


def build_sources(
    settings: config.Settings, emitter: Emitter | None, shared: SharedDedup | None = None
) -> dict[str, Registered]:
    """The source registry: URL name → Source. `shared` (Redis, replicas > 1): where the
    once-only facts of the sources (a deployment, an incident, a first review, an Asana
    change) are claimed, so each counts once across replicas, not once per replica.
    No emitter: sources to inspect only (no Asana enricher is started)."""
    try:
        store = secretstore.from_settings(settings)
    except secretstore.StoreError as exc:
        raise config.ConfigError([str(exc)]) from None
    return {
        "github": GithubSource(
            settings.github_secrets,
            GithubContext.from_options(settings.section("github"), settings.section("dora"), shared),
        ),
        "asana": AsanaSource(store, build_enricher(settings, emitter, shared) if emitter else None),
        "wandb": WandbSource(settings.wandb_token, settings.wandb_secret, settings.section("wandb")),
    }


def missing(settings: config.Settings) -> dict[str, list[str]]:
    """Per source, what it lacks to count deliveries (its missing(): /readyz's and the
    status page's answer), before any worker runs: `orgpulse serve` says it at start."""
    return {name: source.missing() for name, source in build_sources(settings, None).items()}


def create_app(settings: config.Settings | None = None, emitter: Emitter | None = None) -> Flask:
    settings = settings or config.load()
    logs.setup(settings.log_level)
    emitter = emitter or Emitter(build_sink(settings))
    opts = settings.section("receiver")
    capture = Capture(settings.data_dir / "captures", opts["capture_max_bytes"]) if opts["capture"] else None
    deliveries = status.DeliveryLog() if status.enabled(settings) else None
    dedup = build_dedup(settings, emitter)
    envelope = Envelope(emitter, dedup, capture, observer=deliveries.record if deliveries else None)
    sources = build_sources(settings, emitter, dedup if isinstance(dedup, SharedDedup) else None)

    app = Flask("orgpulse")
    app.extensions["orgpulse"] = ReceiverState(settings, envelope, sources)
    app.register_blueprint(bp)
    if deliveries is not None:
        status.install(app, deliveries)  # GET /status, /status.json (receiver.status_page)

    for name, source in sources.items():
        if not source.configured():
            log.warning(
                "source not configured: its deliveries are not counted",
                extra={"source": name, "missing": source.missing()},
            )
    log.info(
        "receiver ready",
        extra={"sink": settings.sink, "sources": sorted(n for n, s in sources.items() if s.configured())},
    )
    return app
