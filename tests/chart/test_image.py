"""The image's contract, proven without a container engine (none runs here): the Dockerfile's
steps performed into a fresh venv (tests/support/dockerfile.py), then the exact commands and
environment the chart renders for each container, run as processes over the rendered volumes
— gunicorn with the image's baked-in config answering /healthz and a signed delivery, the
poller's `orgpulse poll --once` and `orgpulse poll` with the rendered ConfigMap, the poller's
liveness command — so chart, image and CLI cannot drift apart.

The one change from the rendered pod: gunicorn's port (GUNICORN_CMD_ARGS binds a free
loopback port instead of 0.0.0.0:8080, which other processes here may hold); test_chart.py
checks that the containerPort is the baked-in one. The pod runs as if outside a cluster (no
KUBERNETES_SERVICE_HOST): the Kubernetes secret store is pointed at a fake API server by values.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from receiver.sources.github import signature
from tests.fakes.asana_api import FakeAsana
from tests.fakes.kube_secrets import FakeKubeSecrets
from tests.fakes.skypilot_api import FakeSkyPilot
from tests.support.chart_render import NAMESPACE, RELEASE, manifests, notes_command, render
from tests.support.dockerfile import PINNED, build, container
from tests.support.dogstatsd import uds_listener
from tests.support.servers import free_port, wait_http

pytestmark = pytest.mark.peers  # a fresh venv with every dependency: ~35-60 s, once per run
GITHUB = Path(__file__).resolve().parents[1] / "fixtures" / "github"
POD_UID = str(uuid.uuid4())


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build(tmp_path_factory.mktemp("image"))


@pytest.fixture
def pod(image, tmp_path):
    """The chart rendered with defaults plus env, a SkyPilot server for the poller (a plain
    setting and a secret file) and the secret store's API server; each volume a directory."""
    sky, kube = FakeSkyPilot(), FakeKubeSecrets()
    kube.create(NAMESPACE, f"{RELEASE}-webhook-secrets")
    token = tmp_path / "sa-token"
    token.write_text(kube.token)
    docs = manifests(
        {
            "env": "staging",
            "settings": {"skypilotApiServerEndpoint": sky.url},
            "secrets": {"skypilotServiceAccountToken": sky.token},
            "config": {
                "receiver": {
                    "kubernetes_api_url": kube.url,
                    "kubernetes_namespace": NAMESPACE,
                    "kubernetes_token_file": str(token),
                }
            },
        }
    )
    facts = {
        "metadata.uid": POD_UID,
        "status.hostIP": "127.0.0.1",
        "metadata.namespace": NAMESPACE,
        "serviceAccountToken": kube.token,
        "kube-root-ca.crt/ca.crt": "",
    }
    made = {name: container(image, docs, name, tmp_path / "volumes", facts) for name in ("receiver", "poller")}
    agent = uds_listener(str(made["receiver"].mounts["/var/run/datadog"] / "dsd.socket"))
    yield docs, made, agent
    agent.close()
    sky.close()
    kube.close()


def start(c, extra=None):
    return subprocess.Popen(
        c.argv, env={**c.env, **(extra or {})}, cwd=c.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop_in_time(proc, grace: float) -> str:
    """SIGTERM as the kubelet sends it; the process must exit cleanly within the grace."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=grace)
    assert proc.returncode == 0, err
    return err


def grace(docs) -> int:
    return next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]


def tags(line) -> dict:
    return {k: v for k, v in line.tag_map.items() if k in ("env", "service", "version")}


def test_the_image_is_pinned_non_root_and_carries_no_installer(image):
    assert len(set(image.bases)) == 1, "both stages from the same base"
    match = PINNED.match(image.bases[0])
    assert match, f"{image.bases[0]}: pin the base by its full version tag"
    assert match[1] == "{}.{}".format(*sys.version_info[:2]), "the venv is built with the image's Python"
    uid, _, gid = image.user.partition(":")
    assert int(uid) == image.uid == 10001 and int(gid) == 10001  # the chart's runAsUser/runAsGroup
    assert image.ports == [8080]
    venv = image.host("/opt/orgpulse")
    assert not list(venv.glob("bin/pip*")) and not list(venv.glob("lib/python*/site-packages/pip"))
    assert (image.host(image.workdir) / "gunicorn.conf.py").read_text() == (
        Path(__file__).resolve().parents[2] / "receiver" / "server" / "gunicorn_conf.py"
    ).read_text()


def _pins(text: str) -> dict[str, str]:
    def name(n: str) -> str:
        return re.sub(r"[-_.]+", "-", n).lower()  # PEP 503

    return {
        name(n): v
        for n, _, v in (line.partition("==") for line in text.splitlines() if line.strip() and not line.startswith("#"))
    }


def test_every_dependency_in_the_image_is_the_version_constraints_txt_pins(image):
    """Each build resolves the same versions: the venv holds exactly the pinned set."""
    python = image.host("/opt/orgpulse") / "bin" / "python"
    listing = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print('\\n'.join("
            "f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = _pins(listing)
    assert installed.pop("orgpulse")  # orgpulse itself, from the source tree
    assert image.constraints == "constraints.txt"  # the install step resolves under the pins
    pinned = _pins((Path(__file__).resolve().parents[2] / image.constraints).read_text())
    assert pinned and installed == pinned


def test_the_receiver_container_answers_health_and_a_signed_delivery(pod):
    docs, made, agent = pod
    receiver = made["receiver"]
    assert receiver.argv == ["gunicorn", "receiver:create_app()"]  # the image's CMD: the chart sets none
    port = free_port()
    proc = start(receiver, {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", proc, timeout=60)
        with urllib.request.urlopen(url + "/readyz", timeout=5) as ready:
            assert json.load(ready)["sources"]["github"] is True  # the secret file was read
        secret = (receiver.mounts["/var/run/secrets/orgpulse"] / "GITHUB_WEBHOOK_SECRET").read_bytes()
        body = (GITHUB / "create" / "payload.json").read_bytes()
        request = urllib.request.Request(
            url + "/webhooks/github",
            data=body,
            headers={
                "X-GitHub-Event": "create",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature(secret, body),
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.load(answer)["result"] == "accepted"
        [line] = agent.metrics("github.refs.created", wait_for=1, timeout=10)
        assert tags(line) == {"env": "staging", "service": "orgpulse", "version": "0.1.0"}
    finally:
        stop_in_time(proc, grace(docs))


def test_the_asana_command_notes_print_creates_a_webhook_in_the_container_it_names(image, tmp_path):
    """NOTES.txt's `kubectl exec … -- orgpulse asana webhooks create …`, run as printed in the
    container it names, against a fake Asana whose create first performs the handshake with the
    running receiver: it completes only if the command armed the name in the receiver's own store
    (the Kubernetes Secret, reached with the token mounted in that container) with the token there."""
    asana, kube = FakeAsana(), FakeKubeSecrets()
    kube.create(NAMESPACE, f"{RELEASE}-webhook-secrets")
    volumes = tmp_path / "volumes"
    values = {
        "env": "staging",
        "settings": {"asanaBaseUrl": asana.base_url},
        "secrets": {"asanaAccessToken": asana.token},
        # the projected ServiceAccount token, where container() lays out the volume
        "config": {
            "receiver": {
                "kubernetes_api_url": kube.url,
                "kubernetes_namespace": NAMESPACE,
                "kubernetes_token_file": str(volumes / "kube-api-access" / "token"),
            }
        },
    }
    docs = manifests(values)
    name, argv = notes_command(render(values)["orgpulse/templates/NOTES.txt"], "create")
    facts = {
        "metadata.uid": POD_UID,
        "status.hostIP": "127.0.0.1",
        "metadata.namespace": NAMESPACE,
        "serviceAccountToken": kube.token,
        "kube-root-ca.crt/ca.crt": "",
    }
    there = container(image, docs, name, volumes, facts)
    receiver = container(image, docs, "receiver", volumes, facts)
    port = free_port()
    proc = start(receiver, {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", proc, timeout=60)
        filled = {"NAME": "engineering", "PROJECT_GID": "1200000000001", "https://PUBLIC_HOST": url}
        done = subprocess.run(
            [filled.get(w, w) for w in argv], env=there.env, cwd=there.cwd, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        (hook,) = asana.webhooks.values()
        assert hook["target"] == f"{url}/webhooks/asana/engineering"
        assert hook["resource"] == {"gid": "1200000000001"}
        stored = kube.secrets[(NAMESPACE, f"{RELEASE}-webhook-secrets")]["data"]
        assert "engineering" in base64.b64decode(stored["webhook-secrets.json"]).decode()
    finally:
        stop_in_time(proc, grace(docs))
        asana.close()
        kube.close()


def test_the_poller_container_runs_a_cycle_with_the_rendered_config(pod):
    _, made, agent = pod
    poller = made["poller"]
    once = subprocess.run(
        poller.argv + ["--once"], env=poller.env, cwd=poller.cwd, capture_output=True, text=True, timeout=120
    )
    assert once.returncode == 0, once.stderr
    assert "skypilot: ok" in once.stderr  # the endpoint setting and the token file reached it
    lines = [
        x
        for x in agent.metrics("orgpulse.collector.success", wait_for=1, timeout=10)
        if x.tag_map["collector"] == "skypilot"
    ]
    assert lines and lines[0].value == 1 and tags(lines[0])["env"] == "staging"


def test_the_long_running_poller_passes_its_liveness_command_and_stops_on_sigterm(pod):
    docs, made, _ = pod
    poller = made["poller"]
    spec = next(
        c
        for c in next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"]
        if c["name"] == "poller"
    )
    probe = spec["livenessProbe"]["exec"]["command"]
    assert poller.argv == ["orgpulse", "poll"]
    proc = start(poller)
    try:
        deadline = time.monotonic() + 60
        result = None
        while time.monotonic() < deadline:
            result = subprocess.run(
                probe,
                env=poller.env,
                cwd=poller.cwd,
                capture_output=True,
                text=True,
                timeout=spec["livenessProbe"]["timeoutSeconds"],
            )
            if result.returncode == 0:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        assert result.returncode == 0 and result.stdout.startswith("ok: poller"), result.stdout
        state = json.loads((poller.mounts["/data"] / "poller-state.json").read_text())
        assert state["role"] == "single" and state["interval_seconds"] == 900
    finally:
        stop_in_time(proc, grace(docs))
