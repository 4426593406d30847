"""Monitors and SLOs as API request bodies, for one environment.

Every monitor states what broke and what to do first, has a priority, the
identity tags, thresholds from `monitors:` and an explicit no-data policy:
`silent_minutes` set means silence IS the failure (notify after that long);
None means absence is normal (notify_no_data false).

SLO burn-rate alerts and monitor-based SLOs refer to objects by live id, which
only exists after apply created them: bodies hold placeholders `${monitor:key}`
and `${slo:key}` that `resolve` replaces (apply: live ids; validate: stand-ins).
"""

from __future__ import annotations

import re
from typing import Any

from dashboards import identity
from dashboards.context import Context
from dashboards.queries import Scope, query

REF = re.compile(r"\$\{(monitor|slo):([a-z0-9_.-]+)\}")
SLO_TIMEFRAME = "30d"
# A monitor query ends with its comparison: `… > 72`, `… < 0.3`.
COMPARISON = re.compile(r"(>=|<=|>|<)\s*-?[0-9.]+\s*$")


def monitor_ref(key: str) -> str:
    return f"${{monitor:{key}}}"


def slo_ref(key: str) -> str:
    return f"${{slo:{key}}}"


def q(ctx: Context, space: str, metric: str, **kwargs) -> str:
    """A query scoped to the context's environment."""
    return query(Scope(env=ctx.env), space, metric, **kwargs)


def _env(ctx: Context) -> str:
    """Monitors and SLOs belong to one environment: the registry builds them only with one."""
    if ctx.env is None:
        raise ValueError("monitors and SLOs need an environment")
    return ctx.env


def message(ctx: Context, what: str, first: str) -> str:
    handles = " ".join(ctx.notify)
    text = f"{what}\n\nFirst: {first}\n\nDefined in orgpulse dashboards/ (environment {ctx.env})."
    return f"{text}\n\n{handles}" if handles else text


def monitor(
    ctx: Context,
    key: str,
    name: str,
    text: str,
    *,
    what: str,
    first: str,
    priority: int,
    critical: float,
    warning: float | None = None,
    silent_minutes: int | None = None,
    kind: str = "query alert",
    options: dict | None = None,
) -> dict[str, dict]:
    thresholds = {"critical": critical} if warning is None else {"critical": critical, "warning": warning}
    opts = {
        "thresholds": thresholds,
        "notify_no_data": silent_minutes is not None,
        "require_full_window": False,
        "include_tags": True,
        "notify_audit": False,
    }
    if silent_minutes is not None:
        opts["no_data_timeframe"] = silent_minutes
    opts.update(options or {})
    return {
        key: {
            "name": f"[orgpulse {ctx.env}] {name}",
            "type": kind,
            "query": text,
            "message": message(ctx, what, first),
            "priority": priority,
            "tags": identity.tags(key, _env(ctx)) + ["service:orgpulse"],
            "options": opts,
        }
    }


def threshold_problem(body: dict) -> str | None:
    """Datadog refuses a warning on the wrong side of its critical: below it for a monitor
    that alerts above (`>`), above it for one that alerts below (`<`)."""
    thresholds = body.get("options", {}).get("thresholds", {})
    match = COMPARISON.search(body.get("query", ""))
    if "warning" not in thresholds or "critical" not in thresholds or not match:
        return None
    warning, critical = thresholds["warning"], thresholds["critical"]
    above = match[1].startswith(">")
    if (warning < critical) if above else (warning > critical):
        return None
    return (
        f"warning {warning:g} must be {'below' if above else 'above'} critical {critical:g} "
        f"(the monitor alerts {'above' if above else 'below'} them): set both thresholds of the pair"
    )


def _slo(ctx: Context, key: str, name: str, description: str, target: float, **body) -> dict:
    return {
        key: {
            "name": f"[orgpulse {ctx.env}] {name}",
            "description": description,
            "tags": identity.tags(key, _env(ctx)) + ["service:orgpulse"],
            "thresholds": [{"timeframe": SLO_TIMEFRAME, "target": target}],
            "timeframe": SLO_TIMEFRAME,
            "target_threshold": target,
            **body,
        }
    }


def metric_slo(
    ctx: Context, key: str, name: str, description: str, *, numerator: str, denominator: str, target: float
) -> dict[str, dict]:
    return _slo(
        ctx, key, name, description, target, type="metric", query={"numerator": numerator, "denominator": denominator}
    )


def time_slice_slo(
    ctx: Context,
    key: str,
    name: str,
    description: str,
    *,
    text: str,
    comparator: str,
    threshold: float,
    target: float,
    interval_seconds: int = 300,
) -> dict[str, dict]:
    condition = {
        "query": {
            "formulas": [{"formula": "query1"}],
            "queries": [{"data_source": "metrics", "name": "query1", "query": text}],
        },
        "comparator": comparator,
        "threshold": threshold,
        "query_interval_seconds": interval_seconds,
    }
    return _slo(ctx, key, name, description, target, type="time_slice", sli_specification={"time_slice": condition})


def monitor_slo(
    ctx: Context, key: str, name: str, description: str, *, monitor_key: str, target: float
) -> dict[str, dict]:
    return _slo(ctx, key, name, description, target, type="monitor", monitor_ids=[monitor_ref(monitor_key)])


def burn_rate_alert(
    ctx: Context,
    slo_key: str,
    name: str,
    *,
    what: str,
    first: str,
    critical: float,
    warning: float,
    priority: int = 2,
    long_window: str = "1h",
    short_window: str = "5m",
) -> dict[str, dict]:
    """The fast-burn alert of an SLO (14.4 over 1 h / 5 min spends 2 % of 30 days' budget)."""
    text = (
        f'burn_rate("{slo_ref(slo_key)}").over("{SLO_TIMEFRAME}")'
        f'.long_window("{long_window}").short_window("{short_window}") > {critical}'
    )
    return monitor(
        ctx,
        f"{slo_key}_burn_rate",
        name,
        text,
        what=what,
        first=first,
        priority=priority,
        critical=critical,
        warning=warning,
        kind="slo alert",
    )


def refs(body: Any) -> set[tuple[str, str]]:
    """Every (kind, key) a body refers to."""
    if isinstance(body, dict):
        return set().union(*(refs(v) for v in body.values())) if body else set()
    if isinstance(body, list):
        return set().union(*(refs(v) for v in body)) if body else set()
    return {(m[1], m[2]) for m in REF.finditer(body)} if isinstance(body, str) else set()


def resolve(body: Any, ids: dict[tuple[str, str], Any]) -> Any:
    """The body with placeholders replaced by ids; a placeholder with no id stays."""
    if isinstance(body, dict):
        return {k: resolve(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [resolve(v, ids) for v in body]
    if not isinstance(body, str):
        return body
    whole = REF.fullmatch(body)
    if whole and (whole[1], whole[2]) in ids:
        return ids[(whole[1], whole[2])]  # monitor_ids hold numbers, not strings
    return REF.sub(lambda m: str(ids.get((m[1], m[2]), m[0])), body)
