"""The YAML file's schema (ORGPULSE_CONFIG): every section orgpulse reads, each option
with its default and a check that returns a problem or None. config.load() validates
the file with validate_options(); unknown sections and keys are errors (typos)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

# The generic checks (orgpulse/validators.py), under the short names the schema below uses.
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import one_of as _one_of
from orgpulse.validators import regex as _regex
from orgpulse.validators import sections as _sections
from orgpulse.validators import slash_pairs as _slash_pairs
from orgpulse.validators import str_list as _str_list


@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any], str | None]  # returns a problem, or None
    # What the option means, for people: docs/generate.py writes the settings reference
    # from it, so the reference cannot drift from the schema (a test requires one each).
    doc: str = ""


# Every section orgpulse reads. OTHER_SECTIONS (below) are accepted as mappings and
# validated by the part that uses them.
SCHEMA: dict[str, dict[str, Option]] = {
    "github": {
        "repositories": Option(
            [],
            _slash_pairs("owner/name"),
            doc=(
                "Repositories (owner/name) the poller measures, and the `repo` tag allow-list: a "
                "repository not listed is tagged `repo:other`. Setting it turns the github and dora "
                "collectors (and their monitors) on."
            ),
        ),
        "hotfix_pattern": Option(
            r"(?i)\bhot-?fix\b",
            _regex,
            doc=(
                "Regular expression on branch names and commit messages that marks a hotfix "
                "(`github.commits.hotfix`, DORA's `hotfix` failure signal)."
            ),
        ),
        "benchmark_workflows": Option(
            r"(?i)bench",
            _regex,
            doc=(
                "Regular expression on workflow names: matching workflows feed "
                "`github.ci.benchmarks_passing`, never `github.ci.tests_passing_on_main`."
            ),
        ),
        "workflows": Option(
            [], _str_list, doc=("`workflow` tag allow-list; empty: the first `max_workflows` names seen.")
        ),
        "max_workflows": Option(
            50,
            _at_least(1),
            doc=("Without a `workflows` list: distinct `workflow` tag values kept; later ones are `other`."),
        ),
        "environments": Option(
            [],
            _str_list,
            doc=(
                "Deployment `environment` tag allow-list; empty: the first `max_environments` seen. "
                "Which environments are production is `dora.production`."
            ),
        ),
        "max_environments": Option(
            20, _at_least(1), doc=("Without an `environments` list: distinct `environment` tag values kept.")
        ),
        "max_repositories": Option(
            200,
            _at_least(1),
            doc=(
                "Without a `repositories` list: the first N repositories seen keep their name, later "
                "ones are tagged `repo:other`."
            ),
        ),
        "hooks": Option(
            {},
            lambda v: (
                None
                if isinstance(v, dict)
                and all(isinstance(k, str) and k.count("/") == 1 and isinstance(i, int) for k, i in v.items())
                else f"must map owner/name to a webhook id, got {v!r}"
            ),
            doc=(
                "`{owner/name: hook id}`: repository webhooks whose failed deliveries of the last "
                "3 days the poller asks GitHub to redeliver, once each (GitHub never retries by itself; "
                "needs the Webhooks read and write permission)."
            ),
        ),
        "budget_share": Option(
            0.10,
            lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1 else f"must be in (0, 1], got {v!r}",
            doc=(
                "The poller's share of the token's (or each app installation's) hourly REST limit and "
                "of its GraphQL points, shared by the github and dora collectors; the rest is left to "
                "people and CI."
            ),
        ),
        # 0.25 s is PyGithub's own pacing; GraphQL, sent as POST, is paced as a write.
        "request_interval_seconds": Option(
            0.25,
            lambda v: None if isinstance(v, (int, float)) and 0 <= v <= 10 else f"must be in [0, 10], got {v!r}",
            doc=("Pause between the poller's GitHub requests (GraphQL: at least 1 s); 0 against a local fake."),
        ),
    },
    "receiver": {
        "capture": Option(
            False,
            _is(bool, "true or false"),
            doc=(
                "Append verified deliveries to `<data dir>/captures/<source>.jsonl` (0600; no signatures, "
                "tokens or handshake secrets), for `orgpulse replay`."
            ),
        ),
        "capture_max_bytes": Option(
            100 * 1024 * 1024, _at_least(0), doc=("A capture file stops growing at this size.")
        ),
        # GitHub lets an operator redeliver for 3 days: remember ids that long.
        "dedup_ttl_seconds": Option(
            72 * 3600,
            _at_least(72 * 3600),
            doc=(
                "How long a delivery id (for Asana and W&B, an identical body) is answered `duplicate`; at least 72 h."
            ),
        ),
        # ~280 bytes an entry (bench/handlers.py): 100,000 entries ≈ 27 MiB of the worker.
        "dedup_max_entries": Option(
            100_000, _at_least(1000), doc=("Entries of the in-memory dedup cache (~280 bytes each).")
        ),
        "secret_store": Option(
            "file",
            _one_of("file", "kubernetes"),
            doc=(
                "Where Asana handshake secrets are kept: `file` (`<data dir>/webhook-secrets.json`) or "
                "`kubernetes` (one Secret every replica reads; needed with more than one replica)."
            ),
        ),
        "kubernetes_secret": Option(
            "orgpulse-webhook-secrets", _is(str, "a string"), doc=("The Secret of `secret_store: kubernetes`.")
        ),
        "kubernetes_namespace": Option(
            "", _is(str, "a string"), doc=("That Secret's namespace; empty: the pod's own.")
        ),
        "kubernetes_api_url": Option(
            "",
            _is(str, "a string"),
            doc=("The Kubernetes API for the secret store; empty: in-cluster (`KUBERNETES_SERVICE_HOST`)."),
        ),
        "kubernetes_token_file": Option(
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            _is(str, "a path"),
            doc=("The service account token the secret store authenticates with."),
        ),
        "kubernetes_ca_file": Option(
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            _is(str, "a path"),
            doc=("The CA bundle that verifies the API server (used when the file exists)."),
        ),
        "dedup_backend": Option(
            "memory",
            _one_of("memory", "redis"),
            doc=("`memory` (one replica) or `redis` (claims shared by every replica; needs a Redis URL)."),
        ),
        "request_deadline_seconds": Option(
            10,
            _at_least(1),
            doc=(
                "A request (headers and body) not complete this long after its first byte is answered "
                "408 and closed (GitHub and Asana give up after 10 s anyway)."
            ),
        ),
        "buffer_budget_bytes": Option(
            64 * 1024 * 1024,
            _at_least(1024 * 1024),
            doc=(
                "Bytes of requests still arriving that the worker holds in memory; past it, requests "
                "are read by its threads."
            ),
        ),
        "redis_url": Option(
            "",
            lambda v: (
                None
                if isinstance(v, str) and (v == "" or v.startswith(("redis://", "rediss://", "unix://")))
                else f"must be redis://host:port/db, rediss://… or unix://…, got {v!r}"
            ),
            doc=(
                "`redis://host:port/db` (or `rediss://`, `unix://`) for the shared dedup and DORA's "
                "high-water marks. A URL with a password goes in `ORGPULSE_REDIS_URL_FILE`, which wins."
            ),
        ),
        "status_page": Option(
            None,
            lambda v: (
                None
                if v is None or isinstance(v, bool)
                else f"must be true, false or null (local mode only), got {v!r}"
            ),
            doc=(
                "`GET /status` and `/status.json`: `true`, `false`, or `null` = on only in local mode "
                "(the log sink). The page shows repository, project and namespace names."
            ),
        ),
        "public_url": Option(
            "",
            lambda v: (
                None
                if isinstance(v, str) and (v == "" or re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", v))
                else f"must be an http(s):// URL without query, got {v!r}"
            ),
            doc=(
                "The receiver's address as providers reach it (e.g. `https://hooks.example.com`): the "
                "status page shows the webhook URLs to paste from it. Empty: the address the page was "
                "asked on."
            ),
        ),
    },
    "asana": {
        "workspace": Option(
            "",
            _is(str, "a workspace gid"),
            doc=(
                "Workspace gid: the projects the poller reads and `orgpulse asana webhooks list`. "
                "Setting it turns the asana collector (with `ASANA_ACCESS_TOKEN`) and its monitors on."
            ),
        ),
        "bugs_project": Option(
            "",
            _is(str, "a project gid"),
            doc=("Project gid whose tasks are bugs (`asana.bugs.*`, `asana.projects.bugs.*`)."),
        ),
        "sections": Option(
            {"triage": ["triage"], "active": ["active", "in progress"], "backlog": ["backlog"]},
            _sections,
            doc=(
                "Bucket → section-name substrings (case-insensitive) of the bugs project's sections; "
                "a bug in no bucket is `other`."
            ),
        ),
        "projects": Option(
            [], _str_list, doc=("Project-name (`project` tag) allow-list; empty: the first `max_projects` seen.")
        ),
        "max_projects": Option(
            50, _at_least(1), doc=("Without a `projects` list: distinct `project` tag values kept.")
        ),
        "requests_per_minute": Option(
            150,
            _at_least(1),
            doc=("Enrichment's cap on Asana API requests (Asana: 150 a minute on free plans, 1,500 paid)."),
        ),
        "enrich_workers": Option(
            2, _at_least(1), doc=("Background workers fetching what Asana's compact events lack.")
        ),
        "enrich_queue": Option(
            10_000,
            _at_least(10),
            doc=(
                "Enrichment jobs waiting; a full queue drops jobs and counts them "
                "(`orgpulse.enrichment.jobs{outcome:dropped}`)."
            ),
        ),
        "request_timeout_seconds": Option(
            10, _at_least(1), doc=("Timeout of each Asana API request (enrichment and the poller).")
        ),
    },
    "wandb": {
        "projects": Option(
            [],
            _slash_pairs("entity/project"),
            doc=(
                "`entity/project` list: the `project` tag allow-list and the projects the poller reads "
                "(with `WANDB_API_KEY`). Setting it turns the wandb monitors on."
            ),
        ),
        "max_projects": Option(
            50, _at_least(1), doc=("Without a `projects` list: distinct `project` tag values kept.")
        ),
        "dedup": Option(
            True,
            _is(bool, "true or false"),
            doc=("Count identical bodies once within the dedup TTL (W&B sends no delivery id)."),
        ),
        "summary_keys": Option(
            {},
            lambda v: (
                None
                if isinstance(v, dict) and set(v) <= {"accuracy", "loss", "steps_per_second"}
                else f"keys must be among accuracy, loss, steps_per_second, got {v!r}"
            ),
            doc=(
                "Which run summary key holds `accuracy` and `loss`, and which keys hold "
                "`steps_per_second` (a list: the first a run reports wins); defaults `accuracy`, `loss`, "
                "`[overview/steps_per_second, overview/sps]`."
            ),
        ),
        "run_classes": Option(
            {},
            lambda v: (
                None
                if isinstance(v, dict) and all(_regex(p) is None for p in v.values())
                else f"must map class names to regular expressions, got {v!r}"
            ),
            doc="Run class → regular expression on the run's name (`push_to_main: '^github\\.sky\\.'`): "
            "the `run_class` gauges.",
        ),
    },
}
SCHEMA["kubernetes"] = {
    "namespaces": Option(
        [], _str_list, doc=("Namespaces the informer watches: `[]` = all (one watch), else one watch per namespace.")
    ),
    "label_selector": Option(
        "",
        _is(str, "a label selector"),
        doc=("Label selector of the pods watched (and of the metrics.k8s.io usage listed); empty: all."),
    ),
    "watch_timeout_seconds": Option(
        300,
        _at_least(10),
        doc=("The server ends each watch after this long; the informer resumes it (a `timeout` restart)."),
    ),
    "gauge_interval_seconds": Option(
        60, _at_least(5), doc=("How often the informer sends its gauges and writes its part of the state file.")
    ),
    "lease_enabled": Option(
        True,
        _is(bool, "true or false"),
        doc=("Leader election: every replica watches, only the holder of the Lease emits."),
    ),
    "lease_namespace": Option("", _is(str, "a namespace"), doc="The Lease's namespace; empty: the pod's own."),
    "lease_name": Option("orgpulse-leader", _is(str, "a name"), doc="The coordination.k8s.io Lease's name."),
    "lease_seconds": Option(
        15,
        _at_least(3),
        doc=("The Lease's duration; a holder that cannot renew stops emitting a second before it can be taken."),
    ),
    "renew_seconds": Option(5, _at_least(1), doc="How often the holder renews the Lease."),
}
SCHEMA["poller"] = {
    "interval_seconds": Option(900, _at_least(10), doc=("Seconds between the poller's cycles (±10 % jitter).")),
    "collector_timeout_seconds": Option(
        120,
        _at_least(1),
        doc=(
            "A collector's time limit in a cycle; a hung one is not started again until it returns. "
            "Keep it under twice `interval_seconds`."
        ),
    ),
    "max_age_cycles": Option(
        2,
        _at_least(1),
        doc=("FoM scores use inputs no older than this many cycles; an older or missing input: no score."),
    ),
    "run_informer": Option(
        True,
        _is(bool, "true or false"),
        doc=("In a cluster (`KUBERNETES_SERVICE_HOST`), run the pod informer inside the poller process."),
    ),
    "backfill_stall_cycles": Option(
        4,
        _at_least(1),
        doc=(
            "A first-cycle backfill (github, dora) cut short this many cycles in a row without progress "
            "counts `orgpulse.collector.errors{reason:backfill_stalled}`; while it progresses it is pending."
        ),
    ),
}
SCHEMA["aws"] = {
    "regions": Option(
        [], _str_list, doc=("Regions the EC2 collector reads; `[]` = EC2 off. Setting it turns the ec2 monitors on.")
    ),
    "prices": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
            else f"must map instance types to USD per hour, got {v!r}"
        ),
        doc=("Fallback on-demand prices, instance type → USD per hour, for what the Pricing API does not price."),
    ),
    "idle_cpu_pct": Option(
        5.0,
        lambda v: None if isinstance(v, (int, float)) and 0 < v < 100 else f"must be a percentage, got {v!r}",
        doc=("A running instance whose CloudWatch CPU averaged below this over the last hour is idle."),
    ),
    "cost_explorer": Option(
        True,
        _is(bool, "true or false"),
        doc=("Send `ec2.cost.month_to_date_usd` from Cost Explorer (asked at most every 6 hours; $0.01 a call)."),
    ),
}


def _formula_overrides(value: Any) -> str | None:
    """The shape; the names and their parameters are fom's (its check, CHECKS_GROUP)."""
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(p, dict) for k, p in value.items()):
        return None
    return f"must be a mapping of area.name to a mapping of parameters, got {value!r}"


def _thresholds(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and set(value) == {"green", "yellow"}
        and all(isinstance(v, (int, float)) for v in value.values())
        and 0 <= value["yellow"] <= value["green"] <= 1
    )
    return None if ok else f"must be {{green, yellow}} with 0 <= yellow <= green <= 1, got {value!r}"


SCHEMA["fom"] = {
    "thresholds": Option(
        {"green": 0.7, "yellow": 0.3},
        _thresholds,
        doc=(
            "The bands of every score: green ≥ green, yellow ≥ yellow, red below (the health grid, "
            "the status page, the FoM monitor)."
        ),
    ),
    "formulas": Option(
        {},
        _formula_overrides,
        doc=(
            "Parameter overrides per formula, `area.name: {param: value}` (e.g. "
            "`ci.failing_workflows: {limit: 5}`), checked against the formula table."
        ),
    ),
    "area_weights": Option(
        {},
        lambda v: None if isinstance(v, dict) else f"must be a mapping, got {v!r}",
        doc="Weight of each area in `health.overall.fom` (every area weighs 1 by default).",
    ),
}
SCHEMA["skypilot"] = {
    "regions": Option([], _str_list, doc=("`region` tag allow-list of running jobs; other regions are `other`.")),
    "gpu_prices": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
            else f"must map accelerator names to USD per GPU-hour, got {v!r}"
        ),
        doc=("USD per GPU-hour by accelerator, for `skypilot.cost.hourly_estimate`; unpriced GPUs are counted."),
    ),
    "spot_price_factor": Option(
        0.35,
        lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1 else f"must be in (0, 1], got {v!r}",
        doc=("Multiplier on `gpu_prices` for spot jobs."),
    ),
    "request_timeout_seconds": Option(60, _at_least(1), doc=("Timeout of a request to the SkyPilot API server.")),
}
DORA_SIGNALS = ("deployment_failure", "rollback", "revert", "hotfix", "incident")


def _deploy_workflows(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k.count("/") == 1 and isinstance(v, str) and v.endswith((".yml", ".yaml"))
        for k, v in value.items()
    )
    return None if ok else f"must map owner/name to a workflow file (deploy.yml), got {value!r}"


def _signals(value: Any) -> str | None:
    bad = _str_list(value)
    unknown = [] if bad else sorted(set(value) - set(DORA_SIGNALS))
    return bad or (f"unknown signal(s) {unknown} (known: {list(DORA_SIGNALS)})" if unknown else None)


# DORA's four keys (docs/sources/dora.md): which deployments are production, where a repository
# records them, and what marks a change as failed.
SCHEMA["dora"] = {
    "production": Option(
        r"^prod(uction)?$",
        _regex,
        doc=("Regular expression (case-insensitive) on the environment name: which deployments are production."),
    ),
    "deploy_workflows": Option(
        {},
        _deploy_workflows,
        doc=(
            "`{owner/name: deploy.yml}`: that workflow's successful default-branch runs are the "
            "repository's deployments (and its Deployments API is ignored)."
        ),
    ),
    "failure_signals": Option(
        list(DORA_SIGNALS),
        _signals,
        doc=(
            "What marks a production deployment failed: any of `deployment_failure`, `rollback`, "
            "`revert`, `hotfix`, `incident`."
        ),
    ),
    "failure_window_hours": Option(
        24, _at_least(1), doc=("A signal within this window after a deployment marks it failed.")
    ),
    "incident_label": Option(
        "incident",
        _is(str, "a label name"),
        doc=("GitHub issues with this label are incidents; empty: no GitHub incidents."),
    ),
    "incidents_project": Option(
        "",
        _is(str, "an Asana project gid"),
        doc=("Asana project gid whose tasks are incidents (needs `ASANA_ACCESS_TOKEN`); empty: none."),
    ),
    "restore_from_failed_deployments": Option(
        False,
        _is(bool, "true or false"),
        doc=("Time to restore also from a failed production deployment to the next success."),
    ),
}


# --- monitors: notification handles and thresholds of the monitors and SLOs that
# `orgpulse dashboards` builds, per environment (production and staging may differ).
def _handles(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.startswith("@") and " " not in v for v in value):
        return None
    return f"must be a list of notification handles like @slack-channel, got {value!r}"


def _monitor_thresholds(value: Any) -> str | None:
    """Names mapped to numbers. Which names exist, and the order of a warning and its critical,
    are the dashboards' to check (`orgpulse dashboards validate | render | diff | apply`):
    the monitors are defined there, and the receiver and the poller never load them."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return f"must map threshold names to numbers, got {value!r}"
    bad = {k: v for k, v in value.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    return f"thresholds must be numbers, got {bad!r}" if bad else None


def _monitor_environments(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"must map environment names to {{notify, thresholds}}, got {value!r}"
    for env, given in value.items():
        if not isinstance(given, dict) or set(given) - {"notify", "thresholds"}:
            return f"{env}: only notify and thresholds may be set, got {given!r}"
        bad = _handles(given.get("notify", [])) or _monitor_thresholds(given.get("thresholds", {}))
        if bad:
            return f"{env}: {bad}"
    return None


# The sources whose monitors `monitors.sources` may list (dashboards/context.py).
MONITOR_SOURCES = ("github", "dora", "asana", "wandb", "ec2", "skypilot", "kubernetes")
_TAG_VALUE = re.compile(r"^[a-z][a-z0-9_.:/-]*$")  # Datadog's tag value characters


def _sources(value: Any) -> str | None:  # None: derived from the collectors' options
    bad = None if value is None else _str_list(value)
    unknown = sorted(set(value or []) - set(MONITOR_SOURCES)) if not bad else []
    return bad or (f"unknown source(s) {unknown} (known: {list(MONITOR_SOURCES)})" if unknown else None)


def _default_env(value: Any) -> str | None:
    ok = value == "*" or isinstance(value, str) and _TAG_VALUE.match(value)
    return None if ok else f"must be * or an env tag value (lowercase, e.g. production), got {value!r}"


SCHEMA["monitors"] = {
    "notify": Option(
        [],
        _handles,
        doc=("Notification handles added to every monitor's message (an environment's own list replaces it)."),
    ),
    "thresholds": Option(
        {},
        _monitor_thresholds,
        doc=("Overrides of the monitors' and SLOs' thresholds, by name (the dashboards reference lists them)."),
    ),
    "environments": Option(
        {},
        _monitor_environments,
        doc=("Per environment, `{notify, thresholds}` over the two keys above; when set, `--env` must be one of them."),
    ),
    "default_env": Option("*", _default_env, doc="The dashboards' `$env` template variable default."),
    "sources": Option(
        None,
        _sources,
        doc=(
            "Whose monitors to build (github, dora, asana, wandb, ec2, skypilot, kubernetes); "
            "unset: the sources configured in this file."
        ),
    ),
}
OTHER_SECTIONS: tuple[str, ...] = ()

# Checks that a package above the kernel registers for a setting whose meaning it owns
# (pyproject.toml: fom checks `fom.formulas` against its formula table): entry point name
# `section.key`, value a function of the value returning a problem or None. Each runs once
# the kernel's own check of that value's shape passed.
CHECKS_GROUP = "orgpulse.config_checks"


@functools.lru_cache(maxsize=1)
def registered_checks() -> dict[str, Callable[[Any], str | None]]:
    """section.key → the check its owner registered (loaded once per process)."""
    return {ep.name: ep.load() for ep in entry_points(group=CHECKS_GROUP)}


def validate_options(raw: Any, problems: list[str]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"ORGPULSE_CONFIG: the top level must be a mapping, got {type(raw).__name__}")
        return validate_options({}, problems)
    unknown = sorted(set(raw) - set(SCHEMA) - set(OTHER_SECTIONS))
    if unknown:
        problems.append(f"ORGPULSE_CONFIG: unknown section(s) {unknown}")
    options: dict[str, Any] = {}
    for section, fields in SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            problems.append(f"ORGPULSE_CONFIG: {section} must be a mapping")
            given = {}
        for key in sorted(set(given) - set(fields)):
            problems.append(f"ORGPULSE_CONFIG: {section}.{key} is not a known setting")
        values = {}
        for key, opt in fields.items():
            value = given.get(key, opt.default)
            owner = registered_checks().get(f"{section}.{key}")
            bad = opt.check(value) or (owner(value) if owner else None)
            if bad:
                problems.append(f"ORGPULSE_CONFIG: {section}.{key} {bad}")
            values[key] = value
        options[section] = values
    for section in OTHER_SECTIONS:
        if section in raw:
            options[section] = raw[section]
    return options
