"""Deduplication shared by replicas through a real redis-server with many replicas:
a redelivery that lands on another replica is a duplicate there; a failed delivery is
released for all; Redis stopped or frozen mid-run costs a bounded wait and a counted
fallback, never a lost or refused delivery."""

from __future__ import annotations

import json
import uuid

import pytest

from orgpulse import config, redisconn
from receiver.dedup import Dedup, SharedDedup, redis_key
from tests.conftest import GITHUB
from tests.support.inprocess import Receiver, own, source_lines

pytestmark = pytest.mark.peers
TTL = 72 * 3600


@pytest.fixture
def redis_db(redis_server):
    import redis

    redis_server.thaw_and_start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    redis_server.thaw_and_start()  # a test may have stopped or frozen it
    client.close()


@pytest.fixture
def replicas(tmp_path, redis_server, redis_db):
    config = tmp_path / "orgpulse.json"
    config.write_text(json.dumps({"receiver": {"dedup_backend": "redis"}}))
    env = {"ORGPULSE_CONFIG": str(config), "ORGPULSE_REDIS_URL": redis_server.url}
    return Receiver(tmp_path / "a", env), Receiver(tmp_path / "b", env)


PR = (GITHUB / "pull_request/opened.payload.json").read_bytes()
ASANA = b'{"events": [{"action": "deleted", "resource": {"gid": "1201", "resource_type": "task"}}]}'
WANDB = b'{"event_type": "RUN_STATE", "entity": "e", "project": "p", "run_state": "failed"}'


def test_a_redelivery_on_another_replica_is_a_duplicate(replicas):
    a, b = replicas
    delivery = str(uuid.uuid4())
    assert a.github(PR, "pull_request", delivery).json["result"] == "accepted"
    assert b.github(PR, "pull_request", delivery).json == {"result": "duplicate", "delivery": delivery, "emitted": []}
    assert a.asana(ASANA).json["result"] == "accepted"
    assert b.asana(ASANA).json["result"] == "duplicate"  # Asana's retry: no id, the same body
    assert b.wandb(WANDB).json["result"] == "accepted"
    assert a.wandb(WANDB).json["result"] == "duplicate"
    assert [x.name for x in source_lines(b.lines())] == ["wandb.runs.state_changes"]
    assert own(a.lines(), "dedup_fallbacks") == []


def test_the_claim_expires_after_the_dedup_ttl(replicas, redis_db):
    a, _ = replicas
    delivery = str(uuid.uuid4())
    a.github(PR, "pull_request", delivery)
    assert TTL - 5 <= redis_db.ttl(redis_key("github:" + delivery)) <= TTL


def test_a_failed_delivery_is_released_for_every_replica(replicas):
    a, b = replicas
    delivery = str(uuid.uuid4())
    broken = json.dumps({"action": "opened"}).encode()  # no pull_request: 400, released
    assert a.github(broken, "pull_request", delivery).status_code == 400
    assert b.github(PR, "pull_request", delivery).json["result"] == "accepted"


def test_redis_stopped_mid_run_deliveries_are_handled_and_counted(replicas, redis_server):
    a, _ = replicas
    redis_server.stop()
    first, again = str(uuid.uuid4()), None
    response = a.github(PR, "pull_request", first)
    assert (response.status_code, response.json["result"]) == (200, "accepted")
    again = a.github(PR, "pull_request", first)  # this replica still remembers it
    assert again.json["result"] == "duplicate"
    assert a.github(PR, "pull_request").json["result"] == "accepted"
    reasons = [t["reason"] for t in own(a.lines(), "dedup_fallbacks")]
    # The first call failed; then Redis is left alone for RETRY_AFTER (no wait per delivery).
    assert reasons == ["error", "skipped"]


def test_a_frozen_redis_costs_one_short_timeout(replicas, redis_server):
    a, _ = replicas
    a.github(PR, "pull_request")  # a pooled connection exists before the freeze
    redis_server.freeze()
    response = a.github(PR, "pull_request")
    assert (response.status_code, response.json["result"]) == (200, "accepted")
    assert [t["reason"] for t in own(a.lines(), "dedup_fallbacks")] == ["timeout"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_shared_dedup_uses_redis_again_after_the_outage(redis_server, redis_db, tmp_path):
    clock, reasons = Clock(), []
    client = redisconn.client(config.load({"ORGPULSE_REDIS_URL": redis_server.url, "ORGPULSE_DATA_DIR": str(tmp_path)}))
    shared = SharedDedup(client, Dedup(TTL, 1000), TTL, reasons.append, clock, retry_after=5)
    other = SharedDedup(client, Dedup(TTL, 1000), TTL, reasons.append, clock)
    redis_server.stop()
    assert shared.claim("k1")  # handled alone, counted
    redis_server.start()
    clock.now = 4.9
    assert shared.claim("k2") and reasons == ["error", "skipped"]
    clock.now = 5.1  # Redis is asked again
    assert shared.claim("k3")
    assert not other.claim("k3")  # shared once more
    assert reasons == ["error", "skipped"]
    shared.release("k3")
    assert other.claim("k3")  # released for every replica


DEPLOYED = (GITHUB / "deployment_status/payload.json").read_bytes()


def _review_by_another() -> bytes:
    """octokit's submitted review is the PR author's own (not a review): a colleague's instead."""
    payload = json.loads((GITHUB / "pull_request_review/submitted.payload.json").read_bytes())
    payload["review"]["user"] = {**payload["review"]["user"], "id": 1, "login": "a-colleague"}
    return json.dumps(payload).encode()


REVIEWED = _review_by_another()


def test_once_only_facts_count_once_across_replicas(replicas):
    """A deployment's second success status, or the same first review under a new delivery id,
    reaching the other replica is not counted again there (GithubContext.recall's shared claim)."""
    a, b = replicas
    assert "dora.deployments" in a.github(DEPLOYED, "deployment_status").json["emitted"]
    assert "dora.deployments" not in b.github(DEPLOYED, "deployment_status").json["emitted"]
    first = a.github(REVIEWED, "pull_request_review").json["emitted"]
    again = b.github(REVIEWED, "pull_request_review").json["emitted"]
    assert "github.prs.time_to_first_review" in first
    assert "github.prs.time_to_first_review" not in again and "github.prs.reviews" in again
