"""`dora:` — DORA: production environments, deploy workflows, failure signals."""

from __future__ import annotations

from typing import Any

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import regex as _regex
from orgpulse.validators import str_list as _str_list

DORA_SIGNALS = ("deployment_failure", "rollback", "revert", "hotfix", "incident")


def _deploy_workflows(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k.count("/") == 1 and isinstance(v, str) and v.endswith((".yml", ".yaml"))
        for k, v in value.items()
    )
    return None if ok else f"must map owner/name to a workflow file (deploy.yml), got {value!r}"


def _signals(value: Any) -> str | None:
    bad = _str_list(value)
    unknown = [] if bad else sorted(set(value) - set(DORA_SIGNALS))
    return bad or (f"unknown signal(s) {unknown} (known: {list(DORA_SIGNALS)})" if unknown else None)


# DORA's four keys (docs/sources/dora.md): which deployments are production, where a repository
# records them, and what marks a change as failed.


SECTION: dict[str, Option] = {
    "production": Option(
        r"^prod(uction)?$",
        _regex,
        doc=("Regular expression (case-insensitive) on the environment name: which deployments are production."),
    ),
    "deploy_workflows": Option(
        {},
        _deploy_workflows,
        doc=(
            "`{owner/name: deploy.yml}`: that workflow's successful default-branch runs are the "
            "repository's deployments (and its Deployments API is ignored)."
        ),
    ),
    "failure_signals": Option(
        list(DORA_SIGNALS),
        _signals,
        doc=(
            "What marks a production deployment failed: any of `deployment_failure`, `rollback`, "
            "`revert`, `hotfix`, `incident`."
        ),
    ),
    "failure_window_hours": Option(
        24, _at_least(1), doc=("A signal within this window after a deployment marks it failed.")
    ),
    "incident_label": Option(
        "incident",
        _is(str, "a label name"),
        doc=("GitHub issues with this label are incidents; empty: no GitHub incidents."),
    ),
    "incidents_project": Option(
        "",
        _is(str, "an Asana project gid"),
        doc=("Asana project gid whose tasks are incidents (needs `ASANA_ACCESS_TOKEN`); empty: none."),
    ),
    "restore_from_failed_deployments": Option(
        False,
        _is(bool, "true or false"),
        doc=("Time to restore also from a failed production deployment to the next success."),
    ),
}
