"""What a bot, a revert, a hotfix, a flaky check and a production environment are.

The receiver (one delivery at a time) and the poller (7-day windows from the
APIs) must agree on these, or the real-time counts and the reconciled gauges
drift apart. Both import them from here; nothing here imports above the kernel.
"""
from __future__ import annotations

import re
from typing import Hashable, Iterable

# `git revert` writes 'Revert "<subject>"' and 'This reverts commit <sha>';
# Conventional Commits write 'revert: …' or 'revert(scope): …'.
REVERT = re.compile(r'^(revert "|revert(\([^)]*\))?!?:)|^this reverts commit [0-9a-f]{7,40}',
                    re.IGNORECASE | re.MULTILINE)


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
# neutral… say nothing about tests and never move a "passing" gauge (seed W7).
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


def is_production(environment: str | None, pattern: str) -> bool:
    """`dora.production`: a regular expression searched in the deployment's environment
    name, case-insensitively (GitHub treats environment names without case)."""
    return bool(environment) and re.search(pattern, environment, re.IGNORECASE) is not None


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
