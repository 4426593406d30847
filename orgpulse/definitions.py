"""What a bot, a revert, a hotfix, a flaky check, a production environment and a pull
request's first review are, and the legs of a pull request's cycle.

The receiver (one delivery at a time) and the poller (7-day windows from the
APIs) must agree on these, or the real-time counts and the reconciled gauges
drift apart. Both import them from here; nothing here imports above the kernel.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from typing import TypeGuard

from orgpulse.timeutil import parse_time, seconds_between

# `git revert` writes 'Revert "<subject>"' and 'This reverts commit <sha>';
# Conventional Commits write 'revert: …' or 'revert(scope): …'.
REVERT = re.compile(
    r'^(revert "|revert(\([^)]*\))?!?:)|^this reverts commit [0-9a-f]{7,40}', re.IGNORECASE | re.MULTILINE
)


def is_revert(message: str) -> bool:
    return bool(REVERT.search(message or ""))


def is_bot(user: dict | None) -> bool:
    """GitHub Apps and [bot] accounts (dependabot, renovate…). REST logins end in
    '[bot]'; GraphQL's Bot logins do not, but carry __typename/type Bot."""
    user = user if isinstance(user, dict) else {}
    kind = user.get("type") or user.get("__typename")
    return kind == "Bot" or str(user.get("login", "")).endswith("[bot]")


def author_type(user: dict | None) -> str:
    """The bounded `author_type` tag: bot or human."""
    return "bot" if is_bot(user) else "human"


# --- CI: what a conclusion says, which gauge a workflow feeds, what a flaky check is.

# What a completed run says about the code: success 1, a failure 0. Cancelled, skipped,
# neutral… say nothing about tests and never move a "passing" gauge (the old collectors
# counted a cancelled run as a failure of the tests).
DECISIVE = {"success": 1.0, "failure": 0.0, "timed_out": 0.0, "startup_failure": 0.0}
FAILED = frozenset(c for c, v in DECISIVE.items() if v == 0.0)


def passing_gauge(workflow_name: str, benchmark: re.Pattern) -> str:
    """The default-branch gauge a workflow feeds: a benchmark workflow (github.benchmark_workflows)
    feeds benchmarks_passing only, so a failing benchmark never turns tests_passing_on_main red."""
    if benchmark.search(workflow_name or ""):
        return "github.ci.benchmarks_passing"
    return "github.ci.tests_passing_on_main"


def flaky_key(repo: str, run: dict) -> tuple:
    """What a flake is counted on: (repository, workflow, head SHA) — never a run id, since a
    new run of the same workflow on the same SHA (workflow_dispatch, a re-push, a merge-queue
    retry) is as much a retry as a re-run attempt of the same run."""
    return repo, run.get("workflow_id") or run.get("name") or run.get("path"), run.get("head_sha")


FAILED_ONCE, FLAKY = "failed", "flaky"


def flaky_step(state: str | None, conclusion: str | None) -> tuple[str | None, bool]:
    """One completed attempt of a check on one head SHA: (the key's new state, whether it
    became flaky just now). A check is flaky when it failed and later succeeded on the same
    head SHA; it is counted once, however often it flips after that."""
    if state == FLAKY:
        return FLAKY, False
    if conclusion in FAILED:
        return FAILED_ONCE, False
    if conclusion == "success" and state == FAILED_ONCE:
        return FLAKY, True
    return state, False


def count_flaky(attempts: Iterable[tuple[Hashable, str | None]]) -> int:
    """Flaky keys among completed attempts given in completion order as (key, conclusion)."""
    states: dict[Hashable, str | None] = {}
    flaky = 0
    for key, conclusion in attempts:
        states[key], became = flaky_step(states.get(key), conclusion)
        flaky += became
    return flaky


def is_production(environment: str | None, pattern: str) -> TypeGuard[str]:
    """`dora.production`: a regular expression searched in the deployment's environment
    name, case-insensitively (GitHub treats environment names without case)."""
    return bool(environment and re.search(pattern, environment, re.IGNORECASE))


def is_deploy_workflow(configured: str | None, path: str | None) -> bool:
    """`dora.deploy_workflows[repo]` names a workflow file (deploy.yml, or its path
    .github/workflows/deploy.yml); `path` is a workflow run's (a ref may follow an @)."""
    if not configured or not path:
        return False
    return configured.rsplit("/", 1)[-1] == path.split("@")[0].rsplit("/", 1)[-1]


def has_label(names: list[str], label: str) -> bool:
    """An issue whose label names are `names` carries `label` (GitHub's are case-insensitive)."""
    return bool(label) and label.lower() in (n.lower() for n in names)


def deploy_workflow_of(deploy_workflows: dict[str, str], repo: str) -> str | None:
    """The deploy workflow configured for owner/name (GitHub names are case-insensitive);
    a repository that has one ignores the Deployments API."""
    wanted = repo.lower()
    return next((wf for name, wf in deploy_workflows.items() if name.lower() == wanted), None)


# --- Pull requests: the first review, and the cycle leg by leg.


def _account_id(user: Mapping) -> int | None:
    """REST's and webhooks' numeric `id` (GraphQL's `id` is a node id string: not comparable)."""
    value = user.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def same_account(a: Mapping | None, b: Mapping | None) -> bool:
    """The same GitHub account: by numeric id where both sides carry one (an account renamed
    keeps it), else by login, without case (GitHub's logins are case-insensitive)."""
    a, b = a or {}, b or {}
    ids = _account_id(a), _account_id(b)
    if None not in ids:
        return ids[0] == ids[1]
    logins = [str(u.get("login") or "").lower() for u in (a, b)]
    return bool(logins[0]) and logins[0] == logins[1]


def by_another_human(author: Mapping | None, reviewer: Mapping | None) -> bool:
    """A review by a person other than the pull request's author (a bot answers in seconds; an
    author answering on their own pull request is not a review). A deleted account: no one."""
    if not reviewer:
        return False
    return not is_bot(dict(reviewer)) and not same_account(author, reviewer)


def counts_as_first_review(
    author: Mapping | None, reviewer: Mapping | None, submitted_at: object, merged_at: object
) -> bool:
    """A review that can be the pull request's first: submitted (a pending review has no time),
    by another human, and no later than the merge (a review after it picked nothing up)."""
    submitted, merged = parse_time(submitted_at), parse_time(merged_at)
    return submitted is not None and by_another_human(author, reviewer) and (merged is None or submitted <= merged)


def first_review(
    author: Mapping | None, reviews: Iterable[tuple[Mapping | None, object]], merged_at: object
) -> datetime | None:
    """When the first review was submitted: the earliest of `reviews` — (reviewer, submitted at)
    pairs, in any order — that counts_as_first_review. The poller gives every review GitHub
    lists; the receiver, each review as it arrives, with the earliest it kept so far."""
    times = [
        t
        for reviewer, at in reviews
        if counts_as_first_review(author, reviewer, at, merged_at) and (t := parse_time(at)) is not None
    ]
    return min(times) if times else None


# The cycle of a pull request, leg by leg (Apache DevLake's breakdown): each leg runs from one
# moment to the next. A leg is in seconds, or None where a moment is unknown or the span is
# negative (e.g. a first commit authored after the pull request opened): no value, never a 0.
LEGS: dict[str, tuple[str, str]] = {
    "coding": ("first_commit", "created"),  # first commit authored → pull request opened
    "pickup": ("created", "first_review"),  # → first review by another human
    "review": ("first_review", "merged"),  # → merged
    "deploy": ("merged", "deployed"),  # → the first successful production deployment of it
}


def leg(name: str, moments: Mapping[str, object]) -> float | None:
    """One leg's seconds from the moments known (ISO strings, datetimes or Unix seconds)."""
    start, end = LEGS[name]
    return seconds_between(moments.get(start), moments.get(end))
