"""pull_request and pull_request_review → metrics. Pure but for ctx.recall (first review).

The PR cycle's legs in real time (orgpulse.definitions.LEGS; the poller reconciles them over
7 days with the same definitions): pickup = created → first review by another human
(time_to_first_review, sent when that review arrives), review = the first review → merge
(review_time, when this receiver saw a first review), deploy = merge → the production
deployment that shipped it (deploy_time, for the merges this receiver remembers: ctx.merges).
"First" is the earliest submitted of the reviews this receiver saw before the merge: deliveries
arrive in the order reviews are submitted, but a redelivered one can arrive late — it still
moves the review leg's start, while a pickup already sent stays (a distribution cannot be
taken back; the poller's gauges, from the API, count it right)."""

from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import counts_as_first_review, leg, same_account
from orgpulse.timeutil import seconds_between
from receiver.payload import View
from receiver.sources.github.context import GithubContext, author_type, branch_type


def _pr_tags(payload: View, ctx: GithubContext) -> dict:
    pr = payload.require("pull_request")
    return {
        "repo": ctx.repo(payload),
        "author_type": author_type(pr.obj("user")),
        "branch_type": branch_type(pr.obj("base").text("ref"), payload),
    }


def _opened(pr: View, tags: dict) -> list[m.Metric]:
    return [m.count("github.prs.opened", draft=str(pr.flag("draft")).lower(), **tags)]


def _closed(pr: View, tags: dict) -> list[m.Metric]:
    if not pr.truthy("merged_at"):
        return [m.count("github.prs.closed_without_merge", **tags)]
    out = [m.count("github.prs.merged", **tags)]
    to_merge = seconds_between(pr.time("created_at"), pr.time("merged_at"))
    if to_merge is not None:
        out.append(m.distribution("github.prs.time_to_merge", to_merge, **tags))
    # The closed payload carries the diff size: no per-commit API calls.
    for field, name in (
        ("additions", "github.prs.lines_added"),
        ("deletions", "github.prs.lines_deleted"),
        ("changed_files", "github.prs.files_changed"),
    ):
        value = pr.count(field)
        if value is not None:
            out.append(m.count(name, value, **tags))
    return out


def _simple(name: str):
    return lambda pr, tags: [m.count(name, **tags)]


PR_ACTIONS = {
    "opened": _opened,
    "closed": _closed,
    "reopened": _simple("github.prs.reopened"),
    "ready_for_review": _simple("github.prs.ready_for_review"),
}


def _review_key(payload: View, pr: View) -> tuple:
    return "first_review_at", payload.obj("repository").ident("id"), pr.ident("number")


def pull_request(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    handler = PR_ACTIONS.get(payload.text("action", ""))
    if handler is None:
        return None
    pr, tags = payload.require("pull_request"), _pr_tags(payload, ctx)
    out = handler(pr, tags)
    if payload.text("action") == "closed" and pr.truthy("merged_at"):
        # Review leg: the earliest first review seen → merge.
        review = leg(
            "review", {"first_review": ctx.recall.pop(_review_key(payload, pr)), "merged": pr.time("merged_at")}
        )
        if review is not None:
            out.append(
                m.distribution("github.prs.review_time", review, repo=tags["repo"], author_type=tags["author_type"])
            )
        sha, merged_at = pr.text("merge_commit_sha"), pr.time("merged_at")
        if sha and merged_at:
            ctx.merges.add(payload.obj("repository").ident("id"), sha, merged_at, tags["author_type"])
    return out


def deploy_legs(payload: View, ctx: GithubContext, sha: str | None, at) -> list[m.Metric]:
    """A production deployment of `sha` succeeded at `at`: merge → `at` for each merge it
    shipped that this receiver remembers (the poller's deploy_time gauges cover the rest)."""
    repo = ctx.repo(payload)
    shipped = ctx.merges.shipped(payload.obj("repository").ident("id"), sha, at) if at else []
    return [
        m.distribution("github.prs.deploy_time", seconds, repo=repo, author_type=author)
        for merged, author in shipped
        if (seconds := leg("deploy", {"merged": merged, "deployed": at})) is not None
    ]


REVIEW_STATES = {"approved", "changes_requested", "commented", "dismissed"}


def _account(user: View) -> dict:
    """The typed fields the shared definitions read, whatever else a sender put there."""
    return {"id": user.ident("id"), **{k: user.text(k) for k in ("login", "type", "__typename")}}


def pull_request_review(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    action = payload.text("action")
    if action not in ("submitted", "dismissed"):
        return None
    review, pr = payload.require("review"), payload.require("pull_request")
    reviewer, author = _account(review.obj("user")), _account(pr.obj("user"))
    if same_account(author, reviewer):
        return None  # an author answering on their own PR is not a review
    state = (review.text("state") or "").lower()
    repo = ctx.repo(payload)
    out = [
        m.count(
            "github.prs.reviews",
            repo=repo,
            author_type=author_type(review.obj("user")),
            state=state if state in REVIEW_STATES else "other",
        )
    ]
    submitted = review.time("submitted_at")
    if action != "submitted" or not counts_as_first_review(author, reviewer, submitted, pr.time("merged_at")):
        return out
    # The review leg's start: the earliest such review this replica saw (see the module's doc).
    ctx.recall.keep_earliest(_review_key(payload, pr), submitted)
    # Pickup, once per pull request (across replicas, with a shared claim store).
    if ctx.recall.first(("reviewed", payload.obj("repository").ident("id"), pr.ident("number"))):
        pickup = leg("pickup", {"created": pr.time("created_at"), "first_review": submitted})
        if pickup is not None:
            out.append(m.distribution("github.prs.time_to_first_review", pickup, repo=repo))
    return out
