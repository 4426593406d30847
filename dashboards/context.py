"""What a definition may depend on: the environment and the configuration.

Dashboards are environment-agnostic (their `$env` template variable defaults to
DD_ENV, else `*`); monitors and SLOs are built for one environment, with that
environment's thresholds and notification handles (`monitors:` in the YAML,
validated at start by orgpulse/options.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from orgpulse.config import Settings

FOM_DEFAULT = {"green": 0.7, "yellow": 0.3}


@dataclass(frozen=True)
class Context:
    env: str | None = None                  # None: dashboards only
    default_env: str = "*"                  # the $env template variable's default
    fom: dict = field(default_factory=lambda: dict(FOM_DEFAULT))
    notify: tuple[str, ...] = ()            # handles appended to every monitor message
    thresholds: dict = field(default_factory=dict)  # every threshold, defaults merged

    def threshold(self, name: str) -> float:
        return self.thresholds[name]


def monitor_options(settings: Settings, env: str | None) -> tuple[tuple[str, ...], dict]:
    """(notify handles, threshold overrides) for `env`: the section's own, then the
    environment's (production and staging may differ)."""
    section = settings.section("monitors")
    per_env = (section.get("environments") or {}).get(env or "", {}) or {}
    notify = per_env.get("notify", section.get("notify", []))
    return tuple(notify), {**(section.get("thresholds") or {}), **(per_env.get("thresholds") or {})}


def from_settings(settings: Settings, env: str | None, defaults: dict[str, float]) -> Context:
    tags = dict(t.split(":", 1) for t in settings.constant_tags)
    notify, overrides = monitor_options(settings, env)
    return Context(env=env, default_env=tags.get("env", "*"),
                   fom=dict(settings.section("fom").get("thresholds") or FOM_DEFAULT),
                   notify=notify, thresholds={**defaults, **overrides})
