"""What a definition may depend on: the configuration, and for monitors the environment.

Dashboards are environment-agnostic: their `$env` template variable defaults to
`monitors.default_env`, else `*` — never the DD_ENV of whatever shell runs apply, which
would flip it between CI jobs. Monitors and SLOs are built for one environment, with
that environment's thresholds and notification handles, and only for the sources that
are on (`monitors:` in the YAML, validated at start by orgpulse/options/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orgpulse.options import MONITOR_SOURCES

FOM_DEFAULT = {"green": 0.7, "yellow": 0.3}
Sections = Callable[[str], dict]  # section name → its validated options (Settings.section)


@dataclass(frozen=True)
class Context:
    env: str | None = None  # None: dashboards only
    default_env: str = "*"  # the $env template variable's default
    fom: dict = field(default_factory=lambda: dict(FOM_DEFAULT))
    notify: tuple[str, ...] = ()  # handles appended to every monitor message
    thresholds: dict = field(default_factory=dict)  # every threshold, defaults merged
    sources: frozenset[str] = frozenset(MONITOR_SOURCES)  # whose monitors are built

    def threshold(self, name: str) -> float:
        return self.thresholds[name]

    def on(self, source: str) -> bool:
        return source in self.sources


def monitor_options(section: dict, env: str | None) -> tuple[tuple[str, ...], dict]:
    """(notify handles, threshold overrides) for `env`: the section's own, then the
    environment's (production and staging may differ)."""
    per_env = (section.get("environments") or {}).get(env or "", {}) or {}
    notify = per_env.get("notify", section.get("notify", []))
    return tuple(notify), {**(section.get("thresholds") or {}), **(per_env.get("thresholds") or {})}


# Without `monitors.sources`, a source is on when the option its collector needs is set.
# SkyPilot's switch (SKYPILOT_API_SERVER_ENDPOINT) and the informer's (running in a
# cluster) are in the environment of the pod, not in the YAML where render runs: they
# are on only when `monitors.sources` lists them.
CONFIGURED: dict[str, Callable[[Sections], bool]] = {
    "github": lambda s: bool(s("github").get("repositories")),
    "dora": lambda s: bool(s("github").get("repositories")),
    "asana": lambda s: bool(s("asana").get("workspace")),
    "wandb": lambda s: bool(s("wandb").get("projects")),
    "ec2": lambda s: bool(s("aws").get("regions")),
}


def sources(sections: Sections) -> frozenset[str]:
    listed = sections("monitors").get("sources")
    if listed is not None:
        return frozenset(listed)
    return frozenset(name for name, on in CONFIGURED.items() if on(sections))


def from_sections(
    sections: Sections, env: str | None, defaults: dict[str, float], every_source: bool = False
) -> Context:
    """`every_source`: build every source's monitors (checking thresholds at config load)."""
    section = sections("monitors")
    notify, overrides = monitor_options(section, env)
    return Context(
        env=env,
        default_env=section.get("default_env") or "*",
        fom=dict(sections("fom").get("thresholds") or FOM_DEFAULT),
        notify=notify,
        thresholds={**defaults, **overrides},
        sources=frozenset(MONITOR_SOURCES) if every_source else sources(sections),
    )
