"""EC2 prices: on-demand from the AWS Pricing API (cached a day), spot from spot price
history, a configured table as the fallback; actual spend from Cost Explorer, asked at
most four times a day (it costs $0.01 a call and refreshes about three times a day).
An instance whose price is known nowhere is counted as unpriced, never priced at zero.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Callable

DAY = 86400.0
CE_REFRESH = DAY / 4
# The Pricing API names regions by location; regionCode is not on every product.
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-southeast-1": "Asia Pacific (Singapore)",
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
        self._on_demand: dict[tuple[str, str], tuple[float | None, float]] = {}
        self._lock = threading.Lock()

    def on_demand(self, instance_type: str, region: str) -> float | None:
        key = (instance_type, region)
        with self._lock:
            cached = self._on_demand.get(key)
        if cached and self.clock() - cached[1] < DAY:
            return cached[0]
        price = self._lookup(instance_type, region)
        if price is None:
            price = self.fallback.get(instance_type)
        with self._lock:
            self._on_demand[key] = (price, self.clock())
        return price

    def _lookup(self, instance_type: str, region: str) -> float | None:
        if self.pricing is None or region not in LOCATIONS:
            return None
        filters = [("instanceType", instance_type), ("location", LOCATIONS[region]),
                   ("operatingSystem", "Linux"), ("tenancy", "Shared"),
                   ("preInstalledSw", "NA"), ("capacitystatus", "Used")]
        try:
            resp = self.pricing.get_products(
                ServiceCode="AmazonEC2", MaxResults=10,
                Filters=[{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in filters])
        except Exception:  # noqa: BLE001 - the fallback table decides; counted by the caller
            return None
        prices = [p for p in map(on_demand_usd, resp.get("PriceList", [])) if p]
        return min(prices) if prices else None


def latest_spot_prices(ec2_client, instance_types: list[str]) -> dict[str, float]:
    """Lowest current spot price per instance type across the region's zones."""
    if not instance_types:
        return {}
    out: dict[str, float] = {}
    pages = ec2_client.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=instance_types, ProductDescriptions=["Linux/UNIX (Amazon VPC)"],
        StartTime=time.time() - 3600)
    for page in pages:
        for item in page.get("SpotPriceHistory", []):
            price = float(item["SpotPrice"])
            out[item["InstanceType"]] = min(price, out.get(item["InstanceType"], price))
    return out


class CostExplorer:
    """Month-to-date EC2 compute spend, cached; re-asked at most every six hours."""

    def __init__(self, ce_client, clock: Callable[[], float] = time.time):
        self.ce, self.clock = ce_client, clock
        self.value: float | None = None
        self.asked_at: float | None = None
        self.calls = 0

    def month_to_date(self, today_iso: str, month_start_iso: str) -> float | None:
        if self.asked_at is not None and self.clock() - self.asked_at < CE_REFRESH:
            return self.value
        self.asked_at = self.clock()  # a failed ask also waits: the call costs money
        self.calls += 1
        resp = self.ce.get_cost_and_usage(
            TimePeriod={"Start": month_start_iso, "End": today_iso}, Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            Filter={"Dimensions": {"Key": "SERVICE",
                                   "Values": ["Amazon Elastic Compute Cloud - Compute"]}})
        results = resp.get("ResultsByTime") or []
        self.value = sum(float(r["Total"]["UnblendedCost"]["Amount"]) for r in results
                         if "UnblendedCost" in (r.get("Total") or {})) if results else None
        return self.value
