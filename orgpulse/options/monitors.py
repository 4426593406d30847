"""`monitors:` — The monitors and SLOs `orgpulse dashboards` builds: notification, thresholds, environments."""

from __future__ import annotations

import re
from typing import Any

from orgpulse.options.option import Option
from orgpulse.validators import str_list as _str_list


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


SECTION: dict[str, Option] = {
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
