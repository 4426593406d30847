"""DORA performance levels: elite / high / medium / low per key, as bands on 30-day values.

The bands are the clusters of the 2023 Accelerate State of DevOps Report (DORA, Google
Cloud; "How do you compare?"). The report describes each cluster in words, and its
medium and low clusters overlap on two keys (both "between once per week and once per
month", "between one week and one month"); the bounds below turn the words into numbers
and resolve the overlap as Apache DevLake does. Elite deploys "on demand"
— DORA's guide: multiple deploys per day — so more than once a day on average: more than
30 in 30 days; high is "between once per day and once per week", so daily (30) is its top:

| key | elite | high | medium | low |
|---|---|---|---|---|
| deployment frequency (production, 30 d) | on demand: >= 31 (> daily) | >= 4 (weekly to daily) | >= 1 (monthly) | 0 |
| lead time for changes (p50 hours) | < 24 (one day) | < 168 (one week) | < 720 (one month) | longer |
| change failure rate (percent) | <= 5 | <= 10 | <= 15 | above (report: 64) |
| time to restore (p50 hours) | < 1 (one hour) | < 24 (one day) | < 168 (one week) | longer |

Used by the DORA collector (the per-repository `dora.performance_level`) and by the
`delivery` FoM area (fom/scores.py), so both say the same. Deployment frequency is scored
only for repositories that deploy: one never seen deploying sends no `dora.deployments_30d`
(pollers/dora/figures.py), so the mean the FoM scores is over deploying repositories.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

LEVELS = {"low": 1, "medium": 2, "high": 3, "elite": 4}

# key → (30-day input, comparison a value must pass, bounds for elite, high, medium).
BANDS: dict[str, tuple[str, Callable[[float, float], bool], tuple[float, float, float]]] = {
    "deployment_frequency": ("dora.deployments_30d", operator.ge, (31, 4, 1)),
    "lead_time": ("dora.lead_time_p50_hours_30d", operator.lt, (24, 168, 720)),
    "change_failure_rate": ("dora.change_failure_rate_30d", operator.le, (5, 10, 15)),
    "time_to_restore": ("dora.time_to_restore_p50_hours_30d", operator.lt, (1, 24, 168)),
}

# A level as a FoM score: elite and high are green, medium yellow, low red with the
# default fom.thresholds (0.7, 0.3). Overridable per formula (fom.formulas).
LEVEL_SCORES = {"elite": 1.0, "high": 0.75, "medium": 0.5, "low": 0.25}


def level(key: str, value: float) -> str:
    """The DORA level of a 30-day value of `key`."""
    _, passes, bounds = BANDS[key]
    for name, bound in zip(("elite", "high", "medium"), bounds, strict=True):
        if passes(value, bound):
            return name
    return "low"


def score(key: str) -> Callable[[float, Mapping[str, float]], float]:
    """A FoM formula's score function for `key`: the level's score from the parameters."""
    return lambda value, params: params[level(key, value)]
