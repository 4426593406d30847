"""End to end: a real gunicorn on loopback, real DogStatsD sockets, the real CLI."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orgpulse.config import Secret
from receiver.replay import github_example
from tests.conftest import GITHUB, SECRET
from tests.support.dogstatsd import udp_listener, uds_listener
from tests.support.servers import ROOT, clean_env, drain, free_port, start_gunicorn, stop, wait_http


def send(url: str, path: Path, event: str | None = None, secret: str = SECRET) -> tuple[int, dict]:
    delivery = github_example(path, event)
    request = urllib.request.Request(
        url + "/webhooks/github", data=delivery.body, headers=delivery.signed(Secret(secret)), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def agent():
    """The module's DogStatsD listener, which the shared server sends to."""
    listener = udp_listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, agent):
    """One receiver for the tests that only send it deliveries (started once: ~0.5 s)."""
    tmp = tmp_path_factory.mktemp("e2e")
    host, port = agent.address
    env = {
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "DD_ENV": "e2e",
        "ORGPULSE_MAX_BODY_BYTES": "100000",
        "ORGPULSE_DATA_DIR": str(tmp / "data"),
    }
    proc, url = start_gunicorn(env, tmp)
    yield url
    stop(proc)


def test_gunicorn_delivery_to_udp_agent(server, agent):
    status, body = send(server, GITHUB / "workflow_job/completed.success.with-organization.payload.json")
    assert status == 200 and body["emitted"][0] == "github.ci.jobs"
    jobs = agent.metrics("github.ci.jobs", wait_for=1)
    assert jobs[0].tag_map["env"] == "e2e" and jobs[0].tag_map["conclusion"] == "success"


def test_gunicorn_refuses_oversize_chunked_body(server):
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/webhooks/github")
    for key, value in {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "chunked-1",
        "X-Hub-Signature-256": "sha256=00",
        "Transfer-Encoding": "chunked",
        "Content-Type": "application/json",
    }.items():
        conn.putheader(key, value)
    conn.endheaders()
    chunk = b"x" * 50_000
    try:
        for _ in range(4):  # 200 KB > the 100 KB limit
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close as soon as it has answered 413
    assert conn.getresponse().status == 413


def test_unreachable_agent_never_fails_a_delivery(tmp_path):
    env = {
        "DD_DOGSTATSD_URL": f"unix://{tmp_path}/no-agent/dsd.socket",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "ORGPULSE_DATA_DIR": str(tmp_path / "d"),
    }
    proc, url = start_gunicorn(env, tmp_path)
    try:
        for _ in range(3):
            status, body = send(url, GITHUB / "pull_request/opened.payload.json")
            assert status == 200 and body["result"] == "accepted"
    finally:
        stop(proc)


def test_uds_agent(tmp_path):
    sock = str(tmp_path / "dsd.socket")
    listener = uds_listener(sock)
    env = {
        "DD_DOGSTATSD_URL": f"unix://{sock}",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "ORGPULSE_DATA_DIR": str(tmp_path / "d"),
        "DD_SERVICE": "orgpulse-uds",
    }
    proc, url = start_gunicorn(env, tmp_path)
    try:
        assert send(url, GITHUB / "create/payload.json")[0] == 200
        [line] = listener.metrics("github.refs.created", wait_for=1)
        assert line.tag_map["service"] == "orgpulse-uds" and line.tag_map["ref_type"] == "tag"
    finally:
        stop(proc)
        listener.close()


def orgpulse(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", *args],
        cwd=cwd,
        env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_replay_cli_against_a_running_receiver(server, tmp_path, agent):
    result = orgpulse(
        "replay",
        str(GITHUB / "pull_request"),
        str(GITHUB / "push"),
        "--url",
        server,
        env={"GITHUB_WEBHOOK_SECRET": SECRET},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    files = len(list((GITHUB / "pull_request").glob("*.json"))) + len(list((GITHUB / "push").glob("*.json")))
    assert f"replayed {files} deliveries, 0 refused" in result.stderr
    assert "200 accepted" in result.stdout and "github.prs.opened" in result.stdout
    assert agent.metrics("github.prs.opened", wait_for=1)


def test_capture_then_replay_round_trip(tmp_path, statsd):
    config = tmp_path / "orgpulse.yaml"
    config.write_text("receiver:\n  capture: true\n")
    data = tmp_path / "data"
    host, port = statsd.address
    env = {
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "ORGPULSE_CONFIG": str(config),
        "ORGPULSE_DATA_DIR": str(data),
    }
    proc, url = start_gunicorn(env, tmp_path)
    try:
        assert send(url, GITHUB / "pull_request/opened.payload.json")[0] == 200
        assert send(url, GITHUB / "push/with-new-branch.payload.json")[0] == 200
        assert send(url, GITHUB / "push/payload.json", secret="forged")[0] == 401
    finally:
        stop(proc)
    capture = data / "captures" / "github.jsonl"
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600
    records = [json.loads(x) for x in capture.read_text().splitlines()]
    assert [r["headers"]["x-github-event"] for r in records] == ["pull_request", "push"]
    assert all("x-hub-signature-256" not in r["headers"] for r in records)
    assert records[0]["body"].encode() == (GITHUB / "pull_request/opened.payload.json").read_bytes()
    # Replayed in-process with the log sink: the same deliveries, the same metrics.
    result = orgpulse(
        "replay",
        str(capture),
        env={"GITHUB_WEBHOOK_SECRET": "another", "ORGPULSE_DATA_DIR": str(tmp_path / "r")},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "github.prs.opened:1|c|" in result.stdout
    assert "replayed 2 deliveries, 0 refused" in result.stderr


def test_serve_generates_a_private_secret_and_replay_signs_with_it(tmp_path):
    port = free_port()
    env = {"ORGPULSE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orgpulse.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc)
        secret_file = tmp_path / "data" / "github-webhook-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert len(secret_file.read_text().strip()) == 64
        result = orgpulse(
            "replay",
            str(GITHUB / "pull_request/opened.payload.json"),
            "--url",
            f"http://127.0.0.1:{port}",
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
    finally:
        out, err = stop(proc)
    assert str(secret_file) in err
    assert secret_file.read_text().strip() not in out + err  # the path is printed, never the value
    # The log sink printed the metric as a DogStatsD line on stdout.
    assert "github.prs.opened:1|c|#service:orgpulse" in out


def test_asana_webhook_lifecycle_through_the_cli(tmp_path, statsd):
    from tests.fakes.asana_api import FakeAsana

    fake = FakeAsana()
    host, port = statsd.address
    env = {
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "ORGPULSE_DATA_DIR": str(tmp_path / "data"),
        "ASANA_ACCESS_TOKEN": fake.token,
        "ASANA_BASE_URL": fake.base_url,
        "GITHUB_WEBHOOK_SECRET": SECRET,
    }
    proc, url = start_gunicorn(env, tmp_path)
    try:
        created = orgpulse(
            "asana",
            "webhooks",
            "create",
            "--name",
            "engineering",
            "--resource",
            "1100",
            "--receiver-url",
            url,
            "--filter",
            "task:changed:completed",
            env=env,
            cwd=tmp_path,
        )
        assert created.returncode == 0, created.stderr
        [gid] = fake.webhooks
        assert f"created webhook {gid}" in created.stdout
        assert fake.webhooks[gid]["filters"] == [
            {"resource_type": "task", "action": "changed", "fields": ["completed"]}
        ]
        store = json.loads((tmp_path / "data/webhook-secrets.json").read_text())
        assert store["secrets"] == {"engineering": fake.handshake_secrets[gid]}
        assert fake.handshake_secrets[gid] not in created.stdout + created.stderr
        listed = orgpulse("asana", "webhooks", "list", "--workspace", "1", env=env, cwd=tmp_path)
        assert gid in listed.stdout and "/webhooks/asana/engineering" in listed.stdout
        # Events the CLI's replay signs with the stored secret reach the running receiver.
        replayed = orgpulse(
            "replay", str(ROOT / "tests/fixtures/asana/deliveries.jsonl"), "--url", url, env=env, cwd=tmp_path
        )
        assert replayed.returncode == 0, replayed.stderr
        assert "200 heartbeat" in replayed.stdout and "asana.comments.added" in replayed.stdout
        assert statsd.metrics("asana.webhooks.heartbeats", wait_for=1)
        deleted = orgpulse("asana", "webhooks", "delete", gid, "--name", "engineering", env=env, cwd=tmp_path)
        assert deleted.returncode == 0 and fake.webhooks == {}
        assert json.loads((tmp_path / "data/webhook-secrets.json").read_text())["secrets"] == {}
    finally:
        stop(proc)
        fake.close()


def test_replay_wandb_examples_in_process(tmp_path):
    result = orgpulse(
        "replay",
        "--source",
        "wandb",
        str(ROOT / "tests/fixtures/wandb"),
        env={"WANDB_WEBHOOK_TOKEN": "t", "ORGPULSE_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "wandb.runs.state_changes:1|c|" in result.stdout
    assert "replayed 9 deliveries, 0 refused" in result.stderr


def test_replay_refuses_what_it_cannot_replay_before_sending_anything(tmp_path):
    """W&B templates without --source wandb were posted as GitHub deliveries (202 ignored x9,
    exit 0); W&B deliveries with no token, Asana ones with no secret were all refused one by one."""
    result = orgpulse(
        "replay", str(ROOT / "tests/fixtures/wandb"), env={"ORGPULSE_DATA_DIR": str(tmp_path)}, cwd=tmp_path
    )
    assert result.returncode == 2 and result.stdout == ""
    assert (
        "is a W&B automation payload (it has an event_type), not a GitHub delivery: replay it with "
        "--source wandb" in result.stderr
    )
    no_token = orgpulse(
        "replay",
        "--source",
        "wandb",
        str(ROOT / "tests/fixtures/wandb"),
        env={"ORGPULSE_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )
    assert no_token.returncode == 2 and "WANDB_WEBHOOK_TOKEN=… orgpulse replay --source wandb" in no_token.stderr
    github = orgpulse(
        "replay",
        "--source",
        "wandb",
        str(GITHUB / "push"),
        env={"ORGPULSE_DATA_DIR": str(tmp_path), "WANDB_WEBHOOK_TOKEN": "t"},
        cwd=tmp_path,
    )
    assert github.returncode == 2 and "not a W&B automation payload" in github.stderr
    # Asana deliveries to a name with no handshake secret, not armed: nothing to sign with.
    asana = orgpulse(
        "replay",
        str(ROOT / "tests/fixtures/asana/deliveries.jsonl"),
        env={"ORGPULSE_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )
    assert asana.returncode == 2 and asana.stdout == ""
    assert "run `orgpulse asana webhooks arm engineering`, then replay again" in asana.stderr


def serve_cli(env: dict[str, str], port: int) -> tuple[subprocess.Popen, str, str]:
    """`orgpulse serve` as `make run` starts it (the venv's console script, from the project's
    root): the process, its URL and the lines it printed itself (before gunicorn's)."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "orgpulse"), "serve", "--port", str(port)],
        cwd=ROOT,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    drain(proc)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/readyz", proc)
    said = "".join(proc.captured[1]).splitlines(keepends=True)
    return proc, url, "".join(line for line in said if line.startswith("orgpulse:"))


def run_hint(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command `make run` printed, run as a person would paste it (VAR=value prefixes too)."""
    words = shlex.split(command)
    assigned = dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_]+=\S*", w))
    return subprocess.run(
        words[len(assigned) :], cwd=ROOT, env=clean_env({**env, **assigned}), capture_output=True, text=True, timeout=60
    )


def commands(said: str, about: str) -> list[str]:
    """The `commands` of the line of `said` that contains `about`."""
    return re.findall(r"`([^`]+)`", next(line for line in said.splitlines() if about in line))


def test_make_run_prints_the_status_page_and_how_to_try_asana_and_wandb(tmp_path):
    """The documented Asana and W&B replays failed under `make run` (404 unknown_webhook, 503):
    in local mode it now says how to try each, and what it says works as written."""
    env, port = {"ORGPULSE_DATA_DIR": str(tmp_path / "data")}, free_port()
    proc, url, said = serve_cli(env, port)
    try:
        assert f"receiver on {url} (sink: log), POST /webhooks/github; status page: {url}/status\n" in said
        restart, replay = commands(said, "W&B deliveries get 503")
        for command in commands(said, "Asana deliveries get 404"):  # arm, then replay
            done = run_hint(command, env)
            assert done.returncode == 0, done.stderr
        assert "200 handshake" in done.stdout and "replayed 8 deliveries, 0 refused" in done.stderr
        with urllib.request.urlopen(url + "/readyz", timeout=5) as ready:
            assert json.loads(ready.read())["sources"]["asana"] is True
    finally:
        stop(proc)
    words = shlex.split(restart)
    assert words[-2:] == ["make", "run"]  # `make run` is `orgpulse serve` from the project's root
    proc, url, said = serve_cli({**env, **dict(w.split("=", 1) for w in words[:-2])}, port)
    try:
        assert "get 503" not in said and "get 404" not in said  # both configured now
        done = run_hint(replay, env)
        assert done.returncode == 0 and "replayed 9 deliveries, 0 refused" in done.stderr, done.stderr
    finally:
        stop(proc)


def test_informer_command_with_a_kubeconfig(tmp_path, statsd):
    import signal

    from tests.fakes.kube_api import FakeKube
    from tests.support.k8s_pods import container_status, oom, pod

    fake = FakeKube()
    fake.put(pod(uid="p1"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": fake.url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
            }
        )
    )
    config = tmp_path / "orgpulse.yaml"
    config.write_text("kubernetes: {lease_namespace: observability, watch_timeout_seconds: 10}\n")
    host, port = statsd.address
    env = {
        "KUBECONFIG": str(kubeconfig),
        "ORGPULSE_CONFIG": str(config),
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "ORGPULSE_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "orgpulse.cli", "informer"],
        cwd=tmp_path,
        env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            ("observability", "orgpulse-leader") in fake.leases
            and any(r.path == "/api/v1/pods" and "watch" in r.query for r in fake.log)
        ):
            time.sleep(0.05)
        fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
        [line] = statsd.metrics("k8s.containers.restarts", wait_for=1, timeout=10)
        assert line.tag_map["reason"] == "oomkilled" and line.tag_map["namespace"] == "ml"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        fake.drop()
        fake.close()
    assert proc.returncode == 0, err
    assert "leader election on" in err
