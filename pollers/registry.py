"""The collector registry: one entry per source, built from settings with its client.

A source with no config section (or no credentials) is off and says so once.
Clients are built once and reused across cycles (connection pools), with the
SDK's own retry machinery where it has one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from orgpulse import redisconn
from orgpulse.config import Settings
from pollers.asana import AsanaPoller
from pollers.ec2.collector import Ec2Collector
from pollers.ec2.prices import CostExplorer, Prices
from pollers.loop import Collector
from pollers.skypilot.api import SkyPilotApi
from pollers.skypilot.collector import SkyPilotCollector
from pollers.wandb import LazyApi, WandbPoller, make_api

log = logging.getLogger("orgpulse.poller")


def _boto_clients() -> Callable[[str, str], object]:
    """(service, region) → a cached boto3 client: standard retries (backoff with jitter
    on throttling, 5xx and timeouts; other 4xx not retried), bounded timeouts. boto3
    reads the AWS SDK's own variables (credentials, AWS_ENDPOINT_URL, …)."""
    # boto3 takes ~0.6 s to import: a poller with no AWS region configured never loads it.
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=20,
    )
    cache: dict[tuple[str, str], object] = {}

    def client(service: str, region: str):
        if (service, region) not in cache:
            cache[(service, region)] = session.client(service, region_name=region, config=config)
        return cache[(service, region)]

    return client


def ec2(settings: Settings) -> Collector | None:
    opts = settings.section("aws")
    if not opts["regions"]:
        return None
    clients = _boto_clients()
    prices = Prices(clients("pricing", "us-east-1"), opts["prices"])  # the Pricing API lives there
    ce = CostExplorer(clients("ce", "us-east-1")) if opts["cost_explorer"] else None
    collector = Ec2Collector(clients, opts["regions"], prices, ce, opts["idle_cpu_pct"])
    return Collector("ec2", collector.collect, settings.section("poller")["collector_timeout_seconds"])


def skypilot(settings: Settings) -> Collector | None:
    if not settings.skypilot_endpoint:
        return None
    opts = settings.section("skypilot")
    token = settings.skypilot_token.reveal().decode() if settings.skypilot_token else None
    api = SkyPilotApi(settings.skypilot_endpoint, token, opts["request_timeout_seconds"])
    return Collector(
        "skypilot", SkyPilotCollector(api, opts).collect, settings.section("poller")["collector_timeout_seconds"]
    )


def asana(settings: Settings) -> Collector | None:
    opts = settings.section("asana")
    if settings.asana_token is None or not opts["workspace"]:
        return None
    poller = AsanaPoller(settings.asana_token.reveal().decode(), settings.asana_base_url, opts)
    return Collector("asana", poller.collect, settings.section("poller")["collector_timeout_seconds"])


def wandb(settings: Settings) -> Collector | None:
    opts = settings.section("wandb")
    if settings.wandb_api_key is None or not opts["projects"]:
        return None
    key = settings.wandb_api_key.reveal().decode()
    api = LazyApi(lambda: make_api(key, settings.wandb_base_url))  # built at the first cycle
    return Collector("wandb", WandbPoller(api, opts).collect, settings.section("poller")["collector_timeout_seconds"])


def _github_on(settings: Settings) -> bool:
    """A token or a GitHub App, and repositories to measure."""
    return (settings.github_token is not None or settings.github_app_id is not None) and bool(
        settings.section("github")["repositories"]
    )


def github(settings: Settings, deployments=None) -> Collector | None:
    """`deployments`: the dora collector (its production deployments are the deploy leg's)."""
    if not _github_on(settings):
        return None
    # PyGithub takes ~0.65 s to import (pollers/github/ and pollers/dora/ build on it): a poller
    # with GitHub off never loads it.
    from pollers.github.app import connect
    from pollers.github.collector import GithubCollector

    opts = settings.section("github")
    collector = GithubCollector(
        connect(settings),
        opts["repositories"],
        opts,
        deployments.deployed_at if deployments else None,
        **_backfill("github", settings),
    )
    return Collector(
        "github",
        collector.collect,
        settings.section("poller")["collector_timeout_seconds"],
        on_progress=collector.report_pages,
    )


def _asana_incidents(settings: Settings):
    """The Asana incidents project's tasks (open, and completed in the window), through the
    Asana collector's client; None without a project or a token."""
    project = settings.section("dora")["incidents_project"]
    if not project or settings.asana_token is None:
        return None
    poller = AsanaPoller(settings.asana_token.reveal().decode(), settings.asana_base_url, settings.section("asana"))
    return lambda since: poller._tasks(project, since)


def _dora(settings: Settings, elector=None):
    """DORA's four keys for github.repositories (pollers/dora/collector.py): the DoraCollector, or None."""
    if not _github_on(settings):
        return None
    from pollers.dora.collector import DoraCollector  # PyGithub, as in github()
    from pollers.dora.marks import Marks
    from pollers.github.app import connect

    opts = settings.section("github")
    marks = Marks(settings.data_dir / "dora-marks.json", redisconn.client(settings))
    return DoraCollector(
        connect(settings),
        opts["repositories"],
        settings.section("dora"),
        opts,
        marks,
        _asana_incidents(settings),
        elector.is_leader if elector else lambda: True,
        **_backfill("dora", settings),
    )


def dora(settings: Settings, elector=None, built=None) -> Collector | None:
    collector = built or _dora(settings, elector)
    return collector and Collector("dora", collector.collect, settings.section("poller")["collector_timeout_seconds"])


def _backfill(name: str, settings: Settings) -> dict:
    """The deadline and backfill of a collector whose first cycle backfills: it stops asking
    after TIME_SHARE of its timeout, so it returns in time, and resumes next cycle."""
    from pollers.github.backfill import TIME_SHARE, Backfill, Deadline  # PyGithub, as in github()

    poller = settings.section("poller")
    return {
        "deadline": Deadline(TIME_SHARE * poller["collector_timeout_seconds"]),
        "backfill": Backfill(name, poller["backfill_stall_cycles"]),
    }


BUILDERS: dict[str, Callable[[Settings], Collector | None]] = {
    "ec2": ec2,
    "skypilot": skypilot,
    "asana": asana,
    "wandb": wandb,
    "github": github,
    "dora": dora,
}


def build(settings: Settings, elector=None) -> dict[str, Collector]:
    """`elector`: the Lease holder check, for collectors that keep high-water marks (dora).
    The dora collector is made first: the github collector's deploy leg reads its records."""
    deployments = _dora(settings, elector)
    builders: dict[str, Callable[[Settings], Collector | None]] = {
        **BUILDERS,
        "github": functools.partial(github, deployments=deployments),
        "dora": functools.partial(dora, built=deployments),
    }
    out = {}
    for name, builder in builders.items():
        collector = builder(settings)
        if collector is None:
            log.warning("collector off: no configuration", extra={"collector": name})
        else:
            out[name] = collector
    return out
