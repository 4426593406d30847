"""`github:` — GitHub: the repositories measured, tag allow-lists, the poller's API budget."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import regex as _regex
from orgpulse.validators import slash_pairs as _slash_pairs
from orgpulse.validators import str_list as _str_list

SECTION: dict[str, Option] = {
    "repositories": Option(
        [],
        _slash_pairs("owner/name"),
        doc=(
            "Repositories (owner/name) the poller measures, and the `repo` tag allow-list: a "
            "repository not listed is tagged `repo:other`. Setting it turns the github and dora "
            "collectors (and their monitors) on."
        ),
    ),
    "hotfix_pattern": Option(
        r"(?i)\bhot-?fix\b",
        _regex,
        doc=(
            "Regular expression on branch names and commit messages that marks a hotfix "
            "(`github.commits.hotfix`, DORA's `hotfix` failure signal)."
        ),
    ),
    "benchmark_workflows": Option(
        r"(?i)bench",
        _regex,
        doc=(
            "Regular expression on workflow names: matching workflows feed "
            "`github.ci.benchmarks_passing`, never `github.ci.tests_passing_on_main`."
        ),
    ),
    "workflows": Option([], _str_list, doc=("`workflow` tag allow-list; empty: the first `max_workflows` names seen.")),
    "max_workflows": Option(
        50,
        _at_least(1),
        doc=("Without a `workflows` list: distinct `workflow` tag values kept; later ones are `other`."),
    ),
    "environments": Option(
        [],
        _str_list,
        doc=(
            "Deployment `environment` tag allow-list; empty: the first `max_environments` seen. "
            "Which environments are production is `dora.production`."
        ),
    ),
    "max_environments": Option(
        20, _at_least(1), doc=("Without an `environments` list: distinct `environment` tag values kept.")
    ),
    "max_repositories": Option(
        200,
        _at_least(1),
        doc=(
            "Without a `repositories` list: the first N repositories seen keep their name, later "
            "ones are tagged `repo:other`."
        ),
    ),
    "hooks": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict)
            and all(isinstance(k, str) and k.count("/") == 1 and isinstance(i, int) for k, i in v.items())
            else f"must map owner/name to a webhook id, got {v!r}"
        ),
        doc=(
            "`{owner/name: hook id}`: repository webhooks whose failed deliveries of the last "
            "3 days the poller asks GitHub to redeliver, once each (GitHub never retries by itself; "
            "needs the Webhooks read and write permission)."
        ),
    ),
    "budget_share": Option(
        0.10,
        lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1 else f"must be in (0, 1], got {v!r}",
        doc=(
            "The poller's share of the token's (or each app installation's) hourly REST limit and "
            "of its GraphQL points, shared by the github and dora collectors; the rest is left to "
            "people and CI."
        ),
    ),
    # 0.25 s is PyGithub's own pacing; GraphQL, sent as POST, is paced as a write.
    "request_interval_seconds": Option(
        0.25,
        lambda v: None if isinstance(v, (int, float)) and 0 <= v <= 10 else f"must be in [0, 10], got {v!r}",
        doc=("Pause between the poller's GitHub requests (GraphQL: at least 1 s); 0 against a local fake."),
    ),
}
