"""`poller:` — The poller: its cycle and collectors' timeouts."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is

SECTION: dict[str, Option] = {
    "interval_seconds": Option(900, _at_least(10), doc=("Seconds between the poller's cycles (±10 % jitter).")),
    "collector_timeout_seconds": Option(
        120,
        _at_least(1),
        doc=(
            "A collector's time limit in a cycle; a hung one is not started again until it returns. "
            "Keep it under twice `interval_seconds`."
        ),
    ),
    "max_age_cycles": Option(
        2,
        _at_least(1),
        doc=("FoM scores use inputs no older than this many cycles; an older or missing input: no score."),
    ),
    "run_informer": Option(
        True,
        _is(bool, "true or false"),
        doc=("In a cluster (`KUBERNETES_SERVICE_HOST`), run the pod informer inside the poller process."),
    ),
    "backfill_stall_cycles": Option(
        4,
        _at_least(1),
        doc=(
            "A first-cycle backfill (github, dora) cut short this many cycles in a row without progress "
            "counts `orgpulse.collector.errors{reason:backfill_stalled}`; while it progresses it is pending."
        ),
    ),
}
