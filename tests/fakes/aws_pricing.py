"""A fake AWS Price List API (moto has none): GetProducts over the JSON 1.1 protocol, as boto3 speaks it."""
from __future__ import annotations

import json

from tests.fakes.http import FakeServer


def product(instance_type: str, location: str, usd: float) -> str:
    """One PriceList entry shaped as the real API returns it (a JSON string)."""
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": f"SKU{instance_type}",
                    "attributes": {"instanceType": instance_type, "location": location,
                                   "operatingSystem": "Linux", "tenancy": "Shared"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"SKU{instance_type}.JRTCKXETXF": {
            "priceDimensions": {f"SKU{instance_type}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "pricePerUnit": {"USD": f"{usd:.10f}"},
                "description": f"${usd} per On Demand Linux {instance_type} Instance Hour"}}}}}})


class FakePricing(FakeServer):
    routes = [("POST", r"/", "rpc")]

    def __init__(self, prices: dict[tuple[str, str], float]):
        self.prices = prices  # (instance type, location) -> USD/hour
        super().__init__()

    def rpc(self, req, match):
        target = req.headers.get("x-amz-target", "")
        if target != "AWSPriceListService.GetProducts":
            return 400, {}, {"__type": "InvalidAction", "message": target}
        body = req.json()
        filters = {f["Field"]: f["Value"] for f in body.get("Filters", [])}
        key = (filters.get("instanceType"), filters.get("location"))
        items = [product(key[0], key[1], self.prices[key])] if key in self.prices else []
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, {
            "FormatVersion": "aws_v1", "PriceList": items}
