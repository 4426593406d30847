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
