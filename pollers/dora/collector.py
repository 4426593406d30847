"""DORA's four keys per repository, reconciled from the APIs every cycle.

Each cycle syncs every repository's production deployments (the Deployments API, or
the runs of its deploy workflow), lead times (compare API), failure signals (commits,
labelled issues) and incidents (pollers/dora/fetch.py), then sends the 7/30-day gauges
and levels (pollers/dora/figures.py) — every cycle, so a missed webhook never loses a
deployment. The receiver alone counts deployments as they happen (`dora.deployments`).

Distributions (`dora.lead_time`, `dora.time_to_restore`) are event-level: each value is
sent once, when its event (a deployment's success, a restore) is older than SETTLE and
newer than the stream's high-water mark (pollers/dora/marks.py), and only by the replica
that emits (the Lease holder). A first start sets the marks to now: the backfilled 30
days feed the gauges, never a burst of old values. A repository that fails to sync is
counted and sends nothing this cycle; its records are kept for the next one. A first-cycle
backfill that the cycle's time or the request budget cuts short is pending, not failed,
while it progresses (pollers/github/backfill.py); repositories already backfilled sync first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from orgpulse import metrics as m
from orgpulse.definitions import deploy_workflow_of
from orgpulse.timeutil import parse_time
from pollers.dora.fetch import MONTH, RepoState, Sync, prune
from pollers.dora.figures import (
    Deployment,
    Incident,
    deployment_restores,
    incident_metrics,
    level_metrics,
    repo_metrics,
    restore_metrics,
    restore_seconds_30d,
    successes,
)
from pollers.dora.marks import Marks, MarksUnavailable
from pollers.github.backfill import PAUSES, Backfill, Deadline, Timed
from pollers.github.http import PartFailed

SETTLE = timedelta(minutes=5)  # GitHub's lists lag a little: an event this recent waits a cycle
BRANCH_REFRESH = timedelta(hours=24)
Events = dict[str, list[tuple[datetime, m.Metric]]]  # stream → (event time, its value)


def _error(reason: str) -> m.Metric:
    return m.count("orgpulse.collector.errors", collector="dora", reason=reason)


class DoraCollector:
    def __init__(
        self,
        api,
        repositories: list[str],
        options: dict,
        github_options: dict,
        marks: Marks,
        asana_incidents: Callable[[datetime], list[dict]] | None = None,
        leading: Callable[[], bool] = lambda: True,
        deadline: Deadline | None = None,
        backfill: Backfill | None = None,
    ):
        self.api, self.repositories, self.options = api, repositories, options
        # Every request checks the cycle's time budget (none given: no limit).
        self.deadline = deadline or Deadline(None)
        self.timed = Timed(api, self.deadline)
        self.backfill = backfill or Backfill("dora", 4)
        self.sync = Sync(
            self.timed, options["production"], re.compile(github_options.get("hotfix_pattern", r"(?i)\bhot-?fix\b"))
        )
        self.marks, self.asana_incidents, self.leading = marks, asana_incidents, leading
        self.window = timedelta(hours=options["failure_window_hours"])
        self.states: dict[str, RepoState] = {}

    # ------------------------------------------------------------ for other collectors (github: the deploy leg)
    def production_deployments(self, repo: str) -> list[Deployment]:
        """The repository's successful production deployments known (30 days and the last
        one before), oldest first: sha, environment, finished (the success time)."""
        return successes(self.states.get(repo, RepoState()).deployments.values())

    def deployed_at(self, repo: str, sha: str) -> datetime | None:
        """When the first successful production deployment containing commit `sha` succeeded."""
        return self.states.get(repo, RepoState()).shipped.get(sha)

    # ------------------------------------------------------------ one cycle
    def collect(self, now: datetime) -> list[m.Metric]:
        self.deadline.start()
        out, events, failures, progressed = [], {}, 0, {}
        # Repositories already backfilled first: a backfill gets the time they leave.
        for repo in sorted(self.repositories, key=lambda r: self.states.get(r, RepoState()).synced is None):
            state = self.states.setdefault(repo, RepoState())
            backfilling, before = state.synced is None, self._read(repo, state)
            if backfilling and self.deadline.passed():
                continue  # not reached this cycle: pending, neither progress nor a stall
            self.deadline.enforced = backfilling  # the time budget bounds backfills only
            try:
                self._sync(repo, state, now)
            except Exception as exc:  # noqa: BLE001 - this repo unmeasured this cycle, records kept
                if backfilling and isinstance(exc, PAUSES):  # time or budget: resumes next cycle
                    progressed[repo] = self._read(repo, state) > before
                    continue
                failures += 1
                out.append(_error(exc.reason if isinstance(exc, PartFailed) else "fetch_failed"))
                continue
            state.synced = now
            gauges, streams = self._repo(repo, state, now)
            out += gauges
            events.update(streams)
        out += self.backfill.report(progressed, [r for r in self.repositories if self.states[r].synced is None])
        if self.asana_incidents is not None:
            out += self._asana(now, events)
        out += self._events(events, now)
        if self.repositories and failures == len(self.repositories):
            raise RuntimeError("every repository failed")
        return out

    def _read(self, repo: str, s: RepoState) -> int:
        """How much of a repository's history is read and kept: grows while a backfill
        progresses (statuses read, compares and pull-request starts cached, records listed)."""
        cached = sum(k[0] == repo for k in list(self.sync.compares)) + sum(k[0] == repo for k in list(self.sync.starts))
        return (
            len(s.deployments)
            + len(s.read)
            + sum(d.lead_times is not None for d in s.deployments.values())
            + len(s.changes)
            + len(s.incidents)
            + cached
            + (s.branch_at is not None)
        )

    def _sync(self, repo: str, s: RepoState, now: datetime) -> None:
        if s.branch_at is None or now - s.branch_at >= BRANCH_REFRESH:
            meta, _ = self.timed.get(f"/repos/{repo}")
            s.default_branch, s.branch_at = meta["default_branch"], now
        workflow = deploy_workflow_of(self.options["deploy_workflows"], repo)
        if workflow:  # a repository with a deploy workflow ignores the Deployments API
            self.sync.runs(repo, s, now, workflow)
        else:
            self.sync.deployments(repo, s, now)
        self.sync.lead_times(repo, s)
        kinds = set(self.options["failure_signals"]) & {"revert", "hotfix"}
        if kinds:
            self.sync.changes(repo, s, now, kinds)
        if self.options["incident_label"]:
            self.sync.incidents(repo, s, now, self.options["incident_label"])
        prune(s, now, self.window)

    def _repo(self, repo: str, s: RepoState, now: datetime) -> tuple[list[m.Metric], Events]:
        out, month = repo_metrics(repo, s, now, self.options)
        events: Events = {
            f"{repo}|lead_time": [
                (d.finished, m.distribution("dora.lead_time", v, repo=repo))
                for d in successes(s.deployments.values())
                for v in d.lead_times or []
            ]
        }
        restores = []
        sources = {
            "github": [(i.opened, i.resolved) for i in s.incidents.values() if i.resolved]
            if self.options["incident_label"]
            else None,
            "deployment": deployment_restores(s.deployments.values())
            if self.options["restore_from_failed_deployments"]
            else None,
        }
        for source, pairs in sources.items():
            if pairs is None:
                continue
            tags = {"repo": repo, "source": source}
            out += (
                incident_metrics(s.incidents, now, **tags)
                if source == "github"
                else restore_metrics(pairs, now, **tags)
            )
            events[f"{repo}|restore|{source}"] = _restores(pairs, tags)
            restores += pairs
        return out + level_metrics(repo, month, restore_seconds_30d(restores, now)), events

    def _asana(self, now: datetime, events: Events) -> list[m.Metric]:
        """The Asana incidents project: an organisation-wide time to restore (no repo tag)."""
        try:
            tasks = self.asana_incidents(now - MONTH)
        except Exception:  # noqa: BLE001 - the client retried already; nothing sent for it
            return [_error("fetch_failed")]
        incidents = {
            t["gid"]: Incident(
                parse_time(t["created_at"]), parse_time(t.get("completed_at")) if t.get("completed") else None
            )
            for t in tasks
            if t.get("created_at")
        }
        pairs = [(i.opened, i.resolved) for i in incidents.values() if i.resolved]
        events["asana|restore"] = _restores(pairs, {"source": "asana"})
        return incident_metrics(incidents, now, source="asana")

    def _events(self, events: Events, now: datetime) -> list[m.Metric]:
        """Each stream's values between its mark and now − SETTLE; then the marks move."""
        if not events or not self.leading():
            return []  # a standby sends nothing, so it must not move the shared marks
        try:
            marks = self.marks.load()
        except MarksUnavailable:
            return [_error("marks")]
        until = (now - SETTLE).timestamp()
        out, updated = [], dict(marks)
        for stream, items in events.items():
            mark = marks.get(stream)
            if mark is not None:  # a stream without a mark starts now
                out += [x for t, x in sorted(items, key=lambda i: i[0]) if mark < t.timestamp() <= until]
            updated[stream] = max(mark if mark is not None else until, until)
        try:
            self.marks.save(updated)
        except MarksUnavailable:
            return [_error("marks")]  # never send what could not be recorded as sent
        return out


def _restores(pairs: list[tuple[datetime, datetime]], tags: dict) -> list[tuple[datetime, m.Metric]]:
    return [(b, m.distribution("dora.time_to_restore", (b - a).total_seconds(), **tags)) for a, b in pairs]
