"""`asana:` — Asana: the workspace, bugs project and enrichment."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import sections as _sections
from orgpulse.validators import str_list as _str_list

SECTION: dict[str, Option] = {
    "workspace": Option(
        "",
        _is(str, "a workspace gid"),
        doc=(
            "Workspace gid: the projects the poller reads and `orgpulse asana webhooks list`. "
            "Setting it turns the asana collector (with `ASANA_ACCESS_TOKEN`) and its monitors on."
        ),
    ),
    "bugs_project": Option(
        "",
        _is(str, "a project gid"),
        doc=("Project gid whose tasks are bugs (`asana.bugs.*`, `asana.projects.bugs.*`)."),
    ),
    "sections": Option(
        {"triage": ["triage"], "active": ["active", "in progress"], "backlog": ["backlog"]},
        _sections,
        doc=(
            "Bucket → section-name substrings (case-insensitive) of the bugs project's sections; "
            "a bug in no bucket is `other`."
        ),
    ),
    "projects": Option(
        [], _str_list, doc=("Project-name (`project` tag) allow-list; empty: the first `max_projects` seen.")
    ),
    "max_projects": Option(50, _at_least(1), doc=("Without a `projects` list: distinct `project` tag values kept.")),
    "requests_per_minute": Option(
        150,
        _at_least(1),
        doc=("Enrichment's cap on Asana API requests (Asana: 150 a minute on free plans, 1,500 paid)."),
    ),
    "enrich_workers": Option(2, _at_least(1), doc=("Background workers fetching what Asana's compact events lack.")),
    "enrich_queue": Option(
        10_000,
        _at_least(10),
        doc=(
            "Enrichment jobs waiting; a full queue drops jobs and counts them "
            "(`orgpulse.enrichment.jobs{outcome:dropped}`)."
        ),
    ),
    "request_timeout_seconds": Option(
        10, _at_least(1), doc=("Timeout of each Asana API request (enrichment and the poller).")
    ),
}
