"""push, create and delete → metrics: commits, forced pushes, reverts, hotfixes, refs."""
from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.definitions import is_revert
from receiver.sources.github.context import GithubContext, author_type, branch_type

HEADS = "refs/heads/"


def push(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    ref = payload.get("ref", "")
    if payload.get("deleted") or not ref.startswith(HEADS):
        return None  # tag pushes and branch deletions: counted by create/delete
    branch = ref[len(HEADS):]
    btype = branch_type(branch, payload)
    commits = payload.get("commits") or []
    if btype == "other":
        # A commit pushed to several feature branches appears in each push; on
        # the default branch every listed commit is new to it, distinct or not.
        commits = [c for c in commits if c.get("distinct", True)]
    tags = {"repo": ctx.repo(payload), "branch_type": btype}
    out = []
    if commits:
        out.append(m.count("github.push.commits", len(commits),
                           author_type=author_type(payload.get("sender")), **tags))
    if payload.get("forced"):
        out.append(m.count("github.push.forced", **tags))
    reverts = sum(is_revert(c.get("message", "")) for c in commits)
    if reverts:
        out.append(m.count("github.push.reverts", reverts, **tags))
    hotfix_branch = bool(ctx.hotfix.search(branch))
    hotfixes = sum(hotfix_branch or bool(ctx.hotfix.search(c.get("message", ""))) for c in commits)
    if hotfixes:
        out.append(m.count("github.push.hotfixes", hotfixes, **tags))
    return out


def _ref_event(name: str):
    def handler(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
        ref_type = payload.get("ref_type")
        if ref_type not in ("branch", "tag"):
            return None
        return [m.count(name, repo=ctx.repo(payload), ref_type=ref_type)]
    return handler


create = _ref_event("github.refs.created")
delete = _ref_event("github.refs.deleted")
