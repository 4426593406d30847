"""A fake AWS Price List API (moto has none): GetProducts over the JSON 1.1 protocol, as boto3
speaks it; and a proxy in front of moto's server for what moto cannot be told (FakeAwsProxy)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qs

import requests

from tests.fakes.http import FakeServer


def product(instance_type: str, location: str, usd: float) -> str:
    """One PriceList entry shaped as the real API returns it (a JSON string)."""
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "sku": f"SKU{instance_type}",
                "attributes": {
                    "instanceType": instance_type,
                    "location": location,
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                },
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    f"SKU{instance_type}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"SKU{instance_type}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": f"{usd:.10f}"},
                                "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                            }
                        }
                    }
                }
            },
        }
    )


class FakePricing(FakeServer):
    routes = [("POST", r"/", "rpc")]

    def __init__(self, prices: dict[tuple[str, str], float]):
        self.prices = prices  # (instance type, location) -> USD/hour
        self.throttled = 0  # the next this many calls fail as AWS throttles them
        super().__init__()

    def rpc(self, req, match):
        target = req.headers.get("x-amz-target", "")
        if self.throttled:
            self.throttled -= 1
            return (
                400,
                {"Content-Type": "application/x-amz-json-1.1"},
                {"__type": "ThrottlingException", "message": "Rate exceeded"},
            )
        if target != "AWSPriceListService.GetProducts":
            return 400, {}, {"__type": "InvalidAction", "message": target}
        body = req.json()
        filters = {f["Field"]: f["Value"] for f in body.get("Filters", [])}
        key = (filters.get("instanceType"), filters.get("location"))
        items = [product(key[0], key[1], self.prices[key])] if key in self.prices else []
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, {"FormatVersion": "aws_v1", "PriceList": items}


SPOT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
<requestId>59dbff89-35bd-4eac-99ed-be587example</requestId>
<spotPriceHistorySet>{items}</spotPriceHistorySet>
</DescribeSpotPriceHistoryResponse>"""
UNAUTHORIZED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code>
<Message>You are not authorized to perform this operation.</Message></Error></Errors>
<RequestID>59dbff89-35bd-4eac-99ed-be587example</RequestID></Response>"""
SPOT_ITEM = """<item><instanceType>{type}</instanceType><productDescription>Linux/UNIX (Amazon VPC)</productDescription>
<spotPrice>{price:.6f}</spotPrice><timestamp>{ts}</timestamp><availabilityZone>{zone}</availabilityZone></item>"""


class FakeAwsProxy(FakeServer):
    """moto's server for everything moto has, plus what it lacks: a spot price history set
    per zone and time (moto's is one fixed price), scripted failures (`fail("/", …)`), and EC2
    actions refused every time as AWS refuses what the IAM policy lacks (`refused`).
    Requests are forwarded as boto3 sent them (moto reads the service from the signature)."""

    routes = [("POST", r"/", "rpc")]

    def __init__(self, moto_url: str):
        self.moto_url = moto_url
        self.spot_history: list[tuple[str, str, float, datetime]] = []  # (type, zone, USD/h, since)
        self.refused: set[str] = set()  # EC2 actions answered 403 UnauthorizedOperation
        super().__init__()

    def rpc(self, req, match):
        form = parse_qs(req.body.decode()) if b"Action=" in req.body[:200] else {}
        if set(form.get("Action", [])) & self.refused:
            return 403, {"Content-Type": "text/xml"}, UNAUTHORIZED_XML.encode()
        if form.get("Action") == ["DescribeSpotPriceHistory"] and self.spot_history:
            types = {v[0] for k, v in form.items() if k.startswith("InstanceType.")}
            items = "".join(
                SPOT_ITEM.format(type=t, zone=z, price=p, ts=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
                for t, z, p, at in self.spot_history
                if not types or t in types
            )
            return 200, {"Content-Type": "text/xml"}, SPOT_XML.format(items=items).encode()
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length")}
        resp = requests.post(self.moto_url + req.path, data=req.body, headers=headers, timeout=10)
        return resp.status_code, {"Content-Type": resp.headers.get("Content-Type", "text/xml")}, resp.content
