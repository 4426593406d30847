"""push, create and delete → metrics: commits, forced pushes, reverts, hotfixes, refs."""

from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import is_revert
from receiver.payload import View
from receiver.sources.github.context import GithubContext, author_type, branch_type

HEADS = "refs/heads/"


def push(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
    ref = payload.text("ref", "")
    if payload.truthy("deleted") or not ref.startswith(HEADS):
        return None  # tag pushes and branch deletions: counted by create/delete
    branch = ref[len(HEADS) :]
    btype = branch_type(branch, payload)
    commits = payload.items("commits")
    if btype == "other":
        # A commit pushed to several feature branches appears in each push; on
        # the default branch every listed commit is new to it, distinct or not.
        commits = [c for c in commits if not c.has("distinct") or c.truthy("distinct")]
    tags = {"repo": ctx.repo(payload), "branch_type": btype}
    out = []
    if commits:
        out.append(m.count("github.push.commits", len(commits), author_type=author_type(payload.obj("sender")), **tags))
    if payload.truthy("forced"):
        out.append(m.count("github.push.forced", **tags))
    reverts = sum(is_revert(c.text("message", "")) for c in commits)
    if reverts:
        out.append(m.count("github.push.reverts", reverts, **tags))
    hotfix_branch = bool(ctx.hotfix.search(branch))
    hotfixes = sum(hotfix_branch or bool(ctx.hotfix.search(c.text("message", ""))) for c in commits)
    if hotfixes:
        out.append(m.count("github.push.hotfixes", hotfixes, **tags))
    return out


def _ref_event(name: str):
    def handler(payload: View, ctx: GithubContext) -> list[m.Metric] | None:
        ref_type = payload.text("ref_type")
        if ref_type not in ("branch", "tag"):
            return None
        return [m.count(name, repo=ctx.repo(payload), ref_type=ref_type)]

    return handler


create = _ref_event("github.refs.created")
delete = _ref_event("github.refs.deleted")
