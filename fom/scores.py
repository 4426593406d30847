"""Figure-of-Merit health scores: pure functions of fresh inputs, in one formula table.

Fixed from the old collectors' scores: binary inputs are tested as binary (a workflow
failing anywhere is 0), every score is clamped to [0, 1], and a score whose
input is missing or older than two poll cycles is not emitted at all — never a
healthy-looking default. Inputs are the poller's own values in memory.
Parameters are overridable per formula in `fom.formulas`, thresholds in
`fom.thresholds`; composites per area and one overall score are weighted means
of the scores that exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fom import delivery
from orgpulse import metrics as m

# (metric name, aggregate across its series, tags a series must carry or None) -> fresh value or None
Get = Callable[[str, str, "dict[str, str] | None"], float | None]
# Inputs that mean human work read only the author_type:human series of a count that
# carries author_type (bots' series are its other half; the sum is the old collectors' figure).
HUMAN = {"author_type": "human"}


def clip(v: float) -> float:
    return max(0.0, min(1.0, v))


def linear_down(v: float, good: float, bad: float) -> float:
    """1 at `good` or better, 0 at `bad` or worse, linear between."""
    return clip(1 - (v - good) / (bad - good))


def per_limit(v: float, limit: float) -> float:
    """max(1 − v/limit, 0): the old collectors' count-based scores."""
    return clip(1 - v / limit)


def accuracy(v: float) -> float:
    """Accuracy given as a fraction or a percentage (the old collectors accepted both; now clamped)."""
    return clip(v / 100 if v > 1 else v)


def duration_hours(v: float, p: dict) -> float:
    if v < p["too_short_hours"]:
        return p["too_short_score"]
    return 1.0 if v <= p["good_hours"] else linear_down(v, p["good_hours"], p["bad_hours"])


@dataclass(frozen=True)
class Formula:
    area: str
    name: str
    inputs: tuple[tuple[str, str], ...]  # (metric, aggregate across its series)
    score: Callable[..., float | None]  # (*input values, params) -> raw score, None: no score
    params: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    where: dict[str, str] | None = None  # tags every input series must carry


def _f(
    area: str,
    name: str,
    inputs: list[tuple[str, str]],
    score: Callable[..., float | None],
    weight: float = 1.0,
    where: dict[str, str] | None = None,
    **params: Any,
) -> Formula:
    return Formula(area, name, tuple(inputs), score, params, weight, where)


FORMULAS: tuple[Formula, ...] = (
    # --- CI: the old collectors' seven, fixed, and the four they planned
    # The minimum over the test workflows; benchmark workflows feed only benchmarks_passing.
    _f("ci", "tests_passing", [("github.ci.tests_passing_on_main", "min")], lambda v, p: v, weight=2),
    _f(
        "ci",
        "failing_workflows",
        [("github.ci.failed_workflows_7d", "sum")],
        lambda v, p: per_limit(v, p["limit"]),
        limit=5,
    ),
    _f("ci", "hotfix_count", [("github.commits.hotfix", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=10),
    _f("ci", "revert_count", [("github.commits.reverts", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=2),
    _f(
        "ci",
        "duration_p90",
        [("github.ci.duration_p90_minutes", "max")],
        lambda v, p: linear_down(v, p["good"], p["bad"]),
        good=3,
        bad=10,
    ),
    # Human PRs only: the SLO is about PRs waiting on people; a bot's backlog (dependabot)
    # is github.prs.stale_count_14d{author_type:bot}. Hotfixes and reverts stay summed over
    # author_type: a reverted or hot-fixed main is the signal, whoever wrote the commit.
    _f(
        "ci",
        "stale_prs",
        [("github.prs.stale_count_14d", "sum")],
        lambda v, p: per_limit(v, p["limit"]),
        where=HUMAN,
        limit=50,
    ),
    # cycle_time_hours (a percentile) is of human PRs by definition and carries no author_type.
    _f(
        "ci",
        "pr_cycle_time",
        [("github.prs.cycle_time_hours", "max")],
        lambda v, p: linear_down(v, p["good"], p["bad"]),
        good=24,
        bad=72,
    ),
    _f("ci", "benchmarks_passing", [("github.ci.benchmarks_passing", "avg")], lambda v, p: v),
    _f(
        "ci",
        "force_pushes",
        [("github.commits.force_merge_7d", "sum")],
        lambda v, p: per_limit(v, p["limit"]),
        limit=14,
    ),
    _f(
        "ci",
        "timeout_cancellations",
        [("github.ci.timeout_cancellations_7d", "sum")],
        lambda v, p: per_limit(v, p["limit"]),
        limit=20,
    ),
    _f("ci", "flaky_checks", [("github.ci.flaky_checks_7d", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=20),
    # --- training: the old collectors' seven. Counts sum over projects, the best is the max; a mean of
    # per-project means weighs each project by what its mean is over (runs, GPU hours), so a
    # project with one run does not outvote one with a hundred.
    _f("training", "run_success", [("wandb.runs.completed_7d", "sum")], lambda v, p: clip(v / p["target"]), target=7),
    _f("training", "run_failures", [("wandb.runs.failed_7d", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=3),
    _f("training", "best_accuracy", [("wandb.metrics.best_accuracy", "max")], lambda v, p: accuracy(v)),
    _f(
        "training",
        "avg_accuracy",
        [("wandb.metrics.avg_accuracy_7d", "weighted_by:wandb.metrics.accuracy_runs_7d")],
        lambda v, p: accuracy(v),
    ),
    # The worst project's latest loss, not a mean: losses of different models at different
    # moments have no meaningful average, and a diverging model must not hide behind a healthy
    # one. A loss of 0 or below is not a loss this scale can judge (the old collectors' v > 0 guard):
    # no score; the max ignores such a project unless every project has one.
    _f(
        "training",
        "latest_loss",
        [("wandb.metrics.latest_loss", "max")],
        lambda v, p: linear_down(v, p["good"], p["bad"]) if v > 0 else None,
        good=0.1,
        bad=2.0,
    ),
    _f(
        "training",
        "gpu_utilization",
        [("wandb.training.gpu_utilization_avg", "weighted_by:wandb.training.total_gpu_hours_7d")],
        lambda v, p: clip(v / p["target_pct"]),
        target_pct=80,
    ),
    _f(
        "training",
        "duration",
        [("wandb.training.avg_duration_hours", "weighted_by:wandb.runs.completed_7d")],
        duration_hours,
        too_short_hours=1,
        too_short_score=0.3,
        good_hours=8,
        bad_hours=16,
    ),
    # --- infrastructure (new)
    # Idle among the instances CloudWatch measured: none measured is no score, not "all busy".
    _f(
        "infra",
        "idle_instances",
        [("ec2.instances.idle", "sum"), ("ec2.instances.cpu_measured", "sum")],
        lambda idle, measured, p: clip(1 - idle / measured) if measured else None,
    ),
    _f(
        "infra",
        "unattached_ebs",
        [("ec2.ebs.volumes.unattached_size_gb", "sum"), ("ec2.ebs.volumes.size_gb", "sum")],
        lambda waste, total, p: clip(1 - waste / total) if total else 1.0,
    ),
    _f("infra", "pod_restarts", [("k8s.pods.high_restarts", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=10),
    _f(
        "infra", "oom_kills", [("k8s.containers.oom_kills_24h", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=10
    ),
    _f(
        "infra",
        "cpu_efficiency",
        [("k8s.resources.cpu_used_cores", "sum"), ("k8s.resources.cpu_requested_cores", "sum")],
        lambda used, req, p: clip(used / req / p["target"]) if req else None,
        target=0.6,
    ),
    # --- project (new)
    _f("project", "overdue_tasks", [("asana.tasks.overdue", "sum")], lambda v, p: per_limit(v, p["limit"]), limit=20),
    _f(
        "project",
        "bug_backlog_age",
        [("asana.projects.bugs.avg_age_days", "avg")],
        lambda v, p: linear_down(v, p["good_days"], p["bad_days"]),
        good_days=7,
        bad_days=30,
    ),
    # --- delivery (new): DORA's four keys, the level of the mean repository (fom/delivery.py)
    *(
        Formula("delivery", key, ((metric, "avg"),), delivery.score(key), dict(delivery.LEVEL_SCORES))
        for key, (metric, _, _) in delivery.BANDS.items()
    ),
)
AREA_WEIGHTS = {"ci": 1.0, "training": 1.0, "infra": 1.0, "project": 1.0, "delivery": 1.0}


def check_formulas(overrides: dict[str, dict]) -> str | None:
    """`fom.formulas`: every key names a formula of FORMULAS, every parameter one it takes (the
    table is the schema of its own parameters). Registered with config.load() through the
    entry-point group orgpulse.config_checks (pyproject.toml); the kernel checks the shape."""
    known = {f"{f.area}.{f.name}": f.params for f in FORMULAS}
    for key, params in overrides.items():
        if key not in known:
            return f"unknown formula {key!r} (known: {sorted(known)})"
        if set(params) - set(known[key]):
            return f"{key}: parameters must be among {sorted(known[key])}, got {params!r}"
    return None


def evaluate(get: Get, overrides: dict[str, dict] | None = None) -> dict[tuple[str, str], float]:
    """(area, name) → score in [0, 1] for every formula whose inputs all exist."""
    overrides = overrides or {}
    scores = {}
    for f in FORMULAS:
        values = [get(metric, agg, f.where) for metric, agg in f.inputs]
        if any(v is None for v in values):
            continue
        raw = f.score(*values, {**f.params, **overrides.get(f"{f.area}.{f.name}", {})})
        if raw is not None:
            scores[(f.area, f.name)] = clip(raw)
    return scores


def composites(scores: dict[tuple[str, str], float], area_weights: dict[str, float] = AREA_WEIGHTS) -> dict[str, float]:
    """Weighted means per area, and 'overall' over the areas that have a score."""
    weights = {(f.area, f.name): f.weight for f in FORMULAS}
    out: dict[str, float] = {}
    for area in area_weights:
        items = [(s, weights[k]) for k, s in scores.items() if k[0] == area]
        if items:
            out[area] = sum(s * w for s, w in items) / sum(w for _, w in items)
    if out:
        total = sum(area_weights[a] for a in out)
        out["overall"] = sum(out[a] * area_weights[a] for a in out) / total
    return out


def status(score: float, thresholds: dict[str, float]) -> str:
    return "green" if score >= thresholds["green"] else "yellow" if score >= thresholds["yellow"] else "red"


def score_metrics(get: Get, options: dict[str, Any], now: datetime | None = None) -> list[m.Metric]:
    """health.<area>.<name>.fom, health.<area>.fom and health.overall.fom gauges."""
    scores = evaluate(get, options.get("formulas") or {})
    out = [m.gauge(f"health.{area}.{name}.fom", v) for (area, name), v in sorted(scores.items())]
    areas = composites(scores, {**AREA_WEIGHTS, **(options.get("area_weights") or {})})
    out += [m.gauge(f"health.{area}.fom", v) for area, v in sorted(areas.items())]
    return out
