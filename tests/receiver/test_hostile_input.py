"""Hostile or broken payloads, correctly signed, are answered
2xx/4xx — never 5xx — counted by the receiver, and never widen a tag's set of values."""

from __future__ import annotations

import json
import math

import orjson
import pytest

from orgpulse.timeutil import parse_time, seconds_between
from tests.conftest import GITHUB
from tests.support.inprocess import Receiver, own, source_lines

DEEP = 1000


def deep(value: object = "x", depth: int = DEEP) -> str:
    """JSON text of `value` inside `depth` arrays (orjson parses up to 1,024 levels)."""
    return "[" * depth + json.dumps(value) + "]" * depth


def with_raw(payload: dict, path: tuple[str, ...], raw_json: str) -> bytes:
    """The payload's JSON with the value at `path` replaced by raw JSON text."""
    marker = "\u0000MARK\u0000"
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = marker
    return json.dumps(payload).replace(json.dumps(marker), raw_json).encode()


def load(name: str) -> dict:
    return json.loads((GITHUB / name).read_text())


@pytest.fixture(scope="module")
def rx(tmp_path_factory):
    return Receiver(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize(
    "event,fixture,path",
    [
        ("pull_request", "pull_request/opened.payload.json", ("repository", "full_name")),
        ("workflow_run", "workflow_run/completed.payload.json", ("workflow_run", "name")),
        ("deployment_status", "deployment_status/payload.json", ("deployment_status", "environment")),
        ("pull_request", "pull_request/opened.payload.json", ("pull_request", "user", "login")),
        ("workflow_job", "workflow_job/completed.success.with-organization.payload.json", ("workflow_job", "labels")),
        ("pull_request_review", "pull_request_review/submitted.payload.json", ("review", "state")),
        ("push", "push/payload.json", ("commits",)),
    ],
)
def test_github_value_nested_1000_deep_is_not_a_5xx(rx, event, fixture, path):
    response = rx.github(with_raw(load(fixture), path, deep()), event)
    assert response.status_code < 500, response.data[:300]
    lines = rx.lines()
    assert own(lines, "received") == [{"env": "test", "service": "orgpulse", "source": "github", "event": event}]
    tags = {v for x in source_lines(lines) for v in x.tag_map.values()}
    assert not any(v.startswith("x") or "[" in v for v in tags)


@pytest.mark.parametrize(
    "value",
    [
        "1e20",
        "253402300800",
        "-62135596801",
        "9223372036854775807",
        '"9999-12-31T23:59:59-01:00"',
        '"0001-01-01T00:00:00+01:00"',
    ],
)
@pytest.mark.parametrize(
    "event,fixture,path",
    [
        ("pull_request", "pull_request/closed.payload.json", ("pull_request", "merged_at")),
        ("workflow_run", "workflow_run/completed.payload.json", ("workflow_run", "run_started_at")),
        (
            "workflow_job",
            "workflow_job/completed.success.with-organization.payload.json",
            ("workflow_job", "started_at"),
        ),
    ],
)
def test_github_timestamps_out_of_range_are_absent_not_a_5xx(rx, value, event, fixture, path):
    response = rx.github(with_raw(load(fixture), path, value), event)
    assert response.status_code == 200, response.data[:300]
    assert response.json["result"] == "accepted"
    assert not [x for x in response.json["emitted"] if x.endswith(("_time", "time_to_merge"))]
    rx.lines()


WANDB_RUN = {"event_type": "RUN_STATE", "entity": "ml-org", "project": "trainer", "run_state": "failed"}


def test_wandb_event_type_nested_deep_is_400_and_counted(rx):
    body = with_raw(dict(WANDB_RUN), ("event_type",), deep())
    response = rx.wandb(body)
    assert response.status_code == 400 and response.json == {"result": "malformed"}
    lines = rx.lines()
    assert own(lines, "rejected")[0]["reason"] == "malformed"
    assert own(lines, "received")[0]["source"] == "wandb"
    assert source_lines(lines) == []


@pytest.mark.parametrize("field", ["project", "entity", "run_state"])
def test_wandb_other_fields_nested_deep_are_other(rx, field):
    response = rx.wandb(with_raw(dict(WANDB_RUN), (field,), deep()))
    assert response.status_code == 200
    [line] = source_lines(rx.lines())
    assert line.name == "wandb.runs.state_changes"
    assert line.tag_map["project"] == ("ml-org/trainer" if field == "run_state" else "unknown")
    assert line.tag_map["state"] == ("other" if field == "run_state" else "failed")


VALID = {"action": "deleted", "resource": {"gid": "1201", "resource_type": "task"}}


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "added", "resource": 1},
        {"action": "added", "resource": {"gid": "1", "resource_type": []}},
        {"action": [], "resource": {"gid": "1", "resource_type": "task"}},
        {"action": "added", "resource": {"gid": "1", "resource_type": "task"}, "parent": [1]},
        {"action": "added", "resource": {"gid": "1", "resource_type": "task"}, "parent": {"resource_type": "project"}},
        {"action": "changed", "resource": {"gid": "1", "resource_type": "task"}, "change": 5},
        {"action": "changed", "resource": {"resource_type": "task"}, "change": {"field": "completed"}},
        {
            "action": "changed",
            "resource": {"gid": "../../users/me", "resource_type": "task"},
            "change": {"field": "completed"},
        },
        {"action": "added"},
        "not an event",
        deep({"action": "added"}),
    ],
)
def test_asana_one_malformed_event_never_loses_the_valid_ones(rx, bad):
    raw = bad if isinstance(bad, str) and bad.startswith("[") else json.dumps(bad)
    response = rx.asana(b'{"events": [%s, %s, %s]}' % (orjson.dumps(VALID), raw.encode(), orjson.dumps(VALID)))
    assert response.status_code == 200 and response.json["result"] == "accepted"
    lines = rx.lines()
    assert [x.name for x in source_lines(lines) if x.name == "asana.tasks.deleted"] == ["asana.tasks.deleted"] * 2
    [malformed] = [x for x in lines if x.name == "orgpulse.receiver.malformed_events"]
    assert malformed.value == 1 and malformed.tag_map["source"] == "asana"


def test_asana_batch_with_no_valid_event_is_400(rx):
    response = rx.asana(orjson.dumps({"events": [{"action": "added", "resource": 1}]}))
    assert response.status_code == 400 and response.json["result"] == "malformed"
    lines = rx.lines()
    assert own(lines, "rejected")[0]["reason"] == "malformed" and source_lines(lines) == []


@pytest.mark.parametrize(
    "value",
    [
        1e20,
        -1e20,
        253402300800,
        -62135596801,
        9223372036854775807,
        -9223372036854775808,
        math.nan,
        math.inf,
        -math.inf,
        True,
        [1],
        {"a": 1},
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "x" * 1_000_000,
        "2019-13-45T99:00:00Z",
        "",
        None,
        b"2019",
    ],
)
def test_parse_time_never_raises(value):
    assert parse_time(value) is None


def test_parse_time_still_reads_what_providers_send():
    assert parse_time("2019-05-15T15:20:33Z").isoformat() == "2019-05-15T15:20:33+00:00"
    assert parse_time("2019-05-15T17:20:33+02:00").isoformat() == "2019-05-15T15:20:33+00:00"
    assert parse_time(1557933633).isoformat() == "2019-05-15T15:20:33+00:00"
    assert seconds_between("2019-05-15T15:20:33Z", 1557933633 + 60) == 60.0


def test_event_header_is_bounded_to_documented_events(rx):
    body = load("star/created.payload.json")
    names = ["../../etc/passwd", "x" * 100, "Star", "issues", "pull_request_target"]
    for name in names:
        assert rx.github(json.dumps(body).encode(), name).status_code in (200, 202)
    events = [tags["event"] for tags in own(rx.lines(), "received")]
    assert events == ["other", "other", "other", "issues", "other"]


@pytest.mark.parametrize(
    "path,junk,good",
    [
        (("repository", "full_name"), ["12345", "f" * 40, "../../etc/passwd", "a/b/c", "x" * 150], "my-org/trainer"),
        (
            ("workflow_run", "name"),
            [
                "12345",
                "0123456789abcdef0123456789abcdef01234567",
                "123e4567-e89b-12d3-a456-426614174000",
                "x" * 150,
                "a\nb",
            ],
            "CI",
        ),
    ],
)
def test_capped_tags_refuse_impossible_values_without_spending_a_slot(tmp_path, path, junk, good):
    rx = Receiver(tmp_path, options_env(max_repositories=1, max_workflows=1))
    payload = load("workflow_run/completed.payload.json")
    for value in junk + [good]:
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert rx.github(json.dumps(payload).encode(), "workflow_run").status_code == 200
    tag = "repo" if path[0] == "repository" else "workflow"
    runs = [x.tag_map[tag] for x in rx.lines() if x.name == "github.ci.runs"]
    assert runs == ["other"] * len(junk) + [good.lower()]


def options_env(**github) -> dict:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "orgpulse.json"
    path.write_text(json.dumps({"github": github}))
    return {"ORGPULSE_CONFIG": str(path)}
