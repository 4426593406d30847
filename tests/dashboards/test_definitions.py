"""Dashboards, monitors and SLOs as definitions: every body is a valid API request
(the client's models, nothing unparsed), every query names catalog metrics and
tags, aggregated by type and filtered by the template variables; the health grid's
colours have no gaps; config per environment; `validate`, `render`, pictures."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from dashboards import alerting, cli, pictures, registry, render, validate
from dashboards import queryable as known
from dashboards.board import Board
from dashboards.boards import health
from dashboards.boards import orgpulse as own
from dashboards.layout import grid, group, row
from dashboards.queries import QueryError, Scope, metric_of, parse, query
from dashboards.widgets import timeseries
from fom.scores import status
from orgpulse import config
from orgpulse.cli import parser
from orgpulse.metrics import catalog
from orgpulse.options import MONITOR_SOURCES
from receiver.envelope import STATUS

ROOT = Path(__file__).resolve().parents[2]


# Every source on: every monitor is built (without it, only the configured sources' are).
EVERY_SOURCE = {"monitors": {"sources": list(MONITOR_SOURCES)}}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "orgpulse.yaml"
    path.write_text(json.dumps(EVERY_SOURCE))
    return config.load({"DD_ENV": "test", "ORGPULSE_CONFIG": str(path)})


@pytest.fixture(scope="module")
def production(settings):
    return registry.definitions(registry.context(settings, "production"))


def all_bodies(defs):
    return [(kind, key, body) for kind, objects in defs.kinds().items() for key, body in objects.items()]


# ------------------------------------------------------------------ what is defined
def test_nine_dashboards_at_least_twelve_monitors_and_three_slos_with_burn_rate_alerts(production):
    assert set(production.dashboards) == {
        "github",
        "skypilot",
        "asana",
        "ec2",
        "kubernetes",
        "wandb",
        "health",
        "pipeline",
        "orgpulse",
        "dora",
    }
    assert len(production.monitors) >= 12
    assert {b["type"] for b in production.slos.values()} == {"metric", "time_slice", "monitor"}
    alerts = [b for b in production.monitors.values() if b["type"] == "slo alert"]
    assert {ref for b in alerts for ref in alerting.refs(b)} == {("slo", k) for k in production.slos}
    anomalies = [k for k, b in production.monitors.items() if "anomalies(" in b["query"]]
    assert sorted(anomalies) == ["ci_failure_rate_anomaly", "daily_cost_anomaly"]


def test_without_an_environment_only_dashboards_are_built(settings):
    defs = registry.definitions(registry.context(settings, None))
    assert len(defs.dashboards) == 10 and not defs.monitors and not defs.slos


def test_every_body_is_a_valid_request_and_every_catalog_metric_is_shown(production):
    """validate's own checks: the client's models with nothing unparsed, catalog metrics and
    tags, aggregation by type, template-variable filters; coverage of the catalog."""
    assert validate.problems(production, "production", registry.variables()) == []
    assert validate.coverage(production) == []


def test_every_query_is_aggregated_as_its_catalog_type_requires(production):
    checked = 0
    for kind, key, body in all_bodies(production):
        for _, text, _ in validate.queries(kind, body):
            for ref in parse(text):
                row = known.rows()[ref.metric]
                assert known.aggregation_problem(row, ref.space, ref.as_count, ref.points) is None, (key, text)
                checked += 1
    assert checked > 300


def test_dashboards_have_env_template_variable_defaulting_to_the_configured_env(production, make_settings):
    """The default is configuration, not the DD_ENV of the shell that runs apply (it would flip
    between CI jobs): `monitors.default_env`, else `*` — the settings here have DD_ENV=test."""
    for key, body in production.dashboards.items():
        names = [v["name"] for v in body["template_variables"]]
        assert names[0] == "env" and body["template_variables"][0]["defaults"] == ["*"], key
        assert names[1:] == list(registry.MODULES[key].BOARD.variables)
    assert [v["name"] for v in production.dashboards["github"]["template_variables"]] == ["env", "repo", "workflow"]
    configured = make_settings({"DD_ENV": "ci-job-7"}, {"monitors": {"default_env": "production"}})
    defs = registry.definitions(registry.context(configured, None))
    assert {b["template_variables"][0]["defaults"][0] for b in defs.dashboards.values()} == {"production"}
    for bad in ("Production", "prod env", ""):
        with pytest.raises(config.ConfigError, match="monitors.default_env must be"):
            make_settings(options={"monitors": {"default_env": bad}})


def test_monitors_are_scoped_to_their_environment_and_say_what_to_do(production):
    for key, body in production.monitors.items():
        assert "env:production" in body["tags"] and f"orgpulse-id:{key}" in body["tags"]
        assert "First:" in body["message"] and 1 <= body["priority"] <= 5
        assert isinstance(body["options"]["notify_no_data"], bool)  # explicit, every time
        if body["type"] != "slo alert":
            assert all("env:production" in r.filters for r in parse(body["query"])), key
    silent = {k for k, b in production.monitors.items() if b["options"]["notify_no_data"]}
    assert silent == {"collector_failing", "asana_heartbeats_missing", "informer_not_watching"}


# ------------------------------------------------------------------ validate refuses
def _small(production):
    return copy.deepcopy(production.dashboards["skypilot"])


def _first_widget(body):
    return body["widgets"][0]["definition"]["widgets"][0]["definition"]


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda d: d.update(type="wildcard"), "not understood by the client"),
        (lambda d: d["requests"][0].update(response_format="scalr"), "not understood"),
        (lambda d: d.update(titel="typo"), "unknown field(s) ['titel'] for QueryValueWidgetDefinition"),
        (lambda d: d["requests"][0]["queries"][0].update(aggregatr="sum"), "unknown field(s) ['aggregatr']"),
        (lambda d: d.update(time={"live_span": "1day"}), "not understood by the client"),
    ],
)
def test_validate_refuses_what_the_client_would_silently_accept(production, break_it, expected):
    body = _small(production)
    break_it(_first_widget(body))
    problems = validate.model_problems("dashboard", body)
    assert problems and expected in problems[0]


def test_validate_refuses_an_unknown_monitor_field_or_enum(production):
    body = copy.deepcopy(production.monitors["ci_red_on_main"])
    body["options"]["notify_no_dta"] = True
    body["type"] = "metrik alert"
    problems = " ".join(validate.model_problems("monitor", body))
    assert "unknown field(s) ['notify_no_dta']" in problems and "metrik alert" in problems


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sum:github.prs.nobody_emits_this{$env,$repo}.as_count()", "not in orgpulse/catalog.csv"),  # nobody emits it
        ("sum:github.prs.merged{$env,$repo,pr_number:12}.as_count()", "no tag key(s) ['pr_number']"),
        ("avg:github.prs.merged{$env,$repo}.as_count()", "is a count: use sum"),
        ("sum:github.prs.merged{$env,$repo}", "is a count: use sum"),
        ("avg:github.ci.run_time{$env,$repo,$workflow}", "is a distribution"),
        ("avg:github.prs.open{$env,$repo}", "level gauge"),
        ("sum:github.prs.cycle_time_hours{$env,$repo}", "extreme gauge"),
        ("sum:health.ci.fom{$env}", "ratio gauge"),
        ("avg:health.ci.fom{$env}.rollup(count, 86400)", "points summed or counted in time: use sum"),
        ("sum:github.prs.open{$repo}", "not filtered by $env"),
        ("sum:github.prs.open{$env}", "not filtered by $repo"),
    ],
)
def test_validate_refuses_bad_queries(text, expected):
    problems = validate.query_problems(text, ("$env", "$repo", "$workflow"), None)
    assert any(expected in p for p in problems), problems


def test_validate_refuses_a_time_aggregator_that_does_not_fit():
    text = "sum:github.prs.merged{$env,$repo}.as_count()"
    assert validate.query_problems(text, ("$env",), "sum") == []
    assert "time aggregator last" in validate.query_problems(text, ("$env",), "last")[0]
    # a score's points summed per day are a level (the health grid): summed, or the newest day
    points = "sum:health.ci.fom{$env}.rollup(sum, 86400)"
    assert validate.query_problems(points, ("$env",), "sum") == validate.query_problems(points, ("$env",), "last") == []
    assert "time aggregator avg" in validate.query_problems(points, ("$env",), "avg")[0]
    assert "time aggregator sum" in validate.query_problems("avg:health.ci.fom{$env}", ("$env",), "sum")[0]


def test_a_query_of_a_metric_the_catalog_lacks_is_built_and_then_refused():
    text = query(Scope(("env", "repo")), "sum", "github.prs.nobody_emits_this")
    assert text == "sum:github.prs.nobody_emits_this{$env}"
    assert validate.query_problems(text, ("$env", "$repo"), None) == [
        "github.prs.nobody_emits_this is not in orgpulse/catalog.csv nor on the allow-list"
    ]
    with pytest.raises(QueryError):
        metric_of("sum:a.b{*} + sum:c.d{*}")


def test_every_catalog_metric_is_plotted_or_listed_and_the_list_is_not_stale(production):
    defs = registry.Definitions(dashboards={k: b for k, b in production.dashboards.items() if k != "asana"})
    missing = validate.coverage(defs)
    assert "asana.tasks.overdue is on no dashboard and not in validate.UNPLOTTED" in missing
    assert validate.coverage(production, {"github.prs.open": "why"}) == [
        "UNPLOTTED lists github.prs.open, which is plotted"
    ]
    assert validate.coverage(production, {"no.such.metric": "why"}) == [
        "UNPLOTTED lists no.such.metric, which is not in the catalog"
    ]


def test_gauge_meanings_follow_the_catalog():
    rows = catalog()
    assert known.gauge_meaning(rows["github.prs.open"]) == known.LEVEL
    assert known.gauge_meaning(rows["github.prs.cycle_time_hours"]) == known.EXTREME  # "p90 …"
    assert known.gauge_meaning(rows["skypilot.jobs.runtime_seconds.p90"]) == known.EXTREME
    assert known.gauge_meaning(rows["github.prs.review_coverage_pct"]) == known.RATIO
    assert known.gauge_meaning(rows["health.overall.fom"]) == known.RATIO
    assert known.gauge_meaning(rows["github.prs.avg_time_to_merge_hours"]) == known.RATIO
    assert known.gauge_meaning(rows["wandb.metrics.accuracy_runs_7d"]) == known.LEVEL  # the override


def test_the_allow_list_holds_only_what_orgpulse_does_not_emit():
    assert set(known.EXTERNAL) and all(n.startswith("datadog.dogstatsd.client.") for n in known.EXTERNAL)
    assert not set(known.EXTERNAL) & set(catalog())


def test_server_errors_of_the_availability_slo_are_the_receivers_5xx():
    assert set(own.SERVER_ERRORS) == {r for r, code in STATUS.items() if code >= 500}


# ------------------------------------------------------------------ the health grid
def _evaluate(formats, v):
    """Datadog's rule: the first conditional format that matches colours the value."""
    ops = {">=": v.__ge__, ">": v.__gt__, "<": v.__lt__, "<=": v.__le__}
    return next((f["palette"] for f in formats if ops[f["comparator"]](f["value"])), None)


@pytest.mark.parametrize(
    "thresholds", [{"green": 0.7, "yellow": 0.3}, {"green": 0.9, "yellow": 0.9}, {"green": 1.0, "yellow": 0.0}]
)
def test_grid_colours_have_no_gaps_and_match_fom_status(thresholds):
    names = {"white_on_green": "green", "white_on_yellow": "yellow", "white_on_red": "red"}
    formats = health.formats(thresholds)
    for i in range(1001):
        v = i / 1000
        assert names[_evaluate(formats, v)] == status(v, thresholds), v
    assert names[_evaluate(formats, 1.0)] == "green"


def test_grid_has_a_row_per_fom_score_and_a_column_per_utc_day(production, settings):
    body = production.dashboards["health"]
    tables = [
        w["definition"]
        for g in body["widgets"]
        for w in g["definition"]["widgets"]
        if w["definition"]["type"] == "query_table"
    ]
    metrics = [parse(t["requests"][0]["queries"][0]["query"])[0].metric for t in tables]
    assert sorted(metrics) == sorted(n for n in catalog() if n.startswith("health."))
    ctx = registry.context(settings, None)
    for t in tables:
        request = t["requests"][0]
        # each score's points per UTC day, summed and counted, read at the window's newest day
        # and over the whole window (tests/dashboards/test_health_grid.py: the cells are each day's average)
        assert {q["name"]: (q["query"].split("}")[1], q["aggregator"]) for q in request["queries"]} == {
            "s_head": (".rollup(sum, 86400)", "last"),
            "s_all": (".rollup(sum, 86400)", "sum"),
            "n_head": (".rollup(count, 86400)", "last"),
            "n_all": (".rollup(count, 86400)", "sum"),
        }
        assert len({parse(q["query"])[0].metric for q in request["queries"]}) == 1
        assert all(".fill(" not in q["query"] for q in request["queries"])  # no data stays no data
        assert t["time"] == {"live_span": "1d"}
        assert [f["formula"] for f in request["formulas"]] == [health.cell(d) for d in range(6, -1, -1)]
        assert all(f["conditional_formats"] == health.formats(ctx.fom) for f in request["formulas"])


def test_grid_thresholds_come_from_fom_thresholds(make_settings):
    settings = make_settings(options={"fom": {"thresholds": {"green": 0.8, "yellow": 0.5}}})
    defs = registry.definitions(registry.context(settings, "production"))
    text = json.dumps(defs.dashboards["health"])
    assert '"value": 0.8' in text and '"value": 0.5' in text and '"value": 0.7' not in text
    assert defs.monitors["fom_overall_red"]["options"]["thresholds"] == {"critical": 0.5, "warning": 0.8}


# ------------------------------------------------------------------ configuration
MONITORS = {
    "notify": ["@slack-eng"],
    "thresholds": {"pr_cycle_time_p90_hours": 60},
    "sources": ["github"],
    "environments": {
        "production": {"notify": ["@pagerduty-orgpulse"], "thresholds": {"collector_silent_minutes": 45}},
        "staging": {"thresholds": {"pr_cycle_time_p90_hours": 96}},
    },
}


def test_thresholds_and_handles_come_from_config_per_environment(make_settings):
    settings = make_settings(options={"monitors": MONITORS})
    prod = registry.definitions(registry.context(settings, "production")).monitors
    staging = registry.definitions(registry.context(settings, "staging")).monitors
    assert (
        prod["pr_cycle_time_p90"]["query"].endswith("> 60")
        and "@pagerduty-orgpulse" in prod["pr_cycle_time_p90"]["message"]
    )
    assert prod["collector_failing"]["options"]["no_data_timeframe"] == 45
    assert (
        staging["pr_cycle_time_p90"]["query"].endswith("> 96")
        and "@slack-eng" in staging["pr_cycle_time_p90"]["message"]
    )
    assert staging["collector_failing"]["options"]["no_data_timeframe"] == 30


# The section's shape: checked by config.load(), so every process refuses it at start.
@pytest.mark.parametrize(
    "section, expected",
    [
        ({"notify": ["slack-eng"]}, "monitors.notify must be a list of notification handles"),
        ({"thresholds": {"pr_cycle_time_p90_hours": "high"}}, "thresholds must be numbers"),
        ({"environments": {"production": {"notif": []}}}, "production: only notify and thresholds"),
        ({"environments": {"production": {"thresholds": {"nope": "x"}}}}, "production: thresholds must be numbers"),
        ({"paging": True}, "monitors.paging is not a known setting"),
        ({"sources": ["github", "jira"]}, "unknown source(s) ['jira']"),
    ],
)
def test_monitors_section_shape_is_validated_at_start(make_settings, section, expected):
    with pytest.raises(config.ConfigError) as err:
        make_settings(options={"monitors": section})
    assert any(expected in p for p in err.value.problems), err.value.problems


# What the names mean: checked where the monitors are defined, by every `orgpulse dashboards`
# action that builds them (the receiver and the poller start without loading dashboards/).
MEANINGS = [
    ({"thresholds": {"pr_cycle_tim": 1}}, "unknown threshold(s) ['pr_cycle_tim']"),
    ({"environments": {"production": {"thresholds": {"nope": 1}}}}, "production: unknown threshold"),
    # Datadog refuses a warning on the wrong side of its critical (the defaults' warnings stay)
    ({"thresholds": {"pr_cycle_time_p90_hours": 24}}, "pr_cycle_time_p90: warning 48 must be below critical 24"),
    ({"thresholds": {"dora_change_failure_rate_pct": 8}}, "dora_change_failure_rate: warning 10 must be below"),
    ({"thresholds": {"training_failure_rate_pct_warning": 30}}, "training_failure_rate: warning 30 must be below"),
    (
        {"environments": {"staging": {"thresholds": {"burn_rate_warning": 20}}}},
        "webhook_availability_burn_rate (staging): warning 20 must be below critical 14.4",
    ),
    (
        {"thresholds": {"burn_rate_critical": 5}, "environments": {"production": {}}},
        "delivery_latency_burn_rate (production): warning 7.2 must be below critical 5",
    ),
]


@pytest.mark.parametrize("section, expected", MEANINGS)
def test_monitors_thresholds_are_checked_by_the_dashboards_command(make_settings, capsys, section, expected):
    settings = make_settings(options={"monitors": section})  # loads: a receiver starts on it
    assert any(expected in p for p in registry.config_problems(settings.section("monitors")))
    out = io.StringIO()
    assert cli.run(parser().parse_args(["dashboards", "validate"]), settings, out) == 2
    assert expected in capsys.readouterr().err and out.getvalue() == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--out", "OUT"],
        ["diff", "--env", "production"],
        ["apply", "--env", "production"],
        ["pictures", "--out", "OUT"],
    ],
)
def test_every_action_that_builds_monitors_refuses_an_unknown_threshold(make_settings, tmp_path, capsys, argv):
    settings = make_settings(options={"monitors": {"thresholds": {"pr_cycle_tim": 1}}})
    args = parser().parse_args(["dashboards"] + [str(tmp_path / "out") if a == "OUT" else a for a in argv])
    called = []
    assert cli.run(args, settings, io.StringIO(), make_api=lambda s: called.append(s)) == 2
    assert not called and not (tmp_path / "out").exists()
    assert "monitors.thresholds unknown threshold(s) ['pr_cycle_tim']" in capsys.readouterr().err


def test_a_pair_set_in_the_right_order_is_accepted_and_rendered(make_settings):
    settings = make_settings(
        options={
            "monitors": {
                "sources": ["github"],
                "thresholds": {"pr_cycle_time_p90_hours": 24, "pr_cycle_time_p90_hours_warning": 16},
            }
        }
    )
    body = registry.definitions(registry.context(settings, "production")).monitors["pr_cycle_time_p90"]
    assert body["options"]["thresholds"] == {"critical": 24, "warning": 16}


def test_validate_refuses_a_warning_on_the_wrong_side_of_its_critical(production):
    above = copy.deepcopy(production.monitors["pr_cycle_time_p90"])
    above["options"]["thresholds"] = {"critical": 24, "warning": 48}
    below = copy.deepcopy(production.monitors["fom_overall_red"])  # alerts below: warning above
    below["options"]["thresholds"] = {"critical": 0.3, "warning": 0.1}
    defs = registry.Definitions(monitors={"pr_cycle_time_p90": above, "fom_overall_red": below})
    assert sorted(validate.problems(defs, "production", {})) == [
        "monitor fom_overall_red: warning 0.1 must be above critical 0.3 (the monitor alerts below "
        "them): set both thresholds of the pair",
        "monitor pr_cycle_time_p90: warning 48 must be below critical 24 (the monitor alerts above "
        "them): set both thresholds of the pair",
    ]
    assert all(alerting.threshold_problem(b) is None for b in production.monitors.values())


# ------------------------------------------------------------------ monitors per source
def _monitor_keys(make_settings, options):
    return set(registry.definitions(registry.context(make_settings(options=options), "production")).monitors)


SELF = {"fom_overall_red", "receiver_rejections", "webhook_availability_burn_rate", "delivery_latency_burn_rate"}


def test_monitors_are_built_only_for_the_sources_that_are_on(make_settings):
    # Nothing configured: no collector, no informer — nothing that would page on their silence.
    assert _monitor_keys(make_settings, {}) == SELF
    # Derived from the collectors' own options when monitors.sources is absent.
    assert _monitor_keys(make_settings, {"github": {"repositories": ["org/app"]}}) == SELF | {
        "collector_failing",
        "collector_freshness_burn_rate",
        "ci_red_on_main",
        "pr_cycle_time_p90",
        "ci_failure_rate_anomaly",
        "dora_change_failure_rate",
        "dora_no_deployment",
    }
    assert _monitor_keys(make_settings, {"aws": {"regions": ["us-east-1"]}, "asana": {"workspace": "1"}}) == SELF | {
        "collector_failing",
        "collector_freshness_burn_rate",
        "ec2_monthly_estimate_rising",
        "daily_cost_anomaly",
        "asana_heartbeats_missing",
    }
    # The informer and SkyPilot are switched on by the pod's environment: listed explicitly.
    listed = _monitor_keys(make_settings, {"monitors": {"sources": ["kubernetes"]}})
    assert listed == SELF | {"oom_kill_burst", "crashloop_burst", "informer_not_watching"}
    settings = make_settings(options={"monitors": {"sources": []}})
    defs = registry.definitions(registry.context(settings, "production"))
    assert "collector_freshness" not in defs.slos and set(defs.slos) == {"webhook_availability", "delivery_latency"}


def test_the_daily_cost_anomaly_sums_only_the_sources_that_are_on_each_defaulting_to_zero(make_settings):
    def monitor(sources):
        settings = make_settings(options={"monitors": {"sources": sources}})
        return registry.definitions(registry.context(settings, "production")).monitors["daily_cost_anomaly"]

    def query(sources):
        return monitor(sources)["query"]

    both = query(["ec2", "skypilot"])
    refs = parse(both)
    assert [r.metric for r in refs] == ["ec2.cost.running_hourly_estimate", "skypilot.cost.hourly_estimate"]
    for r in refs:  # a source with no point this hour (no job, an unpriced instance) adds 0, never blanks it
        assert f"default_zero(sum:{r.metric}{{env:production}})" in both
    assert [r.metric for r in parse(query(["skypilot"]))] == ["skypilot.cost.hourly_estimate"]
    assert monitor(["ec2"])["name"].endswith("Daily compute cost (EC2 instances) is anomalous")
    assert "SkyPilot" not in monitor(["ec2"])["message"]  # the title names only what it sums


# ------------------------------------------------------------------ extending
def test_another_part_adds_a_dashboard_and_its_monitors_with_a_module(settings):
    board = Board("extra", "orgpulse · Extra", "An added dashboard.", ("repo",))
    module = types.ModuleType("extra")
    module.BOARD = board
    module.THRESHOLDS = {"extra_open_prs": 100.0}
    module.dashboard = lambda ctx: board.body(
        ctx, grid(group("PRs", row(timeseries("Open", {"open": board.q("sum", "github.prs.open")}))))
    )
    module.monitors = lambda ctx: alerting.monitor(
        ctx,
        "extra_open_prs",
        "Too many open PRs",
        f"max(last_1h):{alerting.q(ctx, 'sum', 'github.prs.open')} > {ctx.threshold('extra_open_prs')}",
        what="Many PRs are open.",
        first="review some.",
        priority=4,
        critical=ctx.threshold("extra_open_prs"),
    )
    modules = {**registry.MODULES, "extra": module}
    defs = registry.definitions(registry.context(settings, "production", modules), modules)
    assert "extra" in defs.dashboards and defs.monitors["extra_open_prs"]["query"].endswith("> 100.0")
    added = registry.Definitions(
        {"extra": defs.dashboards["extra"]}, {"extra_open_prs": defs.monitors["extra_open_prs"]}
    )
    assert validate.problems(added, "production", registry.variables(modules)) == []
    clash = types.ModuleType("clash")
    clash.BOARD, clash.dashboard = board, module.dashboard
    clash.monitors = lambda ctx: {"ci_red_on_main": {}}
    with pytest.raises(ValueError, match="ci_red_on_main"):
        registry.definitions(registry.context(settings, "production"), {**registry.MODULES, "clash": clash})


# ------------------------------------------------------------------ render, pictures, the CLI
def test_render_writes_stable_sorted_files_with_placeholders(tmp_path, production):
    first = render.render(production, tmp_path / "a", with_env=True)
    render.render(production, tmp_path / "b", with_env=True)
    assert len(first) == len(production.dashboards) + len(production.monitors) + len(production.slos)
    for path in first:
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert path.read_bytes() == twin.read_bytes()
        assert path.read_text() == render.dumps(json.loads(path.read_text()))  # sorted keys
    slo = json.loads((tmp_path / "a/slos/collector_freshness.json").read_text())
    assert slo["monitor_ids"] == ["${monitor:collector_failing}"]
    alert = json.loads((tmp_path / "a/monitors/delivery_latency_burn_rate.json").read_text())
    assert alert["query"].startswith('burn_rate("${slo:delivery_latency}")')
    only = render.render(production, tmp_path / "c", with_env=False)
    assert {p.parent.name for p in only} == {"dashboards"}


def test_committed_pictures_match_the_definitions(settings):
    defs = registry.definitions(registry.context(config.load({}), None))
    readme = (ROOT / "README.md").read_text()
    for key, body in defs.dashboards.items():
        path = ROOT / "dashboards" / "pictures" / f"{key}.svg"
        assert path.read_text() == pictures.svg(body), f"run `orgpulse dashboards pictures` ({key})"
        assert f"dashboards/pictures/{key}.svg" in readme


def test_validate_command_passes(settings):
    """`orgpulse dashboards validate` on the definitions as they are: part of every test run."""
    out = io.StringIO()
    status = cli.run(parser().parse_args(["dashboards", "validate"]), settings, out)
    assert status == 0, out.getvalue()
    assert "10 dashboards, 18 monitors and 3 SLOs per environment (test): valid" in out.getvalue()


def test_validate_command_fails_on_a_bad_definition_and_names_it(settings):
    module = types.ModuleType("bad")
    module.BOARD = Board("bad", "Bad", "A metric nobody emits.")
    module.dashboard = lambda ctx: module.BOARD.body(
        ctx, grid(group("x", row(timeseries("x", {"x": "sum:github.prs.nobody_emits_this{$env}.as_count()"}))))
    )
    defs = registry.definitions(registry.context(settings, None), {"bad": module})
    problems = validate.problems(defs, None, registry.variables({"bad": module}))
    assert problems == [
        "dashboard bad: widgets[0].widgets[0] 'x': github.prs.nobody_emits_this is not in "
        "orgpulse/catalog.csv nor on the allow-list"
    ]


def test_the_console_script_runs_the_dashboards_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "ORGPULSE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "dashboards", "render", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == sorted(f"{k}.json" for k in registry.MODULES)


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--env", "prod", "--out", "OUT"],
        ["validate", "--env", "prod"],
        ["apply", "--env", "prod", "--dry-run"],
        ["diff", "--env", "prod"],
    ],
)
def test_an_environment_monitors_environments_does_not_list_is_refused(make_settings, tmp_path, capsys, argv):
    settings = make_settings(options={"monitors": {"environments": {"staging": {}, "production": {}}}})
    args = parser().parse_args(["dashboards"] + [str(tmp_path / "out") if a == "OUT" else a for a in argv])
    called = []
    status = cli.run(args, settings, io.StringIO(), make_api=lambda s: called.append(s))
    assert status == 2 and not called and not (tmp_path / "out").exists()
    assert "--env prod: not under monitors.environments (production, staging)" in capsys.readouterr().err
    ok = parser().parse_args(["dashboards", "render", "--env", "staging", "--out", str(tmp_path / "out")])
    assert cli.run(ok, settings, io.StringIO()) == 0 and (tmp_path / "out" / "monitors").is_dir()
    # without monitors.environments any environment may be built
    anywhere = parser().parse_args(["dashboards", "render", "--env", "prod", "--out", str(tmp_path / "any")])
    assert cli.run(anywhere, make_settings(), io.StringIO()) == 0


def test_validate_checks_every_sources_monitors_and_render_says_which_are_on(make_settings, tmp_path):
    """With no source switched on, validate still checks all 18 monitors, and render names
    the sources whose monitors it builds and those it leaves out — never a silent subset."""
    bare = make_settings()
    out = io.StringIO()
    assert cli.run(parser().parse_args(["dashboards", "validate", "--env", "production"]), bare, out) == 0
    assert "18 monitors and 3 SLOs per environment (production): valid" in out.getvalue()
    assert "for the sources on in this config, apply builds 4 monitors and 2 SLOs" in out.getvalue()
    out = io.StringIO()
    args = parser().parse_args(["dashboards", "render", "--env", "production", "--out", str(tmp_path / "r")])
    assert cli.run(args, bare, out) == 0
    assert (
        "monitors for the sources that are on: none; off: github, dora, asana, wandb, ec2, "
        "skypilot, kubernetes (list them in monitors.sources to include them)" in out.getvalue()
    )
