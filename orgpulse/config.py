"""Every setting orgpulse reads, from the environment, *_FILE secret files and one YAML file.

Nothing else in orgpulse reads os.environ: parts receive a Settings value.
load() collects every problem it finds and raises one ConfigError listing them
all, so an operator fixes a bad deployment in one round, not one per restart.
Secrets are held in Secret objects whose repr never shows the value.
"""
from __future__ import annotations

import os
import re
import secrets as _random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

import yaml

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub's own cap on a delivery
DEFAULT_SERVICE = "orgpulse"
GENERATED_GITHUB_SECRET = "github-webhook-secret"
SINKS = ("dogstatsd", "log")


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


class Secret:
    """A secret value that cannot leak through repr(), str() or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> bytes:
        return self._value.encode("utf-8")

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class DogStatsdTarget:
    host: str | None = None
    port: int | None = None
    socket_path: str | None = None

    def describe(self) -> str:
        return f"unix://{self.socket_path}" if self.socket_path else f"udp://{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    sink: str = "log"
    dogstatsd: DogStatsdTarget = DogStatsdTarget()
    constant_tags: tuple[str, ...] = ()
    data_dir: Path = Path(".orgpulse")
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "INFO"
    github_secrets: tuple[Secret, ...] = ()
    github_secret_origin: str = "unset"  # env | file | generated | unset
    wandb_token: Secret | None = None
    wandb_secret: Secret | None = None
    asana_token: Secret | None = None
    asana_base_url: str | None = None
    # The API server as a pod sees it (KUBERNETES_SERVICE_HOST/PORT), for the
    # Kubernetes secret store; None outside a cluster.
    kubernetes_api_url: str | None = None
    github_token: Secret | None = None
    github_api_url: str | None = None
    wandb_api_key: Secret | None = None
    wandb_base_url: str | None = None
    skypilot_endpoint: str | None = None
    skypilot_token: Secret | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        return self.options.get(name, {})


# ---------------------------------------------------------------- YAML options
@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any], str | None]  # returns a problem, or None


def _is(kind: type, what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        return None if ok else f"must be {what}, got {value!r}"
    return check


def _str_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return None
    return f"must be a list of non-empty strings, got {value!r}"


def _regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a regular expression string, got {value!r}"
    try:
        re.compile(value)
    except re.error as exc:
        return f"invalid regular expression {value!r}: {exc}"
    return None


def _at_least(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        bad = _is(int, "an integer")(value)
        return bad or (None if value >= minimum else f"must be >= {minimum}, got {value}")
    return check


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {list(choices)}, got {value!r}"
    return check


def _sections(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(k, str) and not _str_list(v)
                                       for k, v in value.items()):
        return None
    return f"must map a bucket name to a list of section names, got {value!r}"


def _slash_pairs(form: str) -> Callable[[Any], str | None]:
    """A list of 'a/b' strings: owner/name repositories, entity/project W&B projects."""
    def check(value: Any) -> str | None:
        bad = _str_list(value)
        if bad:
            return bad
        wrong = [v for v in value if v.count("/") != 1]
        return f"entries must be {form}, got {wrong!r}" if wrong else None
    return check


# The sections orgpulse reads today. The other top-level sections DESIGN.md
# names are accepted as mappings and validated by the part that uses them.
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
    from fom.scores import FORMULAS  # the table is the schema of its own parameters

    if not isinstance(value, dict):
        return f"must be a mapping of area.name to parameters, got {value!r}"
    known = {f"{f.area}.{f.name}": f.params for f in FORMULAS}
    for key, params in value.items():
        if key not in known:
            return f"unknown formula {key!r} (known: {sorted(known)})"
        if not isinstance(params, dict) or set(params) - set(known[key]):
            return f"{key}: parameters must be among {sorted(known[key])}, got {params!r}"
    return None


def _thresholds(value: Any) -> str | None:
    ok = (isinstance(value, dict) and set(value) == {"green", "yellow"}
          and all(isinstance(v, (int, float)) for v in value.values())
          and 0 <= value["yellow"] <= value["green"] <= 1)
    return None if ok else f"must be {{green, yellow}} with 0 <= yellow <= green <= 1, got {value!r}"


SCHEMA["fom"] = {
    "thresholds": Option({"green": 0.7, "yellow": 0.3}, _thresholds),
    "formulas": Option({}, _formula_overrides),
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
OTHER_SECTIONS: tuple[str, ...] = ()


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
            bad = opt.check(value)
            if bad:
                problems.append(f"ORGPULSE_CONFIG: {section}.{key} {bad}")
            values[key] = value
        options[section] = values
    for section in OTHER_SECTIONS:
        if section in raw:
            options[section] = raw[section]
    return options


# ------------------------------------------------------------------ environment
def _secret_text(env: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """NAME or NAME_FILE (a mounted Secret); setting both is ambiguous."""
    direct, path = env.get(name), env.get(f"{name}_FILE")
    if direct and path:
        problems.append(f"{name} and {name}_FILE are both set; set one")
        return None
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{name}_FILE: cannot read {path}: {exc.strerror}")
            return None
    return direct or None


def _secret_list(text: str) -> tuple[Secret, ...]:
    # A comma list lets an operator rotate: any listed secret verifies.
    return tuple(Secret(part.strip()) for part in text.split(",") if part.strip())


def _dogstatsd_target(env: Mapping[str, str], problems: list[str]) -> DogStatsdTarget | None:
    url = env.get("DD_DOGSTATSD_URL")
    if url:
        parsed = urlparse(url)
        if parsed.scheme == "unix" and parsed.path:
            return DogStatsdTarget(socket_path=parsed.path)
        if parsed.scheme == "udp" and parsed.hostname:
            return DogStatsdTarget(host=parsed.hostname, port=parsed.port or 8125)
        problems.append(f"DD_DOGSTATSD_URL must be udp://host:port or unix:///path, got {url!r}")
        return None
    host = env.get("DD_AGENT_HOST")
    port_text = env.get("DD_DOGSTATSD_PORT", "8125")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        problems.append(f"DD_DOGSTATSD_PORT must be a port number, got {port_text!r}")
        return None
    if host:
        return DogStatsdTarget(host=host, port=int(port_text))
    return None


def _positive_int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    text = env.get(name)
    if text is None:
        return default
    if text.isdigit() and int(text) > 0:
        return int(text)
    problems.append(f"{name} must be a positive integer (bytes), got {text!r}")
    return default


def _load_yaml(env: Mapping[str, str], problems: list[str]) -> Any:
    path = env.get("ORGPULSE_CONFIG")
    if not path:
        return {}
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"ORGPULSE_CONFIG: cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        problems.append(f"ORGPULSE_CONFIG: {path} is not valid YAML: {exc}")
    return {}


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (default: the process environment); raises ConfigError."""
    env = os.environ if env is None else env
    problems: list[str] = []

    target = _dogstatsd_target(env, problems)
    sink = env.get("ORGPULSE_SINK") or ("dogstatsd" if target else "log")
    if sink not in SINKS:
        problems.append(f"ORGPULSE_SINK must be one of {SINKS}, got {sink!r}")
    if sink == "dogstatsd" and target is None:
        target = DogStatsdTarget(host="localhost", port=8125)

    tags = {"service": DEFAULT_SERVICE}
    tags.update({k: env[v] for k, v in (("env", "DD_ENV"), ("service", "DD_SERVICE"),
                                         ("version", "DD_VERSION")) if env.get(v)})
    data_dir = Path(env.get("ORGPULSE_DATA_DIR") or ".orgpulse")

    github_text = _secret_text(env, "GITHUB_WEBHOOK_SECRET", problems)
    origin = "env" if github_text else "unset"
    generated = data_dir / GENERATED_GITHUB_SECRET
    if not github_text and generated.is_file():
        github_text, origin = generated.read_text(encoding="utf-8").strip(), "generated"
    asana_token = _secret_text(env, "ASANA_ACCESS_TOKEN", problems)
    skypilot_token = _secret_text(env, "SKYPILOT_SERVICE_ACCOUNT_TOKEN", problems)
    wandb_api_key = _secret_text(env, "WANDB_API_KEY", problems)
    github_token = _secret_text(env, "GITHUB_TOKEN", problems)
    kube_host, kube_port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    kube_host = f"[{kube_host}]" if kube_host and ":" in kube_host else kube_host  # IPv6
    wandb_token = _secret_text(env, "WANDB_WEBHOOK_TOKEN", problems)
    wandb_secret = _secret_text(env, "WANDB_WEBHOOK_SECRET", problems)

    level = env.get("ORGPULSE_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"ORGPULSE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

    settings = Settings(
        sink=sink,
        dogstatsd=target or DogStatsdTarget(),
        constant_tags=tuple(f"{k}:{v}" for k, v in sorted(tags.items())),
        data_dir=data_dir,
        max_body_bytes=_positive_int(env, "ORGPULSE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, problems),
        log_level=level,
        github_secrets=_secret_list(github_text or ""),
        github_secret_origin=origin,
        wandb_token=Secret(wandb_token) if wandb_token else None,
        wandb_secret=Secret(wandb_secret) if wandb_secret else None,
        asana_token=Secret(asana_token) if asana_token else None,
        asana_base_url=env.get("ASANA_BASE_URL") or None,
        kubernetes_api_url=f"https://{kube_host}:{kube_port or 443}" if kube_host else None,
        github_token=Secret(github_token) if github_token else None,
        github_api_url=env.get("GITHUB_API_URL") or None,
        wandb_api_key=Secret(wandb_api_key) if wandb_api_key else None,
        wandb_base_url=env.get("WANDB_BASE_URL") or None,
        skypilot_endpoint=env.get("SKYPILOT_API_SERVER_ENDPOINT") or None,
        skypilot_token=Secret(skypilot_token) if skypilot_token else None,
        options=validate_options(_load_yaml(env, problems), problems),
    )
    if problems:
        raise ConfigError(problems)
    return settings


def ensure_github_secret(data_dir: Path) -> Path:
    """Create a random webhook secret file (0600) in data_dir if there is none; return its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / GENERATED_GITHUB_SECRET
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_random.token_hex(32) + "\n")
    return path
