"""`aws:` — EC2 and cost: regions, prices, idle threshold."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import is_ as _is
from orgpulse.validators import str_list as _str_list

SECTION: dict[str, Option] = {
    "regions": Option(
        [], _str_list, doc=("Regions the EC2 collector reads; `[]` = EC2 off. Setting it turns the ec2 monitors on.")
    ),
    "prices": Option(
        {},
        lambda v: (
            None
            if isinstance(v, dict)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in v.values())
            else f"must map instance types to USD per hour, got {v!r}"
        ),
        doc=("Fallback on-demand prices, instance type → USD per hour, for what the Pricing API does not price."),
    ),
    "idle_cpu_pct": Option(
        5.0,
        lambda v: None if isinstance(v, (int, float)) and 0 < v < 100 else f"must be a percentage, got {v!r}",
        doc=("A running instance whose CloudWatch CPU averaged below this over the last hour is idle."),
    ),
    "cost_explorer": Option(
        True,
        _is(bool, "true or false"),
        doc=("Send `ec2.cost.month_to_date_usd` from Cost Explorer (asked at most every 6 hours; $0.01 a call)."),
    ),
}
