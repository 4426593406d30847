"""workflow_run, workflow_job, check_run and check_suite → CI metrics.

Definitions (the old collectors got each of these wrong): run time excludes queue time, queue time
is measured on first attempts only (a re-run keeps the original created_at),
cancelled and timed-out are told apart by conclusion, and "tests passing on
main" is per workflow, on the repository's own default branch, and only moved
by decisive conclusions (a cancelled or skipped run says nothing about tests);
a benchmark workflow feeds benchmarks_passing only. What is decisive, failed
and flaky is orgpulse/definitions.py's, shared with the poller.
"""

from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import DECISIVE, flaky_key, flaky_step, passing_gauge
from orgpulse.timeutil import seconds_between
from receiver.payload import View
from receiver.sources.github.context import GithubContext

CONCLUSIONS = {
    "success",
    "failure",
    "cancelled",
    "timed_out",
    "skipped",
    "neutral",
    "action_required",
    "stale",
    "startup_failure",
}


def _conclusion(value: object) -> str:
    return value if value in CONCLUSIONS else "other"


def _on_default_branch(run: View, payload: View) -> bool:
    repo = payload.obj("repository")
    # A fork's PR from its own "main" also has head_branch == "main": require
    # the run's head to be this repository.
    head = run.obj("head_repository")
    head_repo = head.ident("id") if head.has("id") else repo.ident("id")
    return run.text("head_branch") == repo.text("default_branch") and head_repo == repo.ident("id")


def workflow_run(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    if payload.text("action") != "completed":
        return None
    run = payload.require("workflow_run")
    name = run.text("name") or run.text("path") or "unnamed"
    repo, workflow = ctx.repo(payload), ctx.workflows(name)
    on_default = _on_default_branch(run, payload)
    conclusion = _conclusion(run.text("conclusion"))
    tags = {
        "repo": repo,
        "workflow": workflow,
        "conclusion": conclusion,
        "branch_type": "default" if on_default else "other",
    }
    out = [m.count("github.ci.runs", **tags)]
    run_time = seconds_between(run.time("run_started_at"), run.time("updated_at"))
    if run_time is not None:
        out.append(m.distribution("github.ci.run_time", run_time, **tags))
    attempt = run.count("run_attempt") or 1
    if attempt == 1:
        queued = seconds_between(run.time("created_at"), run.time("run_started_at"))
        if queued is not None:
            out.append(m.distribution("github.ci.queue_time", queued, repo=repo, workflow=workflow))
    else:
        out.append(m.count("github.ci.reruns", repo=repo, workflow=workflow, conclusion=conclusion))
    # Per (repo, workflow, head SHA): a re-run attempt and a new run on the same SHA alike.
    typed = {
        "workflow_id": run.ident("workflow_id"),
        "name": run.text("name"),
        "path": run.text("path"),
        "head_sha": run.ident("head_sha"),
    }
    out += _flaky(("workflow_run", *flaky_key(repo, typed)), conclusion, ctx, repo=repo, kind="workflow_run")
    if on_default and conclusion in DECISIVE:
        out.append(m.gauge(passing_gauge(name, ctx.benchmark), DECISIVE[conclusion], repo=repo, workflow=workflow))
    return out


def _flaky(key: tuple, conclusion: str, ctx: GithubContext, **tags: str) -> list[m.Metric]:
    """The shared flaky rule over the receiver's bounded, expiring memory (ctx.recall)."""
    state, became_flaky = flaky_step(ctx.recall.pop(key), conclusion)
    if state is not None:
        ctx.recall.put(key, state)
    return [m.count("github.ci.flaky_checks", **tags)] if became_flaky else []


def runner_class(job: View) -> str:
    """A bounded class from runner labels: <hosting>_<os>, e.g. github_hosted_linux."""
    labels = [x.lower() for x in job.texts("labels")]
    hosting = "self_hosted" if "self-hosted" in labels else "github_hosted"
    text = " ".join(labels)
    osname = next(
        (
            os
            for os, words in (("linux", ("ubuntu", "linux")), ("windows", ("windows",)), ("macos", ("macos", "mac")))
            if any(w in text for w in words)
        ),
        "other",
    )
    return f"{hosting}_{osname}"


def workflow_job(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    if payload.text("action") != "completed":
        return None
    job = payload.require("workflow_job")
    repo = ctx.repo(payload)
    tags = {
        "repo": repo,
        "workflow": ctx.workflows(job.text("workflow_name") or "unnamed"),
        "runner_class": runner_class(job),
    }
    conclusion = _conclusion(job.text("conclusion"))
    out = [m.count("github.ci.jobs", conclusion=conclusion, **tags)]
    queued = seconds_between(job.time("created_at"), job.time("started_at"))
    if queued is not None:
        out.append(m.distribution("github.ci.job_queue_time", queued, **tags))
    ran = seconds_between(job.time("started_at"), job.time("completed_at"))
    if ran is not None and conclusion != "skipped":
        out.append(m.distribution("github.ci.job_run_time", ran, conclusion=conclusion, **tags))
    return out


def _check(kind: str, identity):
    def handler(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
        if payload.text("action") != "completed":
            return None
        check = payload.require(kind)
        repo = ctx.repo(payload)
        conclusion = _conclusion(check.text("conclusion"))
        key = (kind, repo, check.ident("head_sha"), identity(check))
        # The same check failing, then passing, on the same head_sha is a flake.
        out = [m.count("github.checks.completed", repo=repo, kind=kind, conclusion=conclusion)]
        return out + _flaky(key, conclusion, ctx, repo=repo, kind=kind)

    return handler


# A check run is identified by its name, a check suite by the app that runs it.
check_run = _check("check_run", lambda c: c.text("name"))
check_suite = _check("check_suite", lambda c: c.obj("app").ident("id"))
