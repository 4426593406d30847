"""The demo's world: the project's own wire-level fakes (tests/fakes/) and moto's EC2 server,
seeded with a small organisation around the current time, and kept moving (tick()).

Nothing here reaches a network: every fake listens on 127.0.0.1, every credential is a
made-up string the fakes expect. The orgpulse processes find them through the variables
of `env` and the YAML of `options`, the same way they find the real services.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes.asana_api import FakeAsana
from tests.fakes.aws_pricing import FakePricing
from tests.fakes.github_dora import DoraGithub
from tests.fakes.kube_api import FakeKube
from tests.fakes.skypilot_api import FakeSkyPilot
from tests.fakes.wandb_api import FakeWandb
from tests.support.dora_history import History
from tests.support.github_history import commit, generated, run
from tests.support.k8s_pods import container_status, oom, pod

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REPOSITORIES = ["demo-org/api", "demo-org/trainer"]
WANDB_PROJECT = ("ml-org", "trainer")
REGIONS = ["us-east-1", "us-west-2"]
CREDS = {"aws_access_key_id": "demo", "aws_secret_access_key": "demo"}


def iso(t: datetime, millis: bool = False) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%SZ")


def seed_github(fake: DoraGithub, now: datetime) -> None:
    for i, repo in enumerate(REPOSITORIES):
        state = generated(fake, repo, now, prs=60 + 90 * i, runs_per_day=12, commits=60)
        # five weeks of changes, production deployments (some failed, a rollback) and incidents
        History(fake, repo, seed=3 + i).walk(now - timedelta(days=35), now - timedelta(hours=1))
        state["commits"][:0] = [
            commit("f" * 39 + str(i), now, -3, "hotfix: guard empty batch"),
            commit("e" * 39 + str(i), now, -20, 'Revert "Enable fused kernels"'),
        ]
        state["runs"] += [
            run(9000 + i, now, conclusion="failure", created_h=-1.5, repo=repo),
            run(9100 + i, now, name="Benchmarks", conclusion="success", created_h=-5, repo=repo),
            run(9200 + i, now, conclusion="success", attempt=2, created_h=-8, repo=repo),
        ]


def seed_asana(fake: FakeAsana, now: datetime) -> None:
    def task(gid, projects, days_done=None, created=-10, due=None, section="Backlog"):
        at = lambda days: iso(now + timedelta(days=days), millis=True)  # noqa: E731
        return {
            "gid": gid,
            "completed": days_done is not None,
            "created_at": at(created),
            "completed_at": at(days_done) if days_done is not None else None,
            "modified_at": at(-1),
            "due_on": (now + timedelta(days=due)).date().isoformat() if due is not None else None,
            "due_at": None,
            "assignee": {"gid": "u1"},
            "memberships": [{"project": {"gid": p, "name": "x"}, "section": {"name": section}} for p in projects],
        }

    fake.projects.update(
        {
            "1100": {"gid": "1100", "name": "Bugs", "current_status_update": {"status_type": "at_risk"}},
            "1900": {"gid": "1900", "name": "Trainer", "current_status_update": {"status_type": "on_track"}},
            "1300": {"gid": "1300", "name": "Infra", "current_status_update": {"status_type": "on_track"}},
        }
    )
    # The stored Asana deliveries are about tasks 1201 and 1205: the receiver's enrichment reads them.
    fake.tasks.update(json.loads((FIXTURES / "asana" / "api_objects.json").read_text())["tasks"])
    tasks = [
        task("1206", ["1900"], due=0),
        task("1207", ["1300"], due=3),
        task("1208", ["1900"], due=-2),
        task("1301", ["1100"], section="Triage", created=-6),
        task("1302", ["1100"], section="In progress", created=-25),
    ]
    tasks += [task(str(1400 + k), ["1300"], due=k % 9 - 4, created=-k) for k in range(24)]
    fake.tasks.update({t["gid"]: t for t in tasks})


def seed_wandb(fake: FakeWandb, now: datetime) -> None:
    h = lambda hours: (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    gpus = lambda n, util: {f"system.gpu.{i}.gpu": util for i in range(n)}  # noqa: E731
    entity, project = WANDB_PROJECT
    for k in range(9):
        state = "failed" if k in (2, 6) else "finished"
        fake.add(
            entity,
            project,
            f"r{k}",
            f"github.sky.main.{100 + k}",
            state,
            h(-18 * k - 6),
            h(-18 * k - 1),
            {"accuracy": 0.70 + k / 100, "loss": 0.45 - k / 100, "overview/sps": 20000 + 500 * k},
            gpus(4, 60.0 + 3 * k),
        )
    fake.add(entity, project, "live", "lr-sweep.3", "running", h(-2), h(-0.05), {"overview/sps": 23500}, gpus(8, 91.0))


def seed_skypilot(fake: FakeSkyPilot, now: datetime) -> None:
    t, hour = now.timestamp(), 3600

    def job(job_id, status, submitted, start=None, end=None, **kw):
        return {
            "job_id": job_id,
            "status": status,
            "submitted_at": t + submitted,
            "start_at": t + start if start is not None else None,
            "end_at": t + end if end is not None else None,
            "user_hash": kw.get("user", "u1"),
            "accelerators": kw.get("acc"),
            "region": kw.get("region", "us-east-1"),
            "cluster_resources": kw.get("res", "1x AWS(p5.48xlarge)"),
            "recovery_count": kw.get("rec", 0),
        }

    fake.jobs = [
        job(1, "RUNNING", -4 * hour, -3 * hour, acc={"H100": 8}, rec=1, user="u1"),
        job(
            2,
            "RUNNING",
            -2 * hour,
            -1 * hour,
            acc={"A10G": 1},
            region="us-west-2",
            user="u2",
            res="1x AWS(g5.xlarge)[Spot]",
        ),
        job(3, "PENDING", -900, user="u3"),
        job(4, "SUCCEEDED", -40 * hour, -30 * hour, -20 * hour, acc={"H100": 8}),
        job(5, "FAILED_SETUP", -3 * hour, -2 * hour, -hour),
        job(6, "CANCELLED", -2 * hour, -hour, -1800),
    ]
    fake.clusters = [
        {"name": "dev-a", "status": "UP", "nodes": 2, "resources_str": "2x AWS(p4d.24xlarge, {'A100': 8})"},
        {"name": "dev-b", "status": "STOPPED", "nodes": 1, "resources_str": "1x AWS(g5.xlarge, {'A10G': 1})"},
    ]


def seed_kubernetes(fake: FakeKube) -> None:
    for ns, name, n in (("ml", "trainer-7d9f8b6c5d", 4), ("web", "api-5c8d7f9b4", 6), ("data", "etl-6b7c8d9f5", 3)):
        for i in range(n):
            fake.put(
                pod(
                    name=f"{name}-{i}x{ns[0]}q",
                    namespace=ns,
                    owner=("ReplicaSet", name),
                    template_hash=name.rsplit("-", 1)[1],
                    cpu="2" if ns == "ml" else "250m",
                    memory="8Gi" if ns == "ml" else "512Mi",
                    gpus=2 if ns == "ml" else None,
                )
            )
    fake.node_list["items"] = [
        {
            "metadata": {"name": f"gpu-{i}"},
            "status": {"allocatable": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": "8"}},
        }
        for i in range(2)
    ]
    fake.deployment_list["items"] = [
        {
            "metadata": {"namespace": "ml", "name": "trainer"},
            "spec": {"replicas": 4},
            "status": {"availableReplicas": 4},
        },
        {
            "metadata": {"namespace": "web", "name": "api"},
            "spec": {"replicas": 6},
            "status": {"availableReplicas": 5, "unavailableReplicas": 1},
        },
    ]
    fake.metrics_list["items"] = [
        {
            "metadata": {"namespace": ns, "name": f"m-{ns}"},
            "containers": [{"name": "main", "usage": {"cpu": cpu, "memory": mem}}],
        }
        for ns, cpu, mem in (("ml", "5", "20Gi"), ("web", "600m", "2Gi"), ("data", "300m", "1Gi"))
    ]


def seed_ec2(moto_url: str, now: datetime) -> None:
    import boto3
    import requests

    requests.post(
        moto_url + "/moto-api/static/ce/cost-and-usage-results",
        json={
            "results": [
                {
                    "ResultsByTime": [
                        {
                            "TimePeriod": {"Start": now.strftime("%Y-%m-01"), "End": now.strftime("%Y-%m-%d")},
                            "Total": {"UnblendedCost": {"Amount": "18240.5", "Unit": "USD"}},
                            "Groups": [],
                            "Estimated": True,
                        }
                    ]
                }
            ]
        },
        timeout=10,
    )
    for region, fleet in (("us-east-1", [("p4d.24xlarge", 2), ("t3.large", 5)]), ("us-west-2", [("g5.xlarge", 3)])):
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto_url, **CREDS)
        cw = boto3.client("cloudwatch", region_name=region, endpoint_url=moto_url, **CREDS)
        for itype, count in fleet:
            ids = [
                i["InstanceId"]
                for i in ec2.run_instances(ImageId="ami-12345678", InstanceType=itype, MinCount=count, MaxCount=count)[
                    "Instances"
                ]
            ]
            for k, instance in enumerate(ids):  # one idle instance of each kind, the rest busy
                cw.put_metric_data(
                    Namespace="AWS/EC2",
                    MetricData=[
                        {
                            "MetricName": "CPUUtilization",
                            "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                            "Timestamp": now - timedelta(minutes=10),
                            "Value": 2.0 if k == 0 else 65.0,
                            "Unit": "Percent",
                        }
                    ],
                )
        zone = region + "a"
        ec2.create_volume(AvailabilityZone=zone, Size=500)  # forgotten, unattached
        ec2.create_snapshot(VolumeId=ec2.create_volume(AvailabilityZone=zone, Size=100)["VolumeId"])


class World:
    """Every fake, seeded; env and options for the orgpulse processes; tick() moves it on."""

    def __init__(self, data_dir: Path):
        os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"  # configures the moto peer (fewer AMIs)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server: no line per request
        from moto.server import ThreadedMotoServer

        now = datetime.now(UTC)
        self.github, self.asana, self.wandb = DoraGithub(), FakeAsana(), FakeWandb()
        self.skypilot, self.kube = FakeSkyPilot(), FakeKube()
        self.pricing = FakePricing(
            {
                ("p4d.24xlarge", "US East (N. Virginia)"): 32.7726,
                ("t3.large", "US East (N. Virginia)"): 0.0832,
                ("g5.xlarge", "US West (Oregon)"): 1.006,
            }
        )
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        seed_github(self.github, now)
        seed_asana(self.asana, now)
        seed_wandb(self.wandb, now)
        seed_skypilot(self.skypilot, now)
        seed_kubernetes(self.kube)
        seed_ec2(self.moto_url, now)
        self.kubeconfig = data_dir / "kubeconfig.yaml"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: demo\n"
            f"clusters: [{{name: demo, cluster: {{server: '{self.kube.url}'}}}}]\n"
            "users: [{name: demo, user: {token: demo}}]\n"
            "contexts: [{name: demo, context: {cluster: demo, user: demo, namespace: default}}]\n"
        )
        self.restarts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.secrets = {"GITHUB_WEBHOOK_SECRET": secrets.token_hex(16), "WANDB_WEBHOOK_TOKEN": secrets.token_hex(16)}

    def env(self) -> dict[str, str]:
        """What the orgpulse processes need to find every fake (the services' own variables)."""
        return {
            **self.secrets,
            "GITHUB_TOKEN": self.github.token,
            "GITHUB_API_URL": self.github.url,
            "ASANA_ACCESS_TOKEN": self.asana.token,
            "ASANA_BASE_URL": self.asana.base_url,
            "WANDB_API_KEY": "d" * 40,
            "WANDB_BASE_URL": self.wandb.url,
            "SKYPILOT_API_SERVER_ENDPOINT": self.skypilot.url,
            "SKYPILOT_SERVICE_ACCOUNT_TOKEN": self.skypilot.token,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_PRICING": self.pricing.url,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "KUBECONFIG": str(self.kubeconfig),
        }

    @staticmethod
    def options(interval: int) -> dict:
        return {
            "github": {"repositories": REPOSITORIES, "request_interval_seconds": 0},
            "asana": {"workspace": "1", "bugs_project": "1100", "requests_per_minute": 6000},
            "wandb": {
                "projects": ["/".join(WANDB_PROJECT)],
                "run_classes": {"push_to_main": r"^github\.sky\.", "sweep": "sweep"},
            },
            "aws": {"regions": REGIONS},
            "skypilot": {"regions": REGIONS, "gpu_prices": {"H100": 4.10, "A10G": 1.01, "A100": 2.9}},
            "kubernetes": {"gauge_interval_seconds": 5, "watch_timeout_seconds": 60},
            "poller": {"interval_seconds": interval, "collector_timeout_seconds": 60},
        }

    def tick(self, rng: random.Random) -> None:
        """Something happens in the cluster: a container restarts (now and then OOM-killed)."""
        with self._lock:
            target = rng.choice(sorted(self.kube.objects))
            current = self.kube.objects[target]
            self.restarts[target] = self.restarts.get(target, 0) + 1
            now = iso(datetime.now(UTC))
            killed = (
                oom(now)
                if rng.random() < 0.3
                else {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": now,
                        "finishedAt": now,
                        "containerID": f"containerd://{target}{self.restarts[target]}",
                    }
                }
            )
            current["status"]["containerStatuses"] = [container_status("main", self.restarts[target], last=killed)]
            self.kube.put(current)

    def close(self) -> None:
        for fake in (self.github, self.asana, self.wandb, self.skypilot, self.kube, self.pricing):
            fake.close()
        self.moto.stop()
