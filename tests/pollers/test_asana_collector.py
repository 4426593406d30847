"""The Asana poller through the real asana client (page iterators) against the fake Asana API."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from urllib3.exceptions import MaxRetryError

from pollers.asana import AsanaPoller, query
from tests.fakes.asana_api import FakeAsana
from tests.support.dogstatsd import produced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def iso(delta_days: float) -> str:
    return (NOW + timedelta(days=delta_days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def task(
    gid, projects, completed_days=None, created_days=-10, due=None, assignee="u1", section="Backlog", modified_days=-1
):
    return {
        "gid": gid,
        "completed": completed_days is not None,
        "completed_at": iso(completed_days) if completed_days is not None else None,
        "created_at": iso(created_days),
        "modified_at": iso(modified_days),
        "due_on": (NOW + timedelta(days=due)).date().isoformat() if due is not None else None,
        "due_at": None,
        "assignee": {"gid": assignee} if assignee else None,
        "memberships": [{"project": {"gid": p}, "section": {"name": section}} for p in projects],
    }


@pytest.fixture
def fake():
    server = FakeAsana()
    server.projects.update(
        {
            "p1": {"gid": "p1", "name": "Trainer", "current_status_update": {"status_type": "on_track"}},
            "p2": {"gid": "p2", "name": "Infra", "current_status_update": {"status_type": "at_risk"}},
            "bugs": {"gid": "bugs", "name": "Bugs", "current_status_update": None},
            "old": {"gid": "old", "name": "Old", "archived": True},
        }
    )
    tasks = [
        task("t1", ["p1"], due=-2),  # overdue
        task("t2", ["p1", "p2"], due=0),  # due today, multi-homed
        task("t3", ["p2"], assignee=None),  # no due date, unassigned
        task("t4", ["p1"], completed_days=-1, created_days=-3),  # cycle 48 h
        task("t5", ["p2"], completed_days=-20, created_days=-25),
        task("t6", ["p2"], completed_days=-45),  # outside the 30-day window
        task("b1", ["bugs"], section="Triage", created_days=-4),
        task("b2", ["bugs", "p1"], section="In Progress", created_days=-20),
        task("b3", ["bugs"], completed_days=-2, created_days=-6),
    ]
    for i in range(120):  # more than a page of 100
        tasks.append(task(f"x{i}", ["p2"], due=5, created_days=-40, modified_days=-30))
    server.tasks.update({t["gid"]: t for t in tasks})
    yield server
    server.close()


SECTIONS = {"triage": ["triage"], "active": ["in progress"], "backlog": ["backlog"]}


def poll(fake, **options):
    poller = AsanaPoller(
        fake.token,
        fake.base_url,
        {"workspace": "1", "bugs_project": "bugs", "sections": SECTIONS, **options},
        backoff=0,
    )
    return produced(poller.collect(NOW))


def collect(fake, **options):
    return {x.name: x.value for x in poll(fake, **options)}


def test_workspace_tasks_projects_and_bugs(fake):
    got = collect(fake)
    assert got["asana.projects.active"] == 3  # archived excluded
    assert (got["asana.projects.on_track"], got["asana.projects.at_risk"], got["asana.projects.off_track"]) == (1, 1, 0)
    assert got["asana.tasks.open"] == 3 + 120 + 2  # t1 t2 t3, the 120, and the bugs project's b1 b2
    assert got["asana.tasks.overdue"] == 1
    assert got["asana.tasks.due_today"] == 1
    assert got["asana.tasks.due_this_week"] == 1 + 120
    assert got["asana.tasks.unassigned"] == 1
    assert got["asana.tasks.completed_7d"] == 2 and got["asana.tasks.completed_30d"] == 3  # t4 b3 (+t5)
    assert got["asana.tasks.cycle_time_p50_hours"] == pytest.approx(48)  # t4: 48 h, b3: 96 h
    assert got["asana.tasks.cycle_time_p90_hours"] == pytest.approx(96)
    assert got["asana.projects.bugs.triage_count"] == 1
    assert got["asana.projects.bugs.active_count"] == 1
    assert got["asana.projects.bugs.total_open"] == 2
    assert got["asana.projects.bugs.completed_7d"] == 1
    assert got["asana.projects.bugs.oldest_bug_days"] == pytest.approx(20)
    assert fake.requests["/api/1.0/projects/p2/tasks"] == 2  # paged: 100 + the rest
    assert fake.refused == []


def test_booleans_are_sent_as_asana_documents_them(fake):
    """`archived: False` went out as `archived=False`; Asana documents
    true/false, and the fake, like a strict server, refuses anything else."""
    collect(fake)
    sent = [r.query.get("archived") for r in fake.log if r.path == "/api/1.0/projects"]
    assert sent == [["false"]] and fake.refused == []
    assert query({"archived": False, "opt_pretty": True, "limit": 100}) == {
        "archived": "false",
        "opt_pretty": "true",
        "limit": 100,
    }
    request = urllib.request.Request(
        f"{fake.base_url}/projects?workspace=1&archived=False", headers={"Authorization": f"Bearer {fake.token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400


def test_every_configured_bug_section_is_a_tag(fake):
    """5 bugs in a configured "review" bucket were counted in total_open
    only; every bucket is now a `section` of asana.projects.bugs.open."""
    for i in range(5):
        fake.tasks[f"r{i}"] = task(f"r{i}", ["bugs"], section="Code review", created_days=-3)
    out = poll(fake, sections={**SECTIONS, "review": ["review"]})
    by_section = {x.tag("section"): x.value for x in out if x.name == "asana.projects.bugs.open"}
    assert by_section == {"triage": 1, "active": 1, "backlog": 0, "review": 5, "other": 0}
    total = next(x.value for x in out if x.name == "asana.projects.bugs.total_open")
    assert sum(by_section.values()) == total == 7


def test_api_failure_raises_so_nothing_is_emitted(fake):
    fake.fail("/api/1.0/projects", *[(500, {}, 0)] * 6)
    # The asana client retries through urllib3, which gives up on the sixth 500.
    with pytest.raises(MaxRetryError, match="too many 500 error responses"):
        collect(fake)
