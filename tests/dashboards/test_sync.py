"""apply / diff / prune / pull through datadog-api-client against a stateful fake of
Datadog's endpoints (tests/fakes/datadog_api.py): idempotency, rename in place,
prune only what orgpulse owns in scope and in reference order, UI edits in diff,
pull back to definitions, 429 with X-RateLimit-Reset, keys never in output."""

from __future__ import annotations

import copy
import io
import json
import logging

import pytest

from dashboards import alerting, cli, identity, registry, render, validate
from dashboards.api import Datadog
from dashboards.diff import differences
from orgpulse.cli import parser
from tests.dashboards.test_definitions import EVERY_SOURCE
from tests.fakes.datadog_api import FakeDatadog

API_KEY, APP_KEY = "dd-api-key-0123456789abcdef", "dd-app-key-fedcba9876543210"


@pytest.fixture
def fake():
    server = FakeDatadog()
    yield server
    server.close()


@pytest.fixture
def dd_settings(make_settings, fake):
    return make_settings(
        {"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY, "DD_API_URL": fake.url}, EVERY_SOURCE
    )  # every monitor


class Run:
    """`orgpulse dashboards …` in process, with an injected clock and definitions."""

    def __init__(self, settings, defs_for=None):
        self.settings, self.sleeps, self.defs_for = settings, [], defs_for

    def api(self, settings):
        return Datadog(settings, sleep=self.sleeps.append, backoff=0.5)

    def __call__(self, *argv) -> tuple[int, str]:
        args = parser().parse_args(["dashboards", *argv])
        out = io.StringIO()
        defs = self.defs_for(args.env) if self.defs_for else None  # a smaller set, for speed
        return cli.run(args, self.settings, out, make_api=self.api, defs=defs), out.getvalue()


def small(settings):
    """One dashboard, two monitors, the monitor-based SLO and its burn-rate alert."""

    def defs_for(env):
        full = registry.definitions(registry.context(settings, env))
        keep = {"collector_failing", "ci_red_on_main", "collector_freshness_burn_rate"}
        return registry.Definitions(
            {"pipeline": full.dashboards["pipeline"]},
            {k: v for k, v in full.monitors.items() if k in keep},
            {k: v for k, v in full.slos.items() if k == "collector_freshness"},
        )

    return defs_for


# ------------------------------------------------------------------ idempotency
def test_apply_twice_changes_nothing_the_second_time(fake, dd_settings):
    run = Run(dd_settings)
    status, out = run("apply", "--env", "production")
    assert status == 0, out
    assert (len(fake.dashboards), len(fake.monitors), len(fake.slos)) == (10, 18, 3)
    writes = fake.writes()
    assert writes == 31 and "31 create" in out
    status, out = run("apply", "--env", "production")
    assert status == 0 and fake.writes() == writes and "31 unchanged" in out
    status, out = run("apply")  # dashboards alone, as with no environment
    assert status == 0 and fake.writes() == writes and out.strip().endswith("10 unchanged")
    status, out = run("diff", "--env", "production")
    assert status == 0 and "31 unchanged" in out


def test_live_ids_are_filled_in_monitors_then_slos_then_their_alerts(fake, dd_settings):
    Run(dd_settings, small(dd_settings))("apply", "--env", "production")
    monitors = {identity.tagged_key(m["tags"]): m for m in fake.monitors.values()}
    (slo,) = fake.slos.values()
    assert slo["monitor_ids"] == [monitors["collector_failing"]["id"]]
    assert monitors["collector_freshness_burn_rate"]["query"].startswith(f'burn_rate("{slo["id"]}")')
    order = [(r.method, r.path) for r in fake.log if r.method == "POST"]
    assert [p for _, p in order] == ["/api/v1/dashboard"] + ["/api/v1/monitor"] * 2 + ["/api/v1/slo", "/api/v1/monitor"]


def test_a_renamed_title_updates_in_place(fake, dd_settings):
    defs = small(dd_settings)
    Run(dd_settings, defs)("apply", "--env", "production")
    ids = (set(fake.dashboards), set(fake.monitors), set(fake.slos))

    def renamed(env):
        out = defs(env)
        out.dashboards["pipeline"]["title"] = "orgpulse · From code to model"
        out.monitors["ci_red_on_main"]["name"] = "[orgpulse production] Main is red"
        return out

    status, out = Run(dd_settings, renamed)("apply", "--env", "production")
    assert status == 0 and (set(fake.dashboards), set(fake.monitors), set(fake.slos)) == ids
    assert "2 update" in out and "title: " in out
    assert [d["title"] for d in fake.dashboards.values()] == ["orgpulse · From code to model"]
    assert "[orgpulse production] Main is red" in [m["name"] for m in fake.monitors.values()]


def test_dry_run_changes_nothing(fake, dd_settings):
    status, out = Run(dd_settings, small(dd_settings))("apply", "--env", "production", "--dry-run")
    assert status == 0 and fake.writes() == 0 and "would apply (deletions only with --prune): 5 create" in out


# ------------------------------------------------------------------ prune
def _seed(dd_settings, fake):
    """What a Datadog org holds besides orgpulse's current objects."""
    api = Datadog(dd_settings)
    ctx = registry.context(dd_settings, "production")
    mine = identity.tags("old_monitor", "production")
    stray = {
        "unowned_dashboard": api.create(
            "dashboard", {"title": "Team board", "layout_type": "ordered", "description": "made by hand", "widgets": []}
        ).id,
        "old_dashboard": api.create(
            "dashboard", identity.mark_dashboard({"title": "Old", "layout_type": "ordered", "widgets": []}, "old")
        ).id,
        "unowned_monitor": api.create(
            "monitor",
            {
                "name": "hand",
                "type": "query alert",
                "tags": ["env:production"],
                "query": "avg(last_5m):avg:system.load.1{*} > 4",
            },
        ).id,
        "staging_monitor": api.create(
            "monitor",
            {
                "name": "s",
                "type": "query alert",
                "query": "avg(last_5m):avg:x{*} > 1",
                "tags": identity.tags("old_monitor", "staging"),
            },
        ).id,
        "old_monitor": api.create(
            "monitor", {"name": "o", "type": "query alert", "query": "avg(last_5m):avg:x{*} > 1", "tags": mine}
        ).id,
    }
    slo = alerting.monitor_slo(ctx, "old_slo", "Old", "old", monitor_key="old_monitor", target=99.0)["old_slo"]
    stray["old_slo"] = api.create("slo", alerting.resolve(slo, {("monitor", "old_monitor"): stray["old_monitor"]})).id
    alert = alerting.burn_rate_alert(ctx, "old_slo", "Old burn", what="w", first="f", critical=14.4, warning=7.2)
    stray["old_alert"] = api.create(
        "monitor", alerting.resolve(alert["old_slo_burn_rate"], {("slo", "old_slo"): stray["old_slo"]})
    ).id
    api.close()
    return stray


def test_prune_deletes_only_what_orgpulse_owns_in_scope_in_reference_order(fake, dd_settings):
    run = Run(dd_settings, small(dd_settings))
    run("apply", "--env", "production")
    stray = _seed(dd_settings, fake)
    status, out = run("apply", "--env", "production", "--prune")
    assert status == 0, out
    deleted = [r.path for r in fake.log if r.method == "DELETE"]
    assert deleted == [
        f"/api/v1/monitor/{stray['old_alert']}",
        f"/api/v1/slo/{stray['old_slo']}",
        f"/api/v1/monitor/{stray['old_monitor']}",
    ]  # the fake refuses any other order
    assert {stray["unowned_monitor"], stray["staging_monitor"]} <= set(fake.monitors)
    assert {stray["unowned_dashboard"], stray["old_dashboard"]} <= set(fake.dashboards)  # not with --env
    status, out = run("apply", "--prune")
    assert status == 0 and stray["old_dashboard"] not in fake.dashboards
    assert stray["unowned_dashboard"] in fake.dashboards and len(fake.dashboards) == 2


def test_a_clone_carrying_our_marker_is_reported_never_deleted(fake, dd_settings):
    run = Run(dd_settings, small(dd_settings))
    run("apply")
    (original,) = fake.dashboards.values()
    api = Datadog(dd_settings)
    clone = api.create("dashboard", {k: original[k] for k in ("title", "description", "layout_type", "widgets")}).id
    api.close()
    status, out = run("apply", "--prune")
    assert status == 0 and "duplicate dashboard pipeline" in out and clone in fake.dashboards
    assert len(fake.dashboards) == 2


# ------------------------------------------------------------------ diff and pull
def _edit_in_the_ui(fake):
    (dash,) = fake.dashboards.values()
    group = dash["widgets"][0]["definition"]
    group["widgets"][1]["definition"]["title"] = "PRs merged (edited)"
    group["widgets"].append(
        {
            "id": 1,
            "definition": {"type": "note", "content": "added in the UI"},
            "layout": {"x": 0, "y": 20, "width": 12, "height": 1},
        }
    )
    red = next(m for m in fake.monitors.values() if "orgpulse-id:ci_red_on_main" in m["tags"])
    red["options"]["notify_no_data"] = True
    red["tags"].append("team:someone")


def test_diff_shows_ui_edits_field_by_field_and_apply_restores(fake, dd_settings):
    run = Run(dd_settings, small(dd_settings))
    run("apply", "--env", "production")
    _edit_in_the_ui(fake)
    status, out = run("diff", "--env", "production")
    assert status == 1
    assert 'widgets[0].definition.widgets[1].definition.title: "PRs merged (edited)" -> "PRs merged"' in out
    added = len(fake.dashboards[next(iter(fake.dashboards))]["widgets"][0]["definition"]["widgets"]) - 1
    assert f"widgets[0].definition.widgets[{added}]: " in out and "-> <absent>" in out
    assert "options.notify_no_data: true -> false" in out and "tags: [" in out
    assert fake.writes() == 5  # diff wrote nothing
    run("apply", "--env", "production")
    assert run("diff", "--env", "production")[0] == 0


def test_pull_writes_live_objects_back_as_definitions(fake, dd_settings, tmp_path):
    run = Run(dd_settings, small(dd_settings))
    run("apply", "--env", "production")
    status, out = run("pull", "--env", "production", "--out", str(tmp_path / "live"))
    assert status == 0 and "wrote 5 live objects" in out
    defs = small(dd_settings)("production")
    render.render(defs, tmp_path / "code", with_env=True)
    for path in (tmp_path / "code").rglob("*.json"):  # every defined field as defined, placeholders too
        defined = json.loads(path.read_text())
        live = json.loads((tmp_path / "live" / path.relative_to(tmp_path / "code")).read_text())
        assert list(differences(defined, live)) == [], path.name
        assert not {"id", "created_at", "created", "author_handle", "creator", "modified"} & set(live)
        assert '"id":' not in json.dumps(live.get("widgets", []))  # widget ids are the server's
    slo = json.loads((tmp_path / "live/slos/collector_freshness.json").read_text())
    assert slo["monitor_ids"] == ["${monitor:collector_failing}"]


# ------------------------------------------------------------------ rate limits, errors, keys
def test_a_429_waits_for_x_ratelimit_reset_and_a_5xx_backs_off(fake, dd_settings):
    run = Run(dd_settings, small(dd_settings))
    fake.fail("/api/v1/dashboard", (429, {"X-RateLimit-Reset": "7"}, 0), (429, {"X-RateLimit-Reset": "3"}, 0))
    fake.fail("/api/v1/monitor", (503, {}, 0))
    status, out = run("apply", "--env", "production")
    assert status == 0 and run.sleeps == [7.0, 3.0, 0.5], out
    assert len(fake.dashboards) == 1 and len(fake.monitors) == 3


def test_an_api_that_keeps_failing_exits_2_saying_why(fake, dd_settings, capsys):
    fake.fail("/api/v1/dashboard", *[(500, {}, 0)] * 6)
    status, _ = Run(dd_settings, small(dd_settings))("apply")
    assert status == 2 and "Datadog API answered 500" in capsys.readouterr().err


def test_keys_never_reach_output_or_logs(fake, dd_settings, caplog, capsys, tmp_path):
    caplog.set_level(logging.DEBUG)
    run = Run(dd_settings, small(dd_settings))
    fake.fail("/api/v1/monitor", (403, {}, 0))
    outputs = [
        run("apply", "--env", "production")[1],
        run("apply", "--env", "production")[1],
        run("diff", "--env", "production")[1],
        run("pull", "--env", "production", "--out", str(tmp_path))[1],
    ]
    captured = capsys.readouterr()
    text = "\n".join(outputs + [captured.out, captured.err, caplog.text, repr(dd_settings)])
    text += "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "403" in captured.err and fake.requests  # the failure was reported, requests were made
    assert API_KEY not in text and APP_KEY not in text


def test_missing_keys_exit_2(make_settings, fake, capsys):
    settings = make_settings({"DD_API_URL": fake.url})
    status, _ = Run(settings)("diff")
    assert status == 2 and "DD_API_KEY and DD_APP_KEY" in capsys.readouterr().err


def test_apply_refuses_definitions_validate_refuses(fake, dd_settings):
    def broken(env):
        defs = small(dd_settings)(env)
        defs.dashboards["pipeline"]["widgets"][0]["definition"]["widgets"][1]["definition"]["type"] = "wildcard"
        return defs

    status, out = Run(dd_settings, broken)("apply")
    assert status == 1 and "refusing to apply" in out and fake.writes() == 0


# ------------------------------------------------------------------ the fake itself
def test_the_fakes_answers_deserialize_into_the_clients_response_models(fake, dd_settings):
    from datadog_api_client import Configuration
    from datadog_api_client.model_utils import validate_and_convert_types
    from datadog_api_client.v1.model.dashboard import Dashboard
    from datadog_api_client.v1.model.dashboard_summary import DashboardSummary
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.slo_list_response import SLOListResponse
    from datadog_api_client.v1.model.slo_response import SLOResponse

    Run(dd_settings, small(dd_settings))("apply", "--env", "production")
    api = Datadog(dd_settings)
    slo_id = next(iter(fake.slos))
    answers = [
        (api.call(api.dashboards_api.list_dashboards), DashboardSummary),
        (api.call(api.dashboards_api.get_dashboard, next(iter(fake.dashboards))), Dashboard),
        (api.call(api.slos_api.list_slos), SLOListResponse),
        (api.call(api.slos_api.get_slo, slo_id), SLOResponse),
    ]
    answers += [(m, Monitor) for m in api.call(api.monitors_api.list_monitors)]
    api.close()
    for answer, model in answers:
        parsed = validate_and_convert_types(
            copy.deepcopy(answer), (model,), ["answer"], True, True, configuration=Configuration()
        )
        assert list(validate.unparsed(parsed, model.__name__)) == []
