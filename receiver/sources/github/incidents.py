"""`issues` → DORA incidents: issues carrying `dora.incident_label`.

An incident is opened when an issue is opened with the label or the label is added
to an open issue (GitHub sends both `opened` and `labeled` for labels set at
creation: each issue counts once per replica memory), and resolved when such an issue
is closed. Time to restore and the open count come from the poller, which reads the
issues API (pollers/dora.py): it sees incidents whose deliveries were missed too.
"""
from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import has_label
from receiver.sources.github.context import GithubContext


def issues(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    issue, action, label = payload["issue"], payload.get("action"), ctx.dora["incident_label"]
    if not label or issue.get("pull_request") or not has_label(issue.get("labels"), label):
        return None
    repo = ctx.repo(payload)
    key = ("dora.incident", payload["repository"]["full_name"].lower(), issue["number"])
    if action == "closed":
        return [m.count("dora.incidents.resolved", repo=repo, source="github")]
    added = action == "opened" or (action == "labeled" and has_label([payload.get("label")], label))
    if added and issue.get("state") == "open" and ctx.recall.first(key):
        return [m.count("dora.incidents.opened", repo=repo, source="github")]
    return None
