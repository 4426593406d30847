"""What a bot, a revert, a hotfix, a flaky check and a production environment are.

The receiver (one delivery at a time) and the poller (7-day windows from the
APIs) must agree on these, or the real-time counts and the reconciled gauges
drift apart. Both import them from here; nothing here imports above the kernel.
"""
from __future__ import annotations

import re

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


def is_production(environment: str | None, pattern: str) -> bool:
    """`dora.production`: a regular expression searched in the deployment's environment
    name, case-insensitively (GitHub treats environment names without case)."""
    return bool(environment) and re.search(pattern, environment, re.IGNORECASE) is not None


def is_deploy_workflow(configured: str | None, run: dict) -> bool:
    """`dora.deploy_workflows[repo]` names a workflow file (deploy.yml, or its path
    .github/workflows/deploy.yml); `run` is a workflow run object, whose `path` is the file's."""
    if not configured:
        return False
    return configured.rsplit("/", 1)[-1] == str(run.get("path") or "").split("@")[0].rsplit("/", 1)[-1]


def has_label(labels: list | None, label: str) -> bool:
    """An issue carries `label` (GitHub label names are case-insensitive)."""
    wanted = label.lower()
    return bool(label) and any(isinstance(x, dict) and str(x.get("name", "")).lower() == wanted
                               for x in labels or [])


def deploy_workflow_of(deploy_workflows: dict[str, str], repo: str) -> str | None:
    """The deploy workflow configured for owner/name (GitHub names are case-insensitive);
    a repository that has one ignores the Deployments API."""
    wanted = repo.lower()
    return next((wf for name, wf in deploy_workflows.items() if name.lower() == wanted), None)
