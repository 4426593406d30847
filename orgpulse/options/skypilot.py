"""`skypilot:` — SkyPilot: regions and GPU prices."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import str_list as _str_list

SECTION: dict[str, Option] = {
    "regions": Option([], _str_list, doc=("`region` tag allow-list of running jobs; other regions are `other`.")),
    "gpu_prices": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
            else f"must map accelerator names to USD per GPU-hour, got {v!r}"
        ),
        doc=("USD per GPU-hour by accelerator, for `skypilot.cost.hourly_estimate`; unpriced GPUs are counted."),
    ),
    "spot_price_factor": Option(
        0.35,
        lambda v: None if isinstance(v, (int, float)) and 0 < v <= 1 else f"must be in (0, 1], got {v!r}",
        doc=("Multiplier on `gpu_prices` for spot jobs."),
    ),
    "request_timeout_seconds": Option(60, _at_least(1), doc=("Timeout of a request to the SkyPilot API server.")),
}
