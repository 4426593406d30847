"""Every request `orgpulse dashboards apply` sends, checked against Datadog's own OpenAPI
spec: Prism (npm @stoplight/prism-cli) serves the spec of the pinned datadog-api-client
(its sdist, with its LICENSE: `make peers`) as a validating mock (`--errors`: a request
that breaks the spec is answered 4xx, and apply fails).

Prism silently skips validating a body whose schema has a node with `nullable` but no
`type` (Dashboard.default_timeframe, so POST /api/v1/dashboard went unchecked): such
nodes lose `nullable` before serving. Its first validated request compiles the schema
(~20 s, ~1.3 GB): one Prism per run (session fixture). bench/prism.py prints the figures.
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dashboards import cli, registry
from orgpulse.cli import parser
from tests.dashboards.test_definitions import EVERY_SOURCE
from tests.support.peers import require_peer
from tests.support.servers import free_port

SPEC = "datadog-spec/.generator/schemas/v1/openapi.yaml"
PRISM = "prism/node_modules/.bin/prism"
KEYS = {"DD-API-KEY": "prism-api-key", "DD-APPLICATION-KEY": "prism-app-key"}


def strip_typeless_nullable(node) -> int:
    """Remove `nullable` from schema nodes that have no `type`; how many were changed."""
    changed = 0
    if isinstance(node, dict):
        if "nullable" in node and "type" not in node:
            del node["nullable"]
            changed += 1
        changed += sum(strip_typeless_nullable(v) for v in node.values())
    elif isinstance(node, list):
        changed += sum(strip_typeless_nullable(v) for v in node)
    return changed


def served_spec(source: Path, target: Path) -> int:
    spec = yaml.load(source.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    changed = strip_typeless_nullable(spec)
    target.write_text(json.dumps(spec), encoding="utf-8")
    return changed


def start(binary: Path, spec: Path, log: Path, timeout: float = 180) -> tuple[subprocess.Popen, str, float]:
    """Prism on a free loopback port: (process, base URL, seconds until it listened)."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(binary), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"prism exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}", time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"prism did not listen within {timeout} s")


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json", **KEYS}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="session")
def prism(tmp_path_factory):
    binary, source = require_peer(PRISM), require_peer(SPEC)
    folder = tmp_path_factory.mktemp("prism")
    changed = served_spec(source, folder / "v1.json")
    process, url, _ = start(binary, folder / "v1.json", folder / "prism.log")
    yield {"url": url, "changed": changed, "log": folder / "prism.log"}
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.peers
def test_prism_validates_dashboard_bodies_once_the_spec_is_fixed(prism):
    assert prism["changed"] == 1  # Dashboard.default_timeframe
    defs = registry.definitions(registry.context(registry_settings(), None))
    assert (
        post(
            prism["url"] + "/api/v1/dashboard",
            {"title": "x", "layout_type": "ordered", "widgets": [{"definition": {"type": "note"}}]},
        )
        == 400
    )
    assert post(prism["url"] + "/api/v1/dashboard", defs.dashboards["pipeline"]) == 200


@pytest.mark.peers
def test_every_request_apply_sends_is_valid_against_the_spec(prism, make_settings):
    settings = make_settings(
        {"DD_API_KEY": KEYS["DD-API-KEY"], "DD_APP_KEY": KEYS["DD-APPLICATION-KEY"], "DD_API_URL": prism["url"]},
        EVERY_SOURCE,
    )  # every monitor
    out = io.StringIO()
    before = len(prism["log"].read_text(errors="replace"))  # the session's Prism: only this test's part
    status = cli.run(parser().parse_args(["dashboards", "apply", "--env", "production"]), settings, out)
    assert status == 0, out.getvalue()
    assert "31 create" in out.getvalue()
    log = prism["log"].read_text(errors="replace")[before:]
    received = re.findall(r"\[HTTP SERVER\] (\w+) (\S+) ", log)
    posts = Counter(path for method, path in received if method == "post")
    assert posts["/api/v1/dashboard"] >= 10 and posts["/api/v1/monitor"] >= 18 and posts["/api/v1/slo"] >= 3
    assert log.count("The request passed the validation rules") >= len(received)


def registry_settings():
    from orgpulse import config

    return config.load({})
