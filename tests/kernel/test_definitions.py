"""The CI definitions the receiver and the poller share (orgpulse/definitions.py), and the
receiver applying them: flaky per (repo, workflow, head SHA), benchmarks apart from tests."""
from __future__ import annotations

import copy
import json
import re

import pytest

from orgpulse import metrics as m
from orgpulse.definitions import count_flaky, flaky_step, passing_gauge
from receiver.payload import View
from receiver.sources.github import HANDLERS
from receiver.sources.github.context import GithubContext
from tests.conftest import GITHUB
from tests.support.dogstatsd import produced


def completed_run(**fields) -> dict:
    payload = json.loads((GITHUB / "workflow_run/completed.payload.json").read_text())
    payload["workflow_run"].update(fields)
    return payload


def names(payload: dict, ctx: GithubContext) -> list[str]:
    return [x.name for x in produced(HANDLERS["workflow_run"](View(payload), ctx))]


@pytest.mark.parametrize("conclusions,flaky", [
    (["failure", "success"], 1),
    (["timed_out", "success"], 1),
    (["success", "failure"], 0),                          # passing first, then failing: broken, not flaky
    (["failure", "cancelled", "success"], 1),             # a cancelled attempt says nothing
    (["failure", "success", "failure", "success"], 1),    # counted once per (workflow, SHA)
    (["cancelled", "success"], 0),
    (["failure", "failure"], 0),
])
def test_flaky_rule(conclusions, flaky):
    assert count_flaky(("key", c) for c in conclusions) == flaky


def test_flaky_step_keeps_keys_apart():
    assert count_flaky([("a", "failure"), ("b", "success"), ("b", "failure"), ("a", "success")]) == 1
    assert flaky_step(None, "success") == (None, False)  # nothing to remember for a plain pass


def test_passing_gauge():
    bench = re.compile("(?i)bench")
    assert passing_gauge("Benchmarks", bench) == "github.ci.benchmarks_passing"
    assert passing_gauge("Tests", bench) == "github.ci.tests_passing_on_main"


def test_receiver_new_run_on_the_same_sha_after_a_failure_is_flaky():
    ctx = GithubContext.from_options({})
    failed = completed_run(id=1, name="Tests", conclusion="failure", run_attempt=1)
    assert "github.ci.flaky_checks" not in names(failed, ctx)
    other_sha = completed_run(id=2, name="Tests", conclusion="success", run_attempt=1, head_sha="f" * 40)
    assert "github.ci.flaky_checks" not in names(other_sha, ctx)
    other_workflow = completed_run(id=3, name="Lint", workflow_id=99, conclusion="success", run_attempt=1)
    assert "github.ci.flaky_checks" not in names(other_workflow, ctx)
    new_run = completed_run(id=4, name="Tests", conclusion="success", run_attempt=1)  # workflow_dispatch, a re-push…
    out = produced(HANDLERS["workflow_run"](View(new_run), ctx))
    flakes = [x for x in out if x.name == "github.ci.flaky_checks"]
    assert [(x.value, x.tags) for x in flakes] == [
        (1.0, (("kind", "workflow_run"), ("repo", "octo-org/octo-repo")))]
    again = copy.deepcopy(new_run)
    assert "github.ci.flaky_checks" not in names(again, ctx)  # once per (workflow, head SHA)


def test_receiver_benchmark_never_turns_tests_passing_red():
    ctx = GithubContext.from_options({"benchmark_workflows": "(?i)perf"})
    out = produced(HANDLERS["workflow_run"](View(completed_run(name="Perf suite", conclusion="failure")), ctx))
    gauges = {x.name: x.value for x in out if x.type == m.GAUGE}
    assert gauges == {"github.ci.benchmarks_passing": 0.0}
    out = produced(HANDLERS["workflow_run"](View(completed_run(name="Tests", conclusion="success")), ctx))
    assert {x.name: x.value for x in out if x.type == m.GAUGE} == {"github.ci.tests_passing_on_main": 1.0}
