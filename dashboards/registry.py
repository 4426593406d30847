"""Every dashboard module, in one dict. Adding a dashboard (and its monitors) is
adding a module under dashboards/boards/ and a line here.

A module provides:
  BOARD = Board(key, title, description, template variables)
  dashboard(ctx) -> dict                 the dashboard's request body (BOARD.body)
  monitors(ctx) -> {key: body}           optional; built per environment
  slos(ctx) -> {key: body}               optional; built per environment
  THRESHOLDS = {name: default}           optional; overridable under `monitors:`
Monitor and SLO keys are unique across modules (they are the objects' identity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from dashboards import alerting
from dashboards import context as contexts
from dashboards.boards import asana, dora, ec2, github, health, kubernetes, orgpulse, pipeline, skypilot, wandb
from orgpulse.config import Settings

MODULES: dict[str, ModuleType] = {
    "github": github,
    "dora": dora,
    "skypilot": skypilot,
    "asana": asana,
    "ec2": ec2,
    "kubernetes": kubernetes,
    "wandb": wandb,
    "health": health,
    "pipeline": pipeline,
    "orgpulse": orgpulse,
}


@dataclass
class Definitions:
    dashboards: dict[str, dict] = field(default_factory=dict)
    monitors: dict[str, dict] = field(default_factory=dict)
    slos: dict[str, dict] = field(default_factory=dict)

    def kinds(self) -> dict[str, dict[str, dict]]:
        return {"dashboard": self.dashboards, "monitor": self.monitors, "slo": self.slos}


def variables(modules: dict[str, ModuleType] | None = None) -> dict[str, tuple[str, ...]]:
    """Each dashboard's template variables (`env` first): what its queries are filtered by."""
    return {name: module.BOARD.scope.variables for name, module in (MODULES if modules is None else modules).items()}


def thresholds(modules: dict[str, ModuleType] | None = None) -> dict[str, float]:
    """Every module's threshold defaults (a name declared twice is a bug)."""
    merged: dict[str, float] = {}
    for name, module in (MODULES if modules is None else modules).items():
        for key, default in getattr(module, "THRESHOLDS", {}).items():
            if key in merged:
                raise ValueError(f"threshold {key!r} declared twice (again by {name})")
            merged[key] = default
    return merged


def context(
    settings: Settings, env: str | None, modules: dict[str, ModuleType] | None = None, every_source: bool = False
) -> contexts.Context:
    """`every_source`: every source's monitors, whatever is on (validate checks them all)."""
    return contexts.from_sections(settings.section, env, thresholds(modules), every_source)


def _unknown(given: dict, known: dict[str, float]) -> str | None:
    unknown = sorted(set(given) - set(known))
    return f"unknown threshold(s) {unknown} (known: {sorted(known)})" if unknown else None


def threshold_problems(monitors: dict) -> list[str]:
    """Warning/critical pairs on the wrong side, per environment, for every source's monitors."""
    out = []
    for env in sorted(monitors["environments"]) or [None]:
        ctx = contexts.from_sections(
            lambda name: monitors if name == "monitors" else {}, env or "any", thresholds(), every_source=True
        )
        for module in MODULES.values():
            for key, body in (module.monitors(ctx) if hasattr(module, "monitors") else {}).items():
                bad = alerting.threshold_problem(body)
                if bad:
                    out.append(f"{key}{f' ({env})' if env else ''}: {bad}")
    return out


def config_problems(monitors: dict) -> list[str]:
    """A `monitors:` section (its shape checked by config.load()) against the monitors defined
    here: threshold names no module declares, then, once every name is known, warning and
    critical pairs on the sides Datadog refuses. Every `orgpulse dashboards` action that
    builds definitions checks it first; the receiver and the poller never load this."""
    known = thresholds()
    named = {"monitors.thresholds": monitors["thresholds"]} | {
        f"monitors.environments {env}:": (given or {}).get("thresholds", {})
        for env, given in sorted(monitors["environments"].items())
    }
    out = [f"ORGPULSE_CONFIG: {where} {bad}" for where, given in named.items() if (bad := _unknown(given, known))]
    return out or [f"ORGPULSE_CONFIG: monitors: {p}" for p in threshold_problems(monitors)]


def _merge(into: dict[str, dict], new: dict[str, dict], what: str, module: str) -> None:
    clash = set(into) & set(new)
    if clash:
        raise ValueError(f"{what} keys {sorted(clash)} defined twice (again by {module})")
    into.update(new)


def definitions(ctx: contexts.Context, modules: dict[str, ModuleType] | None = None) -> Definitions:
    """The dashboards; with an environment, also its monitors and SLOs."""
    out = Definitions()
    for name, module in (MODULES if modules is None else modules).items():
        out.dashboards[name] = module.dashboard(ctx)
        if ctx.env is None:
            continue
        if hasattr(module, "monitors"):
            _merge(out.monitors, module.monitors(ctx), "monitor", name)
        if hasattr(module, "slos"):
            _merge(out.slos, module.slos(ctx), "SLO", name)
    return out
