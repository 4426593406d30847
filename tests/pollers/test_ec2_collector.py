"""EC2 against moto's server through real boto3 clients; prices through a fake Pricing API."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from botocore.config import Config

from orgpulse import metrics as m
from pollers.ec2.collector import Ec2Collector
from pollers.ec2.prices import CostExplorer, Prices
from pollers.loop import Collector, Poller
from pollers.values import ValueStore
from tests.fakes.aws_pricing import FakeAwsProxy, FakePricing
from tests.pollers.test_loop import lines
from tests.support.dogstatsd import PRODUCED

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def moto_url():
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"  # configures the moto peer, not our code
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def clients(moto_url):
    requests.post(moto_url + "/moto-api/reset")
    cache = {}

    def make(service: str, region: str):
        if (service, region) not in cache:
            cache[(service, region)] = boto3.client(service, region_name=region, endpoint_url=moto_url, **CREDS)
        return cache[(service, region)]

    return make


@pytest.fixture(scope="module")
def pricing_server():
    fake = FakePricing(
        {
            ("p4d.24xlarge", "US East (N. Virginia)"): 32.7726,
            ("t3.large", "US East (N. Virginia)"): 0.0832,
            ("g5.xlarge", "US West (Oregon)"): 1.006,
        }
    )
    yield fake
    fake.close()


@pytest.fixture
def pricing(pricing_server):
    pricing_server.requests.clear()
    pricing_server.throttled = 0
    return pricing_server


def pricing_client(fake):
    return boto3.client("pricing", region_name="us-east-1", endpoint_url=fake.url, **CREDS)


def launch(clients, region, instance_type, count=1, spot=False):
    ec2 = clients("ec2", region)
    kwargs = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    return [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-12345678", InstanceType=instance_type, MinCount=count, MaxCount=count, **kwargs
        )["Instances"]
    ]


def by(metrics, name, **tags):
    found = [x.value for x in metrics if x.name == name and all(x.tag(k) == v for k, v in tags.items())]
    return found[0] if len(found) == 1 else found


def record(metrics):
    for x in metrics:
        assert m.problem(x) is None, x
        PRODUCED.add(x.name)
    return metrics


def test_instances_gpus_idle_ebs_and_cost(clients, pricing, moto_url):
    requests.post(
        moto_url + "/moto-api/static/ce/cost-and-usage-results",
        json={
            "results": [
                {
                    "ResultsByTime": [
                        {
                            "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-27"},
                            "Total": {"UnblendedCost": {"Amount": "1234.5", "Unit": "USD"}},
                            "Groups": [],
                            "Estimated": True,
                        }
                    ]
                }
            ]
        },
    )
    ids = launch(clients, "us-east-1", "p4d.24xlarge", 2)
    launch(clients, "us-east-1", "t3.large", 3)
    launch(clients, "us-east-1", "t3.large", 1, spot=True)
    stopped = launch(clients, "us-east-1", "t3.large")
    clients("ec2", "us-east-1").stop_instances(InstanceIds=stopped)
    launch(clients, "us-west-2", "g5.xlarge")
    ec2 = clients("ec2", "us-east-1")
    attached = ec2.create_volume(AvailabilityZone="us-east-1a", Size=100)
    ec2.attach_volume(VolumeId=attached["VolumeId"], InstanceId=ids[0], Device="/dev/sdf")
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=500)  # forgotten: waste
    ec2.create_snapshot(VolumeId=attached["VolumeId"])
    now = datetime.now(UTC)
    cw = clients("cloudwatch", "us-east-1")
    for instance, cpu in ((ids[0], 1.5), (ids[1], 87.0)):  # one idle p4d, one busy
        cw.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                    "Timestamp": now - timedelta(minutes=10),
                    "Value": cpu,
                    "Unit": "Percent",
                }
            ],
        )
    ce = CostExplorer(clients("ce", "us-east-1"))
    collector = Ec2Collector(clients, ["us-east-1", "us-west-2"], Prices(pricing_client(pricing), {}), ce)
    out = record(collector.collect(now))
    east = {"region": "us-east-1"}
    assert by(out, "ec2.instances.total", **east) == 7
    assert by(out, "ec2.instances.running", **east) == 6
    assert by(out, "ec2.instances.stopped", **east) == 1
    assert by(out, "ec2.instances.spot", **east) == 1
    # The seed's names and meanings: vCPUs and GPUs of running instances (describe_instance_types).
    assert by(out, "ec2.instances.cpu_count", **east) == 2 * 96 + 4 * 2
    assert by(out, "ec2.instances.gpu_count", accelerator="a100", **east) == 16
    assert by(out, "ec2.instances.gpu_count", accelerator="a10g", region="us-west-2") == 1
    assert not {"ec2.instances.gpus_running", "ec2.instances.vcpus_running"} & {x.name for x in out}
    assert by(out, "ec2.instances.idle", **east) == 1  # measured: 2; idle: 1
    assert by(out, "ec2.instances.cpu_measured", **east) == 2
    assert by(out, "ec2.ebs.volumes.unattached_size_gb", **east) == 500
    assert by(out, "ec2.ebs.volumes.attached", **east) == 7 + 1  # moto gives each instance a root volume
    assert by(out, "ec2.ebs.snapshots.total", **east) == 1
    hourly_east = by(out, "ec2.cost.running_hourly_estimate", **east)
    assert hourly_east == pytest.approx(2 * 32.7726 + 3 * 0.0832 + 0.00001)  # moto's spot price
    assert by(out, "ec2.cost.spot_savings_pct", **east) == pytest.approx(100 * (1 - 0.00001 / 0.0832))
    assert by(out, "ec2.cost.monthly_estimate") == pytest.approx((hourly_east + 1.006) * 730)
    assert by(out, "ec2.cost.unpriced_instances", **east) == 0
    assert pricing.requests["/"] == 3  # one GetProducts per (type, region)
    collector.collect(now)
    assert pricing.requests["/"] == 3  # cached for a day
    assert ce.calls == 1  # Cost Explorer: at most every six hours
    assert by(out, "ec2.cost.month_to_date_usd") == pytest.approx(1234.5)


def test_unknown_price_is_counted_not_zero(clients, pricing):
    launch(clients, "us-east-1", "m5.large")  # not in the fake price list, no fallback
    out = record(
        Ec2Collector(clients, ["us-east-1"], Prices(pricing_client(pricing), {}), None).collect(datetime.now(UTC))
    )
    assert by(out, "ec2.cost.unpriced_instances", region="us-east-1") == 1
    assert "ec2.cost.running_hourly_estimate" not in {x.name for x in out}
    with_table = Ec2Collector(clients, ["us-east-1"], Prices(None, {"m5.large": 0.096}), None)
    out = with_table.collect(datetime.now(UTC))
    assert by(out, "ec2.cost.running_hourly_estimate", region="us-east-1") == pytest.approx(0.096)


def test_a_failing_region_emits_nothing_for_itself(clients, pricing, moto_url):
    launch(clients, "us-east-1", "t3.large")

    def broken(service, region):
        if region == "eu-west-1":
            return boto3.client(service, region_name=region, endpoint_url="http://127.0.0.1:9", **CREDS)
        return clients(service, region)

    out = record(
        Ec2Collector(broken, ["us-east-1", "eu-west-1"], Prices(pricing_client(pricing), {}), None).collect(
            datetime.now(UTC)
        )
    )
    assert {x.tag("region") for x in out if x.name.startswith("ec2.")} == {"us-east-1"}
    errors = sorted((x.tag("reason"), x.tag("region")) for x in out if x.name == "orgpulse.collector.errors")
    assert errors == [("ebs_failed", "eu-west-1"), ("instances_failed", "eu-west-1")]
    assert "ec2.cost.monthly_estimate" not in {x.name for x in out}  # not a partial bill


def test_no_monthly_estimate_while_anything_is_unpriced(clients):
    # One p5.48xlarge with no Pricing answer and no fallback entry.
    launch(clients, "us-east-1", "p5.48xlarge")
    out = record(Ec2Collector(clients, ["us-east-1"], Prices(None, {}), None).collect(datetime.now(UTC)))
    assert by(out, "ec2.cost.unpriced_instances", region="us-east-1") == 1
    assert "ec2.cost.monthly_estimate" not in {x.name for x in out}  # was 0.0
    # us-east-1 priced at $1/h, us-west-2 unpriced: no total (was 730).
    launch(clients, "us-west-2", "c5.large")
    out = record(
        Ec2Collector(clients, ["us-east-1", "us-west-2"], Prices(None, {"p5.48xlarge": 1.0}), None).collect(
            datetime.now(UTC)
        )
    )
    assert by(out, "ec2.cost.running_hourly_estimate", region="us-east-1") == 1.0
    assert by(out, "ec2.cost.unpriced_instances", region="us-west-2") == 1
    assert "ec2.cost.monthly_estimate" not in {x.name for x in out}


def test_a_pricing_failure_is_retried_within_minutes(clients, pricing):
    launch(clients, "us-east-1", "t3.large")
    clock = [1_000_000.0]
    once = boto3.client(
        "pricing",
        region_name="us-east-1",
        endpoint_url=pricing.url,
        config=Config(retries={"total_max_attempts": 1}),
        **CREDS,
    )
    collector = Ec2Collector(clients, ["us-east-1"], Prices(once, {}, clock=lambda: clock[0]), None)
    pricing.throttled = 1
    out = record(collector.collect(datetime.now(UTC)))
    assert by(out, "ec2.cost.unpriced_instances", region="us-east-1") == 1
    assert by(out, "orgpulse.collector.errors", reason="pricing_failed", region="us-east-1") == 1
    assert "ec2.cost.running_hourly_estimate" not in {x.name for x in out}
    clock[0] += 10 * 60  # the next cycle: asked again, not silenced for a day
    out = record(collector.collect(datetime.now(UTC)))
    assert by(out, "ec2.cost.running_hourly_estimate", region="us-east-1") == pytest.approx(0.0832)
    assert pricing.requests["/"] == 2 and "orgpulse.collector.errors" not in {x.name for x in out}


@pytest.fixture(scope="module")
def proxy(moto_url):
    fake = FakeAwsProxy(moto_url)
    yield fake
    fake.close()


def test_spot_price_is_the_current_price_in_the_instance_zone(clients, pricing, proxy):
    # Zone a $9 now, zone b $20 now (each cheaper earlier): an instance in b costs $20.
    ec2 = clients("ec2", "us-east-1")
    ec2.run_instances(
        ImageId="ami-12345678",
        InstanceType="p4d.24xlarge",
        MinCount=1,
        MaxCount=1,
        InstanceMarketOptions={"MarketType": "spot"},
        Placement={"AvailabilityZone": "us-east-1b"},
    )
    now = datetime.now(UTC)
    proxy.spot_history = [
        ("p4d.24xlarge", "us-east-1a", 9.0, now - timedelta(minutes=10)),
        ("p4d.24xlarge", "us-east-1b", 20.0, now - timedelta(minutes=10)),
        ("p4d.24xlarge", "us-east-1a", 25.0, now - timedelta(minutes=50)),
        ("p4d.24xlarge", "us-east-1b", 7.0, now - timedelta(minutes=50)),
    ]

    def via_proxy(service, region):
        if service != "ec2":
            return clients(service, region)
        return boto3.client("ec2", region_name=region, endpoint_url=proxy.url, **CREDS)

    out = record(Ec2Collector(via_proxy, ["us-east-1"], Prices(pricing_client(pricing), {}), None).collect(now))
    assert by(out, "ec2.cost.running_hourly_estimate", region="us-east-1") == pytest.approx(20.0)
    assert by(out, "ec2.cost.spot_savings_pct", region="us-east-1") == pytest.approx(100 * (1 - 20 / 32.7726))


def test_month_to_date_is_this_months_or_nothing(clients, moto_url, proxy):
    # After midnight on the 1st, never last month's total; a failed refresh says so.
    requests.post(
        moto_url + "/moto-api/static/ce/cost-and-usage-results",
        json={
            "results": [
                {"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}, "Estimated": True}]}
                for amount in ("1234.5", "3.25")
            ]
        },
    )
    ce = CostExplorer(
        boto3.client(
            "ce",
            region_name="us-east-1",
            endpoint_url=proxy.url,
            config=Config(retries={"total_max_attempts": 1}),
            **CREDS,
        )
    )
    collector = Ec2Collector(clients, [], Prices(None, {}), ce)
    november = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert by(record(collector.collect(november)), "ec2.cost.month_to_date_usd") == pytest.approx(1234.5)
    proxy.fail("/", (500, {}, 0))
    out = record(collector.collect(november + timedelta(hours=2, minutes=5)))  # Dec 1, 00:05
    assert "ec2.cost.month_to_date_usd" not in {x.name for x in out}
    assert by(out, "orgpulse.collector.errors", reason="cost_explorer_failed") == 1
    out = record(collector.collect(november + timedelta(hours=2, minutes=20)))  # the next cycle
    assert by(out, "ec2.cost.month_to_date_usd") == pytest.approx(3.25)
    assert ce.calls == 3


@pytest.fixture
def refusing(proxy, clients):
    """EC2 through the proxy, which refuses the actions in `proxy.refused` (an IAM gap: every
    cycle, not retried); other services straight to moto."""

    def via_proxy(service, region):
        if service != "ec2":
            return clients(service, region)
        return boto3.client("ec2", region_name=region, endpoint_url=proxy.url, **CREDS)

    proxy.refused.clear()
    proxy.spot_history = []
    yield via_proxy
    proxy.refused.clear()


def put_cpu(clients, instance, cpu, now):
    clients("cloudwatch", "us-east-1").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                "Timestamp": now - timedelta(minutes=10),
                "Value": cpu,
                "Unit": "Percent",
            }
        ],
    )


def errors_of(out):
    return sorted((x.tag("reason"), x.tag("region")) for x in out if x.name == "orgpulse.collector.errors")


def test_a_failing_spot_price_call_leaves_spot_unpriced_and_the_rest_measured(clients, pricing, proxy, refusing):
    # Once, describe_spot_price_history failing took every instance figure of
    # the region with it (it ran inside the instances part, unguarded).
    now = datetime.now(UTC)
    ids = launch(clients, "us-east-1", "p4d.24xlarge", 2)
    launch(clients, "us-east-1", "t3.large", 1, spot=True)
    put_cpu(clients, ids[0], 1.5, now)
    proxy.refused.add("DescribeSpotPriceHistory")
    out = record(Ec2Collector(refusing, ["us-east-1"], Prices(pricing_client(pricing), {}), None).collect(now))
    east = {"region": "us-east-1"}
    assert errors_of(out) == [("spot_prices_failed", "us-east-1")]
    assert by(out, "ec2.instances.running", **east) == 3 and by(out, "ec2.instances.spot", **east) == 1
    assert by(out, "ec2.instances.cpu_count", **east) == 2 * 96 + 2
    assert by(out, "ec2.instances.gpu_count", accelerator="a100", **east) == 16
    assert by(out, "ec2.instances.idle", **east) == 1
    assert by(out, "ec2.cost.unpriced_instances", **east) == 1  # the spot one, this cycle
    assert not {"ec2.cost.running_hourly_estimate", "ec2.cost.monthly_estimate", "ec2.cost.spot_savings_pct"} & {
        x.name for x in out
    }  # no partial bill


def test_a_failing_instance_type_call_leaves_only_vcpus_and_gpus_absent(clients, pricing, proxy, refusing):
    now = datetime.now(UTC)
    ids = launch(clients, "us-east-1", "p4d.24xlarge", 2)
    put_cpu(clients, ids[0], 1.5, now)
    proxy.refused.add("DescribeInstanceTypes")
    collector = Ec2Collector(refusing, ["us-east-1"], Prices(pricing_client(pricing), {}), None)
    out = record(collector.collect(now))
    east = {"region": "us-east-1"}
    assert errors_of(out) == [("instance_types_failed", "us-east-1")]
    assert by(out, "ec2.instances.running", **east) == 2 and by(out, "ec2.instances.idle", **east) == 1
    assert by(out, "ec2.cost.running_hourly_estimate", **east) == pytest.approx(2 * 32.7726)
    assert not {"ec2.instances.cpu_count", "ec2.instances.gpu_count", "ec2.instances.gpu_instances"} & {
        x.name for x in out
    }  # unknown, not 0
    proxy.refused.clear()  # the next cycle
    out = record(collector.collect(now))
    assert errors_of(out) == [] and by(out, "ec2.instances.gpu_count", accelerator="a100", **east) == 16


def test_a_gpu_type_gone_from_one_region_reads_zero_while_another_region_fails_every_cycle(
    clients, pricing, proxy, refusing, emitter, statsd
):
    # Once, any error in the collector held back every zero, so with spot prices
    # refused in us-west-2 for good, terminated A100s in us-east-1 stayed at 16 on dashboards.
    ids = launch(clients, "us-east-1", "p4d.24xlarge", 2)
    launch(clients, "us-west-2", "g5.xlarge", 1, spot=True)
    proxy.refused.add("DescribeSpotPriceHistory")

    def west_refused(service, region):
        return (refusing if region == "us-west-2" else clients)(service, region)

    ec2 = Ec2Collector(west_refused, ["us-east-1", "us-west-2"], Prices(pricing_client(pricing), {}), None)
    poller = Poller({"ec2": Collector("ec2", ec2.collect)}, emitter, ValueStore())
    poller.run_once()
    clients("ec2", "us-east-1").terminate_instances(InstanceIds=ids)
    statsd.clear()
    poller.run_once()
    got = lines(emitter, statsd)
    assert {
        (x.tag_map["accelerator"], x.tag_map["region"]): x.value for x in got if x.name == "ec2.instances.gpu_count"
    } == {("a100", "us-east-1"): 0, ("a10g", "us-west-2"): 1}
    assert {(x.tag_map["reason"], x.tag_map.get("region")) for x in got if x.name == "orgpulse.collector.errors"} == {
        ("spot_prices_failed", "us-west-2")
    }
