"""DORA in real time: `dora.deployments` — one successful production deployment.

A repository records its deployments one of two ways (`dora.deploy_workflows`): GitHub
Deployments (a `deployment_status` success in an environment `dora.production` matches),
or the successful runs of a deploy workflow on the default branch (a repository with a
deploy workflow ignores the Deployments API). Each deployment (or run) counts once,
however many success statuses or deliveries it gets. Only the receiver counts
deployments; the poller's 7/30-day gauges reconcile from the APIs (pollers/dora.py).
"""
from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import deploy_workflow_of, is_deploy_workflow, is_production
from receiver.sources.github.ci import _on_default_branch
from receiver.sources.github.context import GithubContext


def _deployed(ctx: GithubContext, payload: dict, key: tuple, environment: str) -> list[m.Metric] | None:
    if not ctx.recall.first(("dora.deployment", *key)):
        return None  # a second success status (or delivery) of the same deployment
    return [m.count("dora.deployments", repo=ctx.repo(payload), environment=ctx.environments(environment))]


def deployment_status(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    status, deployment = payload["deployment_status"], payload["deployment"]
    environment = status.get("environment") or deployment.get("environment")
    full_name = payload["repository"]["full_name"]
    if (status.get("state") != "success" or not is_production(environment, ctx.dora["production"])
            or deploy_workflow_of(ctx.dora["deploy_workflows"], full_name)):
        return None
    return _deployed(ctx, payload, (full_name.lower(), "deployment", deployment["id"]), environment)


def workflow_run(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    run = payload["workflow_run"]
    full_name = payload["repository"]["full_name"]
    workflow = deploy_workflow_of(ctx.dora["deploy_workflows"], full_name)
    if (payload.get("action") != "completed" or run.get("conclusion") != "success"
            or not is_deploy_workflow(workflow, run) or not _on_default_branch(run, payload)):
        return None
    # A deploy workflow deploys to production by definition (it is the repository's record).
    return _deployed(ctx, payload, (full_name.lower(), "run", run["id"]), "production")
