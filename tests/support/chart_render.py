"""The chart rendered the way `helm install` renders it — Helm 4 as a library
(helm-python-sdk: no helm binary exists here) — and the value sets the tests use."""

from __future__ import annotations

import functools
import shlex
from pathlib import Path

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "chart" / "orgpulse"
RELEASE, NAMESPACE = "orgpulse", "observability"
KUBE_VERSIONS = ("1.29.0", "1.33.0")  # the oldest and a current supported release
ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")  # the API token, CA, namespace


def example(name: str) -> dict:
    return yaml.safe_load((CHART / name).read_text())


# The value sets every chart test renders: the scenarios under chart/orgpulse/ci/ (one
# `<name>-values.yaml` each, the kube-state-metrics chart's convention), and the two example
# files a user starts from.
CI = CHART / "ci"
VALUE_SETS: dict[str, dict] = {
    **{
        path.name[: -len("-values.yaml")]: yaml.safe_load(path.read_text()) for path in sorted(CI.glob("*-values.yaml"))
    },
    # Ingress + TLS + existingSecret + UDS + 3 replicas + Redis + NetworkPolicy.
    "production": example("values-production.yaml"),
    "staging": example("values-staging.yaml"),
}
# Sentinels for every secret the chart can carry: none may appear outside a Secret.
EVERY_SECRET: dict[str, str] = VALUE_SETS["every-secret"]["secrets"]


@functools.lru_cache(maxsize=1)
def chart() -> helm.Chart:
    return helm.Chart.load(CHART)  # immutable, safe to share between tests


def render(values: dict) -> dict[str, str]:
    """template path → rendered text, as `helm install` renders it (schema validated)."""
    return chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(values: dict) -> list[dict]:
    return [
        doc
        for path, text in sorted(render(values).items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}s"
    return found[0]


def containers(docs: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]}


def api_token_volumes(docs: list[dict]) -> dict[str, list[dict]]:
    """container → the volumes it mounts (read-only) where the ServiceAccount's token goes."""
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {
        name: [volumes[m["name"]] for m in c["volumeMounts"] if m["mountPath"] == str(ACCOUNT) and m.get("readOnly")]
        for name, c in containers(docs).items()
    }


def notes_command(notes: str, action: str) -> tuple[str, list[str]]:
    """The `kubectl … exec deploy/… -c C -- orgpulse asana webhooks <action> …` that NOTES.txt
    prints: (C, the argv it runs there)."""
    joined = notes.replace("\\\n", " ")
    (line,) = [line for line in joined.splitlines() if f"orgpulse asana webhooks {action}" in line]
    words = shlex.split(line)
    kubectl, argv = words[: words.index("--")], words[words.index("--") + 1 :]
    assert kubectl[:5] == ["kubectl", "-n", NAMESPACE, "exec", f"deploy/{RELEASE}"], kubectl
    return kubectl[kubectl.index("-c") + 1], argv
