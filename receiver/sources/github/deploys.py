"""deployment_status → DORA inputs: deployment frequency (success) and change failures."""

from __future__ import annotations

from orgpulse import metrics as m
from receiver.payload import View
from receiver.sources.github.context import GithubContext

STATES = {"success", "failure", "error", "inactive", "in_progress", "queued", "pending"}


def deployment_status(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    status = payload.obj("deployment_status")
    state = status.text("state")
    environment = status.text("environment") or payload.obj("deployment").text("environment")
    return [
        m.count(
            "github.deployments.statuses",
            repo=ctx.repo(payload),
            environment=ctx.environments(environment or "unknown"),
            state=state if state in STATES else "other",
        )
    ]
