"""Pure: a repository's production deployments, failure signals and incidents → DORA's four keys.

Definitions:
- a deployment is *attempted* when it reached a decisive outcome (success, or a failed or
  errored status / a failed deploy-workflow run), at the time of that outcome;
- change failure rate = attempted production deployments in the window that failed (the
  `deployment_failure` signal) or that a later signal marks failed ÷ attempted ones;
  `rollback`: a deployment of an earlier SHA marks the success it rolled back from;
  `revert`, `hotfix` (a commit landing on the default branch) and `incident` (a labelled
  issue opened) mark the latest successful production deployment before them — each only
  within `failure_window_hours` after that deployment;
- time to restore: incident opened → resolved; and, when configured, a failed production
  deployment → the next success in the same environment (from the first failure of a run).
Percentiles are nearest-rank. Windows end at `now`: (now − 7 d, now] and (now − 30 d, now].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fom import delivery
from orgpulse import metrics as m
from orgpulse.statistics import percentile, within

WINDOWS = {"7d": timedelta(days=7), "30d": timedelta(days=30)}
HOUR = 3600.0


@dataclass
class Deployment:
    key: str  # "deployment:<id>" or "run:<id>": identity, never a tag
    sha: str
    environment: str
    created: datetime
    outcome: str | None = None  # success | failure, once decided
    finished: datetime | None = None  # when it was decided
    rollback: bool = False  # it deployed an earlier SHA (set when compared)
    lead_times: list[float] | None = None  # seconds per shipped commit; None until compared


@dataclass
class Incident:
    opened: datetime
    resolved: datetime | None = None


@dataclass
class Records:
    """What the four keys of one repository are computed from."""

    deployments: dict[str, Deployment] = field(default_factory=dict)
    changes: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # sha → (landed, revert|hotfix)
    incidents: dict[int, Incident] = field(default_factory=dict)  # issue number → incident


def successes(deployments) -> list[Deployment]:
    return sorted((d for d in deployments if d.outcome == "success"), key=lambda d: d.finished)


def failure_marks(r: Records, signals: set[str], window: timedelta) -> dict[str, set[str]]:
    """Deployment key → the failure signals that mark it."""
    marks: dict[str, set[str]] = {}
    done = successes(r.deployments.values())
    if "deployment_failure" in signals:
        for d in r.deployments.values():
            if d.outcome == "failure":
                marks.setdefault(d.key, set()).add("deployment_failure")
    if "rollback" in signals:
        last: dict[str, Deployment] = {}
        for d in done:
            before = last.get(d.environment)
            if d.rollback and before and d.finished - before.finished <= window:
                marks.setdefault(before.key, set()).add("rollback")
            last[d.environment] = d
    later = [(t, kind) for t, kind in r.changes.values() if kind in signals]
    if "incident" in signals:
        later += [(i.opened, "incident") for i in r.incidents.values()]
    for t, kind in later:
        before = [d for d in done if d.finished <= t]
        if before and t - before[-1].finished <= window:
            marks.setdefault(before[-1].key, set()).add(kind)
    return marks


def deployment_restores(deployments) -> list[tuple[datetime, datetime]]:
    """(first failure, next success) per environment: service restored by a deployment."""
    out, failed_at = [], {}
    decided = sorted((d for d in deployments if d.finished), key=lambda d: d.finished)
    for d in decided:
        if d.outcome == "failure":
            failed_at.setdefault(d.environment, d.finished)
        elif d.environment in failed_at:
            out.append((failed_at.pop(d.environment), d.finished))
    return out


def _percentiles(name: str, seconds: list[float], suffix: str, **tags) -> list[m.Metric]:
    if not seconds:
        return []  # nothing measured: no figure, never a 0
    hours = [s / HOUR for s in seconds]
    return [
        m.gauge(f"{name}_p50_hours{suffix}", percentile(hours, 0.5), **tags),
        m.gauge(f"{name}_p90_hours{suffix}", percentile(hours, 0.9), **tags),
    ]


def restore_metrics(restores: list[tuple[datetime, datetime]], now: datetime, **tags) -> list[m.Metric]:
    """Time-to-restore gauges over 7 and 30 days, by when service was restored."""
    out = []
    for label, span in WINDOWS.items():
        seconds = [(b - a).total_seconds() for a, b in restores if within(b, now, span)]
        out += _percentiles("dora.time_to_restore", seconds, "" if label == "7d" else "_30d", **tags)
    return out


def repo_metrics(repo: str, r: Records, now: datetime, options: dict) -> tuple[list[m.Metric], dict]:
    """The repository's gauges, and the 30-day values its DORA levels come from."""
    signals = set(options["failure_signals"])
    window = timedelta(hours=options["failure_window_hours"])
    marks = failure_marks(r, signals, window)
    done = successes(r.deployments.values())
    # A repository that deploys: a successful production deployment known (in 30 days, or the
    # last one before them). One never seen deploying (a library, a tool) has no deployment
    # frequency nor its level, so it neither scores "low" nor drags the delivery FoM down.
    deploys = bool(done)
    out, values = [], {}
    if deploys:  # for "no production deployment in N days" where the repository deploys at all
        since = (now - done[-1].finished).total_seconds() / HOUR
        out.append(m.gauge("dora.time_since_deployment_hours", since, repo=repo))
    for label, span in WINDOWS.items():
        suffix = "" if label == "7d" else "_30d"
        shipped = [d for d in done if within(d.finished, now, span)]
        if deploys:
            out.append(m.gauge(f"dora.deployments_{label}", len(shipped), repo=repo))
        lead = [s for d in shipped for s in d.lead_times or []]
        out += _percentiles("dora.lead_time", lead, suffix, repo=repo)
        attempted = [d for d in r.deployments.values() if d.outcome and within(d.finished, now, span)]
        cfr = 100 * sum(d.key in marks for d in attempted) / len(attempted) if attempted else None
        if cfr is not None:  # no attempt, no rate
            out.append(m.gauge(f"dora.change_failure_rate_{label}", cfr, repo=repo))
        for signal in sorted(signals) if label == "7d" else ():
            out.append(
                m.gauge(
                    "dora.change_failures_7d",
                    sum(signal in marks.get(d.key, ()) for d in attempted),
                    repo=repo,
                    signal=signal,
                )
            )
        values[label] = {"deployments": len(shipped) if deploys else None, "lead": lead, "cfr": cfr}
    return out, values["30d"]


def incident_metrics(incidents: dict, now: datetime, **tags) -> list[m.Metric]:
    restores = [(i.opened, i.resolved) for i in incidents.values() if i.resolved]
    return [
        m.gauge("dora.incidents.open", sum(i.resolved is None for i in incidents.values()), **tags)
    ] + restore_metrics(restores, now, **tags)


def restore_seconds_30d(restores: list[tuple[datetime, datetime]], now: datetime) -> list[float]:
    return [(b - a).total_seconds() for a, b in restores if within(b, now, WINDOWS["30d"])]


def level_metrics(repo: str, month: dict, restores_30d: list[float]) -> list[m.Metric]:
    """`dora.performance_level{repo,key}`: 4 elite, 3 high, 2 medium, 1 low (fom/delivery.py)."""
    values = {
        "deployment_frequency": month["deployments"],
        "lead_time": percentile(month["lead"], 0.5) / HOUR if month["lead"] else None,
        "change_failure_rate": month["cfr"],
        "time_to_restore": percentile(restores_30d, 0.5) / HOUR if restores_30d else None,
    }
    return [
        m.gauge("dora.performance_level", delivery.LEVELS[delivery.level(key, v)], repo=repo, key=key)
        for key, v in values.items()
        if v is not None
    ]
