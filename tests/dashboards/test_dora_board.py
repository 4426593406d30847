"""The DORA dashboard and monitors (dashboards/boards/dora.py): every DORA metric shown, levels
coloured as fom/delivery.py ranks them, monitors with their thresholds from `monitors:`."""

from __future__ import annotations

from dashboards import registry, validate
from dashboards.boards import dora
from fom import delivery
from orgpulse.metrics import catalog


def build(make_settings, env="production", thresholds=None):
    options = {"monitors": {"sources": ["dora"], **({"thresholds": thresholds} if thresholds else {})}}
    settings = make_settings({}, options)
    return registry.definitions(registry.context(settings, env))


def queries_of(body: dict) -> list[str]:
    return [q for _, q, _ in validate.queries("dashboard", body)]


def test_every_dora_and_delivery_metric_is_on_the_dora_dashboard(make_settings):
    """(validate, in test_dashboards.py, checks every query; here: DORA's are on DORA's board.)"""
    queries = queries_of(build(make_settings, env=None).dashboards["dora"])
    names = {name for name in catalog() if name.startswith(("dora.", "health.delivery."))}
    assert len(names) == 26 and {n for n in names if not any(f":{n}{{" in q for q in queries)} == set()


def test_a_level_is_coloured_as_its_band_ranks_it():
    def colour(value):
        return next(
            f["palette"]
            for f in dora.LEVEL_FORMATS
            if (value >= f["value"] if f["comparator"] == ">=" else value < f["value"])
        )

    assert {name: colour(level) for name, level in delivery.LEVELS.items()} == {
        "elite": "white_on_green",
        "high": "white_on_green",
        "medium": "white_on_yellow",
        "low": "white_on_red",
    }


def test_monitors_read_their_thresholds_per_environment(make_settings):
    defs = build(make_settings, thresholds={"dora_days_without_deployment": 3, "dora_change_failure_rate_pct": 20})
    cfr, silent = defs.monitors["dora_change_failure_rate"], defs.monitors["dora_no_deployment"]
    assert cfr["query"] == ("avg(last_1h):max:dora.change_failure_rate_30d{env:production} by {repo} > 20")
    assert cfr["options"]["thresholds"] == {"critical": 20, "warning": 10.0}
    assert silent["query"] == "max(last_1h):max:dora.time_since_deployment_hours{env:production} by {repo} > 72"
    assert silent["options"]["notify_no_data"] is False  # a repository never seen deploying has no series
    assert "env:production" in cfr["tags"] and "orgpulse-id:dora_no_deployment" in silent["tags"]
    assert not build(make_settings, env=None).monitors  # dashboards alone without an environment
