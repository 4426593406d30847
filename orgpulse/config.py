"""Every setting orgpulse reads, from the environment, *_FILE secret files and one YAML file.

Nothing else in orgpulse reads os.environ: parts receive a Settings value.
load() collects every problem it finds and raises one ConfigError listing them
all, so an operator fixes a bad deployment in one round, not one per restart.
Secrets are held in Secret objects whose repr never shows the value.
"""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from orgpulse.options import validate_options

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
    # The poller as a GitHub App (instead of github_token): its id, its private key (PEM),
    # and the installation — None: discovered per repository.
    github_app_id: str | None = None
    github_app_private_key: Secret | None = None
    github_app_installation_id: int | None = None
    wandb_api_key: Secret | None = None
    wandb_base_url: str | None = None
    skypilot_endpoint: str | None = None
    skypilot_token: Secret | None = None
    # Shared dedup and high-water marks for replicas; may carry a password.
    redis_url: Secret | None = None
    # Datadog's API (`orgpulse dashboards`): its own variables, and DD_API_URL, a full
    # base URL that overrides DD_SITE (proxies and tests).
    datadog_api_key: Secret | None = None
    datadog_app_key: Secret | None = None
    datadog_site: str | None = None
    datadog_api_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        return self.options.get(name, {})


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


def _pem_private_key(text: str) -> str | None:
    """The PEM text if it holds an RSA private key (GitHub signs app JWTs with RS256), else None.
    A key pasted into one line with literal "\\n" (some secret stores) is unfolded."""
    # Only with a GitHub App's key set: the receiver, which never has one, does not load cryptography.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = text.replace("\\n", "\n").strip() + "\n"
    try:
        # Parsed, not checked (~100 ms): the poller checks the key when it loads it for signing.
        key = load_pem_private_key(text.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        return None
    return text if isinstance(key, rsa.RSAPrivateKey) else None


def _github_app(env: Mapping[str, str], has_token: bool, problems: list[str]) -> dict[str, Any]:
    """GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY(_FILE), GITHUB_APP_INSTALLATION_ID → Settings
    fields. Problems never quote the key."""
    app_id, installation = env.get("GITHUB_APP_ID") or None, env.get("GITHUB_APP_INSTALLATION_ID") or None
    key_text = _secret_text(env, "GITHUB_APP_PRIVATE_KEY", problems)
    if not (app_id or key_text or installation):
        return {}
    if app_id and not app_id.isdigit():
        problems.append(f"GITHUB_APP_ID must be the app's numeric id, got {app_id!r}")
    if installation and not installation.isdigit():
        problems.append(f"GITHUB_APP_INSTALLATION_ID must be a number, got {installation!r}")
    key = _pem_private_key(key_text) if key_text else None
    if key_text and key is None:
        problems.append(
            "GITHUB_APP_PRIVATE_KEY is not an unencrypted PEM RSA private key "
            "(the .pem file GitHub generates for the app)"
        )
    if not app_id or not key_text:
        problems.append(
            "a GitHub App needs both GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE)"
        )
    if has_token:
        problems.append(
            "GITHUB_TOKEN and a GitHub App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY) are both "
            "set: the poller authenticates with one of them"
        )
    return {
        "github_app_id": app_id,
        "github_app_private_key": Secret(key) if key else None,
        "github_app_installation_id": int(installation) if installation and installation.isdigit() else None,
    }


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
    tags.update(
        {k: env[v] for k, v in (("env", "DD_ENV"), ("service", "DD_SERVICE"), ("version", "DD_VERSION")) if env.get(v)}
    )
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
    github_app = _github_app(env, bool(github_token), problems)
    kube_host, kube_port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    kube_host = f"[{kube_host}]" if kube_host and ":" in kube_host else kube_host  # IPv6
    wandb_token = _secret_text(env, "WANDB_WEBHOOK_TOKEN", problems)
    wandb_secret = _secret_text(env, "WANDB_WEBHOOK_SECRET", problems)

    redis_text = _secret_text(env, "ORGPULSE_REDIS_URL", problems)
    dd_api_key = _secret_text(env, "DD_API_KEY", problems)
    dd_app_key = _secret_text(env, "DD_APP_KEY", problems)

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
        **github_app,
        wandb_api_key=Secret(wandb_api_key) if wandb_api_key else None,
        wandb_base_url=env.get("WANDB_BASE_URL") or None,
        skypilot_endpoint=env.get("SKYPILOT_API_SERVER_ENDPOINT") or None,
        skypilot_token=Secret(skypilot_token) if skypilot_token else None,
        datadog_api_key=Secret(dd_api_key) if dd_api_key else None,
        datadog_app_key=Secret(dd_app_key) if dd_app_key else None,
        datadog_site=env.get("DD_SITE") or None,
        datadog_api_url=env.get("DD_API_URL") or None,
        options=validate_options(_load_yaml(env, problems), problems),
    )
    receiver = settings.section("receiver")
    redis_text = redis_text or receiver.get("redis_url") or None
    if redis_text:
        settings = replace(settings, redis_url=Secret(redis_text))
    if receiver.get("dedup_backend") == "redis" and not redis_text:
        problems.append(
            "receiver.dedup_backend is redis but no Redis URL is set (receiver.redis_url or ORGPULSE_REDIS_URL)"
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
