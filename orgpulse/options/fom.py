"""`fom:` — Figure of Merit scores: thresholds, formula overrides, area weights."""

from __future__ import annotations

from typing import Any

from orgpulse.options.option import Option


def _formula_overrides(value: Any) -> str | None:
    """The shape; the names and their parameters are fom's (its check, CHECKS_GROUP)."""
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(p, dict) for k, p in value.items()):
        return None
    return f"must be a mapping of area.name to a mapping of parameters, got {value!r}"


def _thresholds(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and set(value) == {"green", "yellow"}
        and all(isinstance(v, (int, float)) for v in value.values())
        and 0 <= value["yellow"] <= value["green"] <= 1
    )
    return None if ok else f"must be {{green, yellow}} with 0 <= yellow <= green <= 1, got {value!r}"


SECTION: dict[str, Option] = {
    "thresholds": Option(
        {"green": 0.7, "yellow": 0.3},
        _thresholds,
        doc=(
            "The bands of every score: green ≥ green, yellow ≥ yellow, red below (the health grid, "
            "the status page, the FoM monitor)."
        ),
    ),
    "formulas": Option(
        {},
        _formula_overrides,
        doc=(
            "Parameter overrides per formula, `area.name: {param: value}` (e.g. "
            "`ci.failing_workflows: {limit: 5}`), checked against the formula table."
        ),
    ),
    "area_weights": Option(
        {},
        lambda v: None if isinstance(v, dict) else f"must be a mapping, got {v!r}",
        doc="Weight of each area in `health.overall.fom` (every area weighs 1 by default).",
    ),
}
