"""deployment_status → DORA inputs: deployment frequency (success) and change failures."""
from __future__ import annotations

from orgpulse import metrics as m
from receiver.sources.github.context import GithubContext

STATES = {"success", "failure", "error", "inactive", "in_progress", "queued", "pending"}


def deployment_status(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    status = payload.get("deployment_status") or {}
    state = status.get("state")
    environment = status.get("environment") or (payload.get("deployment") or {}).get("environment")
    return [m.count("github.deployments.statuses", repo=ctx.repo(payload),
                    environment=ctx.environments(environment or "unknown"),
                    state=state if state in STATES else "other")]
