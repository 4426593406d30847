"""DORA in real time: `dora.deployments` — one successful production deployment.

A repository records its deployments one of two ways (`dora.deploy_workflows`): GitHub
Deployments (a `deployment_status` success in an environment `dora.production` matches),
or the successful runs of a deploy workflow on the default branch (a repository with a
deploy workflow ignores the Deployments API). Each deployment (or run) counts once,
however many success statuses or deliveries it gets. Only the receiver counts
deployments; the poller's 7/30-day gauges reconcile from the APIs (pollers/dora/collector.py).
"""

from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import deploy_workflow_of, is_deploy_workflow, is_production
from receiver.payload import View
from receiver.sources.github.ci import _on_default_branch
from receiver.sources.github.context import GithubContext
from receiver.sources.github.prs import deploy_legs


def _deployed(
    ctx: GithubContext, payload: View, key: tuple, environment: str, sha: str | None, at
) -> list[m.Metric] | None:
    if not ctx.recall.first(("dora.deployment", *key)):
        return None  # a second success status (or delivery) of the same deployment
    return [
        m.count("dora.deployments", repo=ctx.repo(payload), environment=ctx.environments(environment)),
        *deploy_legs(payload, ctx, sha, at),
    ]  # the PRs it shipped: their deploy leg


def deployment_status(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    status, deployment = payload.obj("deployment_status"), payload.obj("deployment")
    environment = status.text("environment") or deployment.text("environment")
    full_name = payload.obj("repository").text("full_name", "")
    if (
        status.text("state") != "success"
        or not is_production(environment, ctx.dora["production"])
        or deploy_workflow_of(ctx.dora["deploy_workflows"], full_name)
    ):
        return None
    key = (full_name.lower(), "deployment", deployment.require_ident("id"))
    return _deployed(ctx, payload, key, environment, deployment.text("sha"), status.time("created_at"))


def workflow_run(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    run = payload.obj("workflow_run")
    full_name = payload.obj("repository").text("full_name", "")
    workflow = deploy_workflow_of(ctx.dora["deploy_workflows"], full_name)
    if (
        payload.text("action") != "completed"
        or run.text("conclusion") != "success"
        or not is_deploy_workflow(workflow, run.text("path"))
        or not _on_default_branch(run, payload)
    ):
        return None
    # A deploy workflow deploys to production by definition (it is the repository's record).
    return _deployed(
        ctx,
        payload,
        (full_name.lower(), "run", run.require_ident("id")),
        "production",
        run.text("head_sha"),
        run.time("updated_at"),
    )
