"""The YAML file's schema (ORGPULSE_CONFIG): every section orgpulse reads, each option
with its default and a check that returns a problem or None. config.load() validates
the file with validate_options(); unknown sections and keys are errors (typos)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

# The generic checks (orgpulse/validators.py), under the short names the schema below uses.
from orgpulse.validators import at_least as _at_least, is_ as _is, one_of as _one_of, regex as _regex
from orgpulse.validators import sections as _sections, slash_pairs as _slash_pairs, str_list as _str_list


@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any], str | None]  # returns a problem, or None


# Every section orgpulse reads, each key with its default and its check. A top-level section
# listed in OTHER_SECTIONS (none today) is accepted as a mapping and checked by the part using it.
SCHEMA: dict[str, dict[str, Option]] = {
    "github": {
        "repositories": Option([], _slash_pairs("owner/name")),
        "hotfix_pattern": Option(r"(?i)\bhot-?fix\b", _regex),
        "benchmark_workflows": Option(r"(?i)bench", _regex),
        "workflows": Option([], _str_list),
        "max_workflows": Option(50, _at_least(1)),
        "environments": Option([], _str_list),
        "max_environments": Option(20, _at_least(1)),
        "max_repositories": Option(200, _at_least(1)),
        # Repository webhooks whose failed deliveries the poller asks GitHub to redeliver.
        "hooks": Option({}, lambda v: None if isinstance(v, dict) and all(
            isinstance(k, str) and k.count("/") == 1 and isinstance(i, int) for k, i in v.items())
            else f"must map owner/name to a webhook id, got {v!r}"),
        # The poller's share of the token's hourly rate limit (the rest is for people and CI).
        "budget_share": Option(0.10, lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1
                               else f"must be in (0, 1], got {v!r}"),
        # Pause between the poller's requests (PyGithub's default pacing; GraphQL, sent as POST,
        # is paced as a write: at least this and 1 s). 0 for tests against a local fake.
        "request_interval_seconds": Option(0.25, lambda v: None if isinstance(v, (int, float)) and 0 <= v <= 10
                                           else f"must be in [0, 10], got {v!r}"),
    },
    "receiver": {
        "capture": Option(False, _is(bool, "true or false")),
        "capture_max_bytes": Option(100 * 1024 * 1024, _at_least(0)),
        # GitHub lets an operator redeliver for 3 days: remember ids that long.
        "dedup_ttl_seconds": Option(72 * 3600, _at_least(72 * 3600)),
        # ~280 bytes an entry (bench/handlers.py): 100,000 entries ≈ 27 MiB of the worker.
        "dedup_max_entries": Option(100_000, _at_least(1000)),
        # Where handshake secrets (Asana) live: a file in the data dir, or one
        # Kubernetes Secret shared by every replica (the chart's choice).
        "secret_store": Option("file", _one_of("file", "kubernetes")),
        "kubernetes_secret": Option("orgpulse-webhook-secrets", _is(str, "a string")),
        "kubernetes_namespace": Option("", _is(str, "a string")),  # "" = the pod's own
        "kubernetes_api_url": Option("", _is(str, "a string")),    # "" = in-cluster
        "kubernetes_token_file": Option(
            "/var/run/secrets/kubernetes.io/serviceaccount/token", _is(str, "a path")),
        "kubernetes_ca_file": Option(
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", _is(str, "a path")),
        # Deduplication shared by replicas: memory (one replica) or redis. The URL may
        # also come from ORGPULSE_REDIS_URL(_FILE), the place for one with a password.
        "dedup_backend": Option("memory", _one_of("memory", "redis")),
        # A request (headers and body) not complete this long after its first byte is
        # answered 408 and closed (GitHub and Asana give up after 10 s anyway).
        "request_deadline_seconds": Option(10, _at_least(1)),
        # Bytes of requests still arriving, buffered by the worker before a thread
        # sees them (receiver/server/worker.py); past it requests are read by threads.
        "buffer_budget_bytes": Option(64 * 1024 * 1024, _at_least(1024 * 1024)),
        "redis_url": Option("", lambda v: None if isinstance(v, str) and (
            v == "" or v.startswith(("redis://", "rediss://", "unix://")))
            else f"must be redis://host:port/db, rediss://… or unix://…, got {v!r}"),
        # GET /status and /status.json: true, false, or null = on only in local mode (the
        # log sink). The page shows repository and project names: off behind an Agent.
        "status_page": Option(None, lambda v: None if v is None or isinstance(v, bool)
                              else f"must be true, false or null (local mode only), got {v!r}"),
        # The receiver's address as providers reach it; the status page shows the webhook
        # URLs to paste from it ("" = the address the page was asked on).
        "public_url": Option("", lambda v: None if isinstance(v, str) and (
            v == "" or re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", v))
            else f"must be an http(s):// URL without query, got {v!r}"),
    },
    "asana": {
        "workspace": Option("", _is(str, "a workspace gid")),
        "bugs_project": Option("", _is(str, "a project gid")),
        # Section name (case-insensitive substring) → bucket, for the bugs project.
        "sections": Option({"triage": ["triage"], "active": ["active", "in progress"],
                            "backlog": ["backlog"]}, _sections),
        "projects": Option([], _str_list),          # project-name tag allow-list
        "max_projects": Option(50, _at_least(1)),
        "requests_per_minute": Option(150, _at_least(1)),  # Asana's free-plan limit
        "enrich_workers": Option(2, _at_least(1)),
        "enrich_queue": Option(10_000, _at_least(10)),
        "request_timeout_seconds": Option(10, _at_least(1)),
    },
    "wandb": {
        "projects": Option([], _slash_pairs("entity/project")),   # entity/project tag allow-list
        "max_projects": Option(50, _at_least(1)),
        # W&B sends no delivery id; identical bodies within the TTL count once.
        "dedup": Option(True, _is(bool, "true or false")),
        # The poller's rolling aggregates: which summary keys hold what, and run
        # classes by a regular expression on the run's name.
        "summary_keys": Option({}, lambda v: None if isinstance(v, dict) and set(v) <= {
            "accuracy", "loss", "steps_per_second"} else f"keys must be among accuracy, loss, "
            f"steps_per_second, got {v!r}"),
        "run_classes": Option({}, lambda v: None if isinstance(v, dict) and all(
            _regex(p) is None for p in v.values()) else f"must map class names to regular expressions, got {v!r}"),
    },
}
SCHEMA["kubernetes"] = {
    "namespaces": Option([], _str_list),               # [] = all namespaces
    "label_selector": Option("", _is(str, "a label selector")),
    "watch_timeout_seconds": Option(300, _at_least(10)),
    "gauge_interval_seconds": Option(60, _at_least(5)),
    # Leader election: only the Lease holder emits (one replica of the chart).
    "lease_enabled": Option(True, _is(bool, "true or false")),
    "lease_namespace": Option("", _is(str, "a namespace")),  # "" = the pod's own
    "lease_name": Option("orgpulse-leader", _is(str, "a name")),
    "lease_seconds": Option(15, _at_least(3)),
    "renew_seconds": Option(5, _at_least(1)),
}
SCHEMA["poller"] = {
    "interval_seconds": Option(900, _at_least(10)),
    "collector_timeout_seconds": Option(120, _at_least(1)),
    # Scores use inputs no older than this many cycles, else no score.
    "max_age_cycles": Option(2, _at_least(1)),
    "run_informer": Option(True, _is(bool, "true or false")),  # when a cluster is configured
    # A first-cycle backfill (github, dora) cut short this many cycles in a row without progress
    # is an error (pollers/github/backfill.py); while it progresses it is pending, not failing.
    "backfill_stall_cycles": Option(4, _at_least(1)),
}
SCHEMA["aws"] = {
    "regions": Option([], _str_list),                   # [] = EC2 collector off
    "prices": Option({}, lambda v: None if isinstance(v, dict) and all(
        isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
        else f"must map instance types to USD per hour, got {v!r}"),
    "idle_cpu_pct": Option(5.0, lambda v: None if isinstance(v, (int, float)) and 0 < v < 100
                           else f"must be a percentage, got {v!r}"),
    "cost_explorer": Option(True, _is(bool, "true or false")),
}


def _formula_overrides(value: Any) -> str | None:
    """The shape; the names and their parameters are fom's (its check, CHECKS_GROUP)."""
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(p, dict) for k, p in value.items()):
        return None
    return f"must be a mapping of area.name to a mapping of parameters, got {value!r}"


def _thresholds(value: Any) -> str | None:
    ok = (isinstance(value, dict) and set(value) == {"green", "yellow"}
          and all(isinstance(v, (int, float)) for v in value.values())
          and 0 <= value["yellow"] <= value["green"] <= 1)
    return None if ok else f"must be {{green, yellow}} with 0 <= yellow <= green <= 1, got {value!r}"


SCHEMA["fom"] = {
    "thresholds": Option({"green": 0.7, "yellow": 0.3}, _thresholds),
    "formulas": Option({}, _formula_overrides),  # + fom.scores.check_formulas
    "area_weights": Option({}, lambda v: None if isinstance(v, dict) else f"must be a mapping, got {v!r}"),
}
SCHEMA["skypilot"] = {
    "regions": Option([], _str_list),                 # region tag allow-list, else "other"
    "gpu_prices": Option({}, lambda v: None if isinstance(v, dict) and all(
        isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
        else f"must map accelerator names to USD per GPU-hour, got {v!r}"),
    "spot_price_factor": Option(0.35, lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1
                                else f"must be in (0, 1], got {v!r}"),
    "request_timeout_seconds": Option(60, _at_least(1)),
}
DORA_SIGNALS = ("deployment_failure", "rollback", "revert", "hotfix", "incident")


def _deploy_workflows(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k.count("/") == 1 and isinstance(v, str)
        and v.endswith((".yml", ".yaml")) for k, v in value.items())
    return None if ok else f"must map owner/name to a workflow file (deploy.yml), got {value!r}"


def _signals(value: Any) -> str | None:
    bad = _str_list(value)
    unknown = [] if bad else sorted(set(value) - set(DORA_SIGNALS))
    return bad or (f"unknown signal(s) {unknown} (known: {list(DORA_SIGNALS)})" if unknown else None)


# DORA's four keys (pollers/dora/figures.py): which deployments are production, where a
# repository records them, and what marks a change as failed.
SCHEMA["dora"] = {
    "production": Option(r"^prod(uction)?$", _regex),
    "deploy_workflows": Option({}, _deploy_workflows),
    "failure_signals": Option(list(DORA_SIGNALS), _signals),
    "failure_window_hours": Option(24, _at_least(1)),
    "incident_label": Option("incident", _is(str, "a label name")),      # "" = no GitHub incidents
    "incidents_project": Option("", _is(str, "an Asana project gid")),   # "" = no Asana incidents
    # Time to restore also from a failed production deployment to the next success.
    "restore_from_failed_deployments": Option(False, _is(bool, "true or false")),
}


# --- monitors: notification handles and thresholds of the monitors and SLOs that
# `orgpulse dashboards` builds, per environment (production and staging may differ).
def _handles(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.startswith("@") and " " not in v
                                       for v in value):
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


def _sources(value: Any) -> str | None:  # None: the sources whose collectors are configured
    bad = None if value is None else _str_list(value)
    unknown = sorted(set(value or []) - set(MONITOR_SOURCES)) if not bad else []
    return bad or (f"unknown source(s) {unknown} (known: {list(MONITOR_SOURCES)})" if unknown else None)


def _default_env(value: Any) -> str | None:
    ok = value == "*" or isinstance(value, str) and _TAG_VALUE.match(value)
    return None if ok else f"must be * or an env tag value (lowercase, e.g. production), got {value!r}"


SCHEMA["monitors"] = {
    "notify": Option([], _handles),                   # added to every monitor's message
    "thresholds": Option({}, _monitor_thresholds),    # overrides of the modules' defaults
    "environments": Option({}, _monitor_environments),  # {env: {notify, thresholds}}, over the above
    "default_env": Option("*", _default_env),         # the dashboards' $env default
    "sources": Option(None, _sources),                # whose monitors to build; None: as configured
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
