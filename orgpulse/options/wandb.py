"""`wandb:` — Weights & Biases: projects, summary keys, run classes."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import regex as _regex
from orgpulse.validators import slash_pairs as _slash_pairs

SECTION: dict[str, Option] = {
    "projects": Option(
        [],
        _slash_pairs("entity/project"),
        doc=(
            "`entity/project` list: the `project` tag allow-list and the projects the poller reads "
            "(with `WANDB_API_KEY`). Setting it turns the wandb monitors on."
        ),
    ),
    "max_projects": Option(50, _at_least(1), doc=("Without a `projects` list: distinct `project` tag values kept.")),
    "dedup": Option(
        True,
        _is(bool, "true or false"),
        doc=("Count identical bodies once within the dedup TTL (W&B sends no delivery id)."),
    ),
    "summary_keys": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict) and set(v) <= {"accuracy", "loss", "steps_per_second"}
            else f"keys must be among accuracy, loss, steps_per_second, got {v!r}"
        ),
        doc=(
            "Which run summary key holds `accuracy` and `loss`, and which keys hold "
            "`steps_per_second` (a list: the first a run reports wins); defaults `accuracy`, `loss`, "
            "`[overview/steps_per_second, overview/sps]`."
        ),
    ),
    "run_classes": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict) and all(_regex(p) is None for p in v.values())
            else f"must map class names to regular expressions, got {v!r}"
        ),
        doc="Run class → regular expression on the run's name (`push_to_main: '^github\\.sky\\.'`): "
        "the `run_class` gauges.",
    ),
}
