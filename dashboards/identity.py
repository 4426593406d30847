"""Identity lives in the object, so no state file is needed and nothing is duplicated.

A dashboard carries a marker in its description (the API gives dashboards no
free-form tags); a monitor or SLO carries tags: `managed-by:orgpulse`,
`orgpulse-id:<key>` and `env:<environment>`. An object without them is not
orgpulse's: apply never updates it and prune never deletes it.
"""

from __future__ import annotations

import re

MANAGED = "managed-by:orgpulse"
ID_PREFIX = "orgpulse-id:"
MARKER = re.compile(r"\[orgpulse-id:([a-z0-9_.-]+)\]")
NOTICE = (
    "Managed by orgpulse (`orgpulse dashboards apply`): edits made here are overwritten "
    "on the next apply — change the definitions in dashboards/ instead."
)


def mark_dashboard(body: dict, key: str) -> dict:
    text = body.get("description", "").rstrip()
    return {**body, "description": f"{text}\n\n[orgpulse-id:{key}] {NOTICE}".lstrip()}


def dashboard_key(description: str | None) -> str | None:
    match = MARKER.search(description or "")
    return match.group(1) if match else None


def tags(key: str, env: str) -> list[str]:
    return [MANAGED, f"{ID_PREFIX}{key}", f"env:{env}"]


def tagged_key(tag_list: list[str] | None, env: str | None = None) -> str | None:
    """The key of a monitor or SLO orgpulse owns (in `env`, when given), else None."""
    tag_list = tag_list or []
    if MANAGED not in tag_list:
        return None
    if env is not None and f"env:{env}" not in tag_list:
        return None
    keys = [t[len(ID_PREFIX) :] for t in tag_list if t.startswith(ID_PREFIX)]
    return keys[0] if len(keys) == 1 else None
