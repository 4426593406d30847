"""EC2: instances, vCPUs and GPUs, idle instances, EBS, and cost — every configured region.

No guesses (the old collectors read them from the type's name): vCPUs and GPUs come from
describe_instance_types (cached), not from the type's name; idle is measured
(CloudWatch CPUUtilization averaged over the last hour, in GetMetricData
batches); lists are paginated; cost comes from real prices (aws_prices.py).
A region or a part that fails emits nothing for itself plus an error count; a
call that only some figures need (instance types: vCPUs and GPUs; spot price
history: spot instances' prices) takes only those figures with it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orgpulse import metrics as m
from pollers.ec2.prices import CostExplorer, Prices, spot_prices

log = logging.getLogger("orgpulse.ec2")
GIB = 1.0
HOURS_PER_MONTH = 730
CW_BATCH = 500  # GetMetricData's limit on queries per call


def error(reason: str, **tags) -> m.Metric:
    return m.count("orgpulse.collector.errors", collector="ec2", reason=reason, **tags)


class Ec2Collector:
    def __init__(
        self,
        clients: Callable[[str, str], Any],
        regions: list[str],
        prices: Prices,
        cost_explorer: CostExplorer | None,
        idle_cpu_pct: float = 5.0,
    ):
        self.clients = clients  # (service, region) -> boto3 client
        self.regions = regions
        self.prices = prices
        self.cost_explorer = cost_explorer
        self.idle_cpu_pct = idle_cpu_pct
        self._types: dict[str, dict] = {}  # instance type -> {vcpus, gpus, accelerator}

    def collect(self, now: datetime) -> list[m.Metric]:
        out: list[m.Metric] = []
        for region in self.regions:
            for name, part in (("instances", self._instances), ("ebs", self._ebs)):
                try:
                    out += part(region, now)
                except Exception as exc:  # noqa: BLE001 - this region's part is unmeasured
                    log.warning("ec2 part failed", extra={"region": region, "part": name, "error": type(exc).__name__})
                    out.append(error(f"{name}_failed", region=region))
        # The monthly total only when every region priced every instance: a region
        # failed or unpriced would make it a partial sum that understates the bill.
        hourly = [x.value for x in out if x.name == "ec2.cost.running_hourly_estimate"]
        if self.regions and len(hourly) == len(self.regions):
            out.append(m.gauge("ec2.cost.monthly_estimate", sum(hourly) * HOURS_PER_MONTH))
        return out + self._spend(now)

    # ---------------------------------------------------------- instances
    def _type_info(self, ec2, types: set[str]) -> None:
        missing = sorted(t for t in types if t not in self._types)
        for i in range(0, len(missing), 100):
            for page in ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=missing[i : i + 100]):
                for t in page["InstanceTypes"]:
                    gpus = (t.get("GpuInfo") or {}).get("Gpus") or []
                    self._types[t["InstanceType"]] = {
                        "vcpus": t["VCpuInfo"]["DefaultVCpus"],
                        "gpus": sum(g.get("Count", 0) for g in gpus),
                        "accelerator": (gpus[0].get("Name") or "unknown").lower() if gpus else None,
                    }

    def _instances(self, region: str, now: datetime) -> list[m.Metric]:
        ec2 = self.clients("ec2", region)
        instances = [
            i
            for page in ec2.get_paginator("describe_instances").paginate()
            for r in page["Reservations"]
            for i in r["Instances"]
        ]
        running = [i for i in instances if i["State"]["Name"] == "running"]
        tags = {"region": region}
        spot = [i for i in running if i.get("InstanceLifecycle") == "spot"]
        out = [
            m.gauge("ec2.instances.total", len(instances), **tags),
            m.gauge("ec2.instances.running", len(running), **tags),
            m.gauge("ec2.instances.stopped", sum(i["State"]["Name"] == "stopped" for i in instances), **tags),
            m.gauge("ec2.instances.spot", len(spot), **tags),
            m.gauge("ec2.instances.ondemand", len(running) - len(spot), **tags),
        ]
        out += self._capacity(ec2, region, instances, running)
        if running:
            ages = [(now - i["LaunchTime"]).total_seconds() / 86400 for i in running]
            out += [
                m.gauge("ec2.instances.avg_age_days", sum(ages) / len(ages), **tags),
                m.gauge("ec2.instances.oldest_age_days", max(ages), **tags),
            ]
        out += self._idle(region, running, now)
        out += self._cost(ec2, region, running, now)
        return out

    def _capacity(self, ec2, region: str, instances: list[dict], running: list[dict]) -> list[m.Metric]:
        """vCPUs and GPUs of running instances, from describe_instance_types. A failed call
        leaves them absent (and counted) for this cycle; the instance counts, idle and cost
        above and below do not need them and are still sent."""
        try:
            self._type_info(ec2, {i["InstanceType"] for i in instances})
            info = [self._types[i["InstanceType"]] for i in running]  # KeyError: a type AWS did not describe
        except Exception as exc:  # noqa: BLE001 - vCPUs/GPUs unmeasured, counts still right
            log.warning("instance types failed", extra={"region": region, "error": type(exc).__name__})
            return [error("instance_types_failed", region=region)]
        gpus: dict[str, int] = defaultdict(int)
        for t in info:
            if t["gpus"]:
                gpus[t["accelerator"]] += t["gpus"]
        tags = {"region": region}
        return [
            m.gauge("ec2.instances.cpu_count", sum(t["vcpus"] for t in info), **tags),
            m.gauge("ec2.instances.gpu_instances", sum(bool(t["gpus"]) for t in info), **tags),
        ] + [m.gauge("ec2.instances.gpu_count", n, accelerator=a, **tags) for a, n in sorted(gpus.items())]

    def _idle(self, region: str, running: list[dict], now: datetime) -> list[m.Metric]:
        try:
            cw = self.clients("cloudwatch", region)
            averages: dict[str, float] = {}
            for i in range(0, len(running), CW_BATCH):
                batch = running[i : i + CW_BATCH]
                queries = [
                    {
                        "Id": f"i{k}",
                        "ReturnData": True,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/EC2",
                                "MetricName": "CPUUtilization",
                                "Dimensions": [{"Name": "InstanceId", "Value": inst["InstanceId"]}],
                            },
                            "Period": 3600,
                            "Stat": "Average",
                        },
                    }
                    for k, inst in enumerate(batch)
                ]
                resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=now - timedelta(hours=1), EndTime=now)
                for result in resp["MetricDataResults"]:
                    if result.get("Values"):
                        averages[batch[int(result["Id"][1:])]["InstanceId"]] = result["Values"][0]
        except Exception as exc:  # noqa: BLE001 - idle unmeasured: absent, not zero
            log.warning("cloudwatch failed", extra={"region": region, "error": type(exc).__name__})
            return [error("cloudwatch_failed", region=region)]
        # An instance with no datapoint in the hour is unmeasured, not idle; with none
        # measured there is no idle count at all (not a reassuring 0).
        out = [m.gauge("ec2.instances.cpu_measured", len(averages), region=region)]
        if averages:
            out.append(
                m.gauge("ec2.instances.idle", sum(v < self.idle_cpu_pct for v in averages.values()), region=region)
            )
        return out

    def _spot_prices(self, ec2, region: str, running: list[dict], now: datetime) -> tuple[dict, list[m.Metric]]:
        """Spot prices by (type, zone); a failed history call leaves every spot instance
        unpriced this cycle (so no hourly total) and is counted — the region's other
        figures stand."""
        spot_types = sorted({i["InstanceType"] for i in running if i.get("InstanceLifecycle") == "spot"})
        try:
            return spot_prices(ec2, spot_types, now), []
        except Exception as exc:  # noqa: BLE001 - unpriced, counted; asked again next cycle
            log.warning("spot prices failed", extra={"region": region, "error": type(exc).__name__})
            return {}, [error("spot_prices_failed", region=region)]

    def _cost(self, ec2, region: str, running: list[dict], now: datetime) -> list[m.Metric]:
        spot, out = self._spot_prices(ec2, region, running, now)
        hourly = on_demand_equivalent = spot_paid = 0.0
        unpriced = 0
        for i in running:
            od = self.prices.on_demand(i["InstanceType"], region)
            if i.get("InstanceLifecycle") == "spot":  # its own zone's price now
                price = spot.get((i["InstanceType"], i["Placement"]["AvailabilityZone"]))
                if price is not None and od is not None:
                    on_demand_equivalent += od
                    spot_paid += price
            else:
                price = od
            if price is None:
                unpriced += 1
                continue
            hourly += price
        tags = {"region": region}
        out.append(m.gauge("ec2.cost.unpriced_instances", unpriced, **tags))
        if unpriced == 0:  # a partial sum would understate the bill
            out.append(m.gauge("ec2.cost.running_hourly_estimate", hourly, **tags))
        if on_demand_equivalent > 0:
            out.append(m.gauge("ec2.cost.spot_savings_pct", 100 * (1 - spot_paid / on_demand_equivalent), **tags))
        if self.prices.take_failure(region):  # retried within minutes (aws_prices.FAILURE_RETRY)
            out.append(error("pricing_failed", region=region))
        return out

    # ---------------------------------------------------------- EBS
    def _ebs(self, region: str, now: datetime) -> list[m.Metric]:
        ec2 = self.clients("ec2", region)
        volumes = [v for page in ec2.get_paginator("describe_volumes").paginate() for v in page["Volumes"]]
        snapshots = [
            s for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"]) for s in page["Snapshots"]
        ]
        unattached = [v for v in volumes if v["State"] == "available"]
        tags = {"region": region}
        return [
            m.gauge("ec2.ebs.volumes.total", len(volumes), **tags),
            m.gauge("ec2.ebs.volumes.attached", sum(v["State"] == "in-use" for v in volumes), **tags),
            m.gauge("ec2.ebs.volumes.unattached", len(unattached), **tags),
            m.gauge("ec2.ebs.volumes.size_gb", sum(v["Size"] for v in volumes), **tags),
            m.gauge("ec2.ebs.volumes.unattached_size_gb", sum(v["Size"] for v in unattached), **tags),
            m.gauge("ec2.ebs.snapshots.total", len(snapshots), **tags),
            m.gauge("ec2.ebs.snapshots.size_gb", sum(s.get("VolumeSize", 0) for s in snapshots), **tags),
        ]

    # ---------------------------------------------------------- spend
    def _spend(self, now: datetime) -> list[m.Metric]:
        if self.cost_explorer is None:
            return []
        try:
            value = self.cost_explorer.month_to_date(now)
        except Exception as exc:  # noqa: BLE001 - absent and counted, never an older month's figure
            log.warning("cost explorer failed", extra={"error": type(exc).__name__})
            return [error("cost_explorer_failed")]
        return [] if value is None else [m.gauge("ec2.cost.month_to_date_usd", value)]
