"""`issues` → DORA incidents: issues carrying `dora.incident_label`.

An incident is opened when an issue is opened with the label or the label is added
to an open issue (GitHub sends both `opened` and `labeled` for labels set at
creation: each issue counts once per replica memory), and resolved when such an issue
is closed. Time to restore and the open count come from the poller, which reads the
issues API (pollers/dora/collector.py): it sees incidents whose deliveries were missed too.
"""

from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import has_label
from receiver.payload import View
from receiver.sources.github.context import GithubContext


def issues(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    issue, action, label = payload.obj("issue"), payload.text("action"), ctx.dora["incident_label"]
    if (
        not label
        or issue.has("pull_request")
        or not has_label([x.text("name", "") for x in issue.items("labels")], label)
    ):
        return None
    repo = ctx.repo(payload)
    if action == "closed":
        return [m.count("dora.incidents.resolved", repo=repo, source="github")]
    added = action == "opened" or (action == "labeled" and has_label([payload.obj("label").text("name", "")], label))
    key = ("dora.incident", payload.obj("repository").text("full_name", "").lower(), issue.require_ident("number"))
    if added and issue.text("state") == "open" and ctx.recall.first(key):
        return [m.count("dora.incidents.opened", repo=repo, source="github")]
    return None
