"""EC2 prices: on-demand from the AWS Pricing API (cached a day), spot from spot price
history, a configured table as the fallback; actual spend from Cost Explorer, asked at
most four times a day (it costs $0.01 a call and refreshes about three times a day).
An instance whose price is known nowhere is counted as unpriced, never priced at zero.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

log = logging.getLogger("orgpulse.ec2")
DAY = 86400.0
# A failed Pricing call is asked again after minutes, not a day: one throttled call
# must not silence a region's cost until tomorrow.
FAILURE_RETRY = 300.0
CE_REFRESH = timedelta(hours=6)
# The Pricing API names regions by location; regionCode is not on every product.
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
}


def on_demand_usd(price_list_item: str) -> float | None:
    """The hourly USD price in one Pricing API product (a JSON string)."""
    product = json.loads(price_list_item)
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is not None and float(usd) > 0:
                return float(usd)
    return None


class Prices:
    def __init__(self, pricing_client, fallback: dict[str, float], clock: Callable[[], float] = time.time):
        self.pricing = pricing_client
        self.fallback = fallback
        self.clock = clock
        self._on_demand: dict[tuple[str, str], tuple[float | None, float]] = {}  # -> (price, expires at)
        self._failed: set[str] = set()  # regions whose Pricing call failed, until taken
        self._lock = threading.Lock()

    def on_demand(self, instance_type: str, region: str) -> float | None:
        key, now = (instance_type, region), self.clock()
        with self._lock:
            cached = self._on_demand.get(key)
        if cached and now < cached[1]:
            return cached[0]
        try:
            price, ttl = self._lookup(instance_type, region), DAY
        except Exception as exc:  # noqa: BLE001 - the fallback table decides meanwhile
            log.warning("pricing failed", extra={"region": region, "error": type(exc).__name__})
            price, ttl = None, FAILURE_RETRY
            with self._lock:
                self._failed.add(region)
        if price is None:
            price = self.fallback.get(instance_type)
        with self._lock:
            self._on_demand[key] = (price, now + ttl)
        return price

    def take_failure(self, region: str) -> bool:
        """Whether a Pricing call for this region failed since the last time asked."""
        with self._lock:
            failed = region in self._failed
            self._failed.discard(region)
        return failed

    def _lookup(self, instance_type: str, region: str) -> float | None:
        if self.pricing is None or region not in LOCATIONS:
            return None
        filters = [
            ("instanceType", instance_type),
            ("location", LOCATIONS[region]),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
            ("preInstalledSw", "NA"),
            ("capacitystatus", "Used"),
        ]
        resp = self.pricing.get_products(
            ServiceCode="AmazonEC2",
            MaxResults=10,
            Filters=[{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in filters],
        )
        prices = [p for p in map(on_demand_usd, resp.get("PriceList", [])) if p]
        return min(prices) if prices else None


def current_spot_prices(history: Iterable[dict]) -> dict[tuple[str, str], float]:
    """Pure: the spot price in effect now per (instance type, availability zone) — each
    zone's latest point. Zones differ (a $9 zone next to a $20 one), and an instance pays
    its own zone's price, so neither the minimum nor a region-wide figure is right."""
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    for item in history:
        key = (item["InstanceType"], item["AvailabilityZone"])
        if key not in latest or item["Timestamp"] > latest[key][0]:
            latest[key] = (item["Timestamp"], float(item["SpotPrice"]))
    return {key: price for key, (_, price) in latest.items()}


def spot_prices(ec2_client, instance_types: list[str], now: datetime) -> dict[tuple[str, str], float]:
    """Current spot prices by (type, zone). The history from an hour ago also holds the
    price in effect at its start (AWS includes the last change before StartTime)."""
    if not instance_types:
        return {}
    pages = ec2_client.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=instance_types,
        ProductDescriptions=["Linux/UNIX (Amazon VPC)"],
        StartTime=now - timedelta(hours=1),
    )
    return current_spot_prices(item for page in pages for item in page.get("SpotPriceHistory", []))


class CostExplorer:
    """Month-to-date EC2 compute spend of the current UTC month, re-asked at most every six hours.

    The cache is keyed by month: after midnight on the 1st the old month's total is never
    shown. A refresh that fails raises (the collector counts it and sends nothing) rather
    than re-sending an older figure, and is tried again the next cycle."""

    def __init__(self, ce_client):
        self.ce = ce_client
        self.cached: tuple[str, float | None, datetime] | None = None  # (month, value, asked at)
        self.calls = 0

    def month_to_date(self, now: datetime) -> float | None:
        month = now.strftime("%Y-%m")
        if self.cached and self.cached[0] == month and now - self.cached[2] < CE_REFRESH:
            return self.cached[1]
        self.calls += 1
        resp = self.ce.get_cost_and_usage(
            TimePeriod={
                "Start": now.date().replace(day=1).isoformat(),
                "End": (now + timedelta(days=1)).date().isoformat(),
            },  # End is exclusive
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            Filter={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}},
        )
        results = resp.get("ResultsByTime") or []
        value = (
            sum(
                float(r["Total"]["UnblendedCost"]["Amount"])
                for r in results
                if "UnblendedCost" in (r.get("Total") or {})
            )
            if results
            else None
        )
        self.cached = (month, value, now)
        return value
