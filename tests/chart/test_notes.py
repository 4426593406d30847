"""What `helm install` prints (NOTES.txt) works as printed: the webhook URLs, a read command for
each secret a provider needs that reads that very value, the Asana command parsed by orgpulse's
own CLI and run where the token and the receiver's secret store are, and a WARNING instead of
instructions for a provider whose secret is not set."""

from __future__ import annotations

import base64
import re

import pytest

from orgpulse.cli import parser
from tests.support.chart_render import (
    EVERY_SECRET,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    api_token_volumes,
    containers,
    manifests,
    notes_command,
    render,
)

READ = re.compile(r"kubectl -n (\S+) get secret (\S+) -o jsonpath='\{\.data\.([\w.-]+)\}' \| base64 -d")
PLACEHOLDERS = {"NAME": "engineering", "PROJECT_GID": "1200000000001"}
ASANA_TOKEN = "sentinel-asana-5d2e"


def notes(values: dict) -> str:
    return render(values)["orgpulse/templates/NOTES.txt"]


def exec_command(text: str, action: str) -> tuple[str, list[str]]:
    """(container, orgpulse's arguments with the placeholders filled)."""
    container, argv = notes_command(text, action)
    assert argv[0] == "orgpulse"
    return container, [PLACEHOLDERS.get(w, w) for w in argv[1:]]


def holds_the_receivers_store(docs: list[dict], name: str) -> bool:
    """Container `name` reaches the store the receiver reads: the same data dir for the file
    store; for the Kubernetes one, the API token (the same config names the same Secret)."""
    import yaml

    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["config.yaml"])
    if config["receiver"]["secret_store"] == "kubernetes":
        return bool(api_token_volumes(docs)[name])

    def data_dir(c):
        env = {e["name"]: e.get("value") for e in c["env"]}
        return env["ORGPULSE_DATA_DIR"], next(
            m["name"] for m in c["volumeMounts"] if m["mountPath"] == env["ORGPULSE_DATA_DIR"]
        )

    return data_dir(containers(docs)[name]) == data_dir(containers(docs)["receiver"])


@pytest.mark.parametrize(
    "values, receiver_url",
    [
        (VALUE_SETS["production"], "https://orgpulse.example.com"),  # the Kubernetes store, existingSecret
        (
            {
                "env": "x",
                "secrets": {"asanaAccessToken": ASANA_TOKEN},  # the file store, no Ingress
                "config": {"receiver": {"secret_store": "file"}},
            },
            "https://PUBLIC_HOST",
        ),
    ],
)
def test_the_asana_command_parses_and_runs_where_the_token_and_the_store_are(values, receiver_url):
    container, argv = exec_command(notes(values), "create")
    args = parser().parse_args(argv)  # argparse exits on a missing --resource
    assert (args.name, args.resource, args.receiver_url) == ("engineering", "1200000000001", receiver_url)
    docs = manifests(values)
    env = {e["name"]: e.get("value") for e in containers(docs)[container]["env"]}
    assert env["ASANA_ACCESS_TOKEN_FILE"] == "/var/run/secrets/orgpulse/ASANA_ACCESS_TOKEN"
    assert holds_the_receivers_store(docs, container)


def test_without_an_asana_token_notes_warn_and_arm_instead_of_create():
    text = notes(VALUE_SETS["staging"])
    assert "WARNING: no Asana access token (secrets.asanaAccessToken)" in text
    assert "webhooks create \\" not in text and "--resource" not in text  # no command that cannot work
    container, argv = exec_command(text, "arm")
    assert parser().parse_args(argv).name == "engineering"
    assert holds_the_receivers_store(manifests(VALUE_SETS["staging"]), container)


def test_the_file_store_on_an_emptydir_says_its_secrets_go_with_the_pod():
    values = {"env": "x", "config": {"receiver": {"secret_store": "file"}}}
    assert "emptyDir, lost with the pod" in notes(values)
    assert "emptyDir, lost with the pod" not in notes({**values, "dataDir": {"persistence": {"enabled": True}}})
    assert "emptyDir, lost with the pod" not in notes(VALUE_SETS["staging"])  # the Kubernetes store


def _read_values(text: str, docs: list[dict]) -> list[str]:
    """What each read command printed by NOTES would print."""
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    out = []
    for namespace, name, key in READ.findall(text):
        assert namespace == NAMESPACE
        out.append(base64.b64decode(secrets[name]["data"][key]).decode())
    return out


def test_every_read_command_prints_the_secret_it_names():
    values = VALUE_SETS["every-secret"]
    text = notes(values)
    assert "WARNING" not in text
    assert sorted(_read_values(text, manifests(values))) == sorted(
        EVERY_SECRET[k] for k in ("githubWebhookSecret", "wandbWebhookToken", "wandbWebhookSecret")
    )
    for path in ("/webhooks/github", "/webhooks/wandb", "/webhooks/asana/NAME"):
        assert f"https://PUBLIC_HOST{path}" in text


def test_urls_for_every_ingress_host_and_the_generated_github_secret():
    text = notes(VALUE_SETS["staging"])
    assert "Payload URL: https://orgpulse.staging.example.com/webhooks/github" in text
    assert (
        f"kubectl -n {NAMESPACE} get secret {RELEASE} -o jsonpath='{{.data.github-webhook-secret}}' | base64 -d"
    ) in text
    assert "generated at install and is kept" in text
    two = notes(
        {
            "env": "x",
            "ingress": {"enabled": True, "hosts": ["a.example", "b.example"]},
            "secrets": {"wandbWebhookToken": "t"},
        }
    )
    for host in ("a.example", "b.example"):  # no TLS section: http
        assert f"Payload URL: http://{host}/webhooks/github" in two and f"URL: http://{host}/webhooks/wandb" in two


def test_w_and_b_instructions_only_with_its_token_or_secret_else_a_warning():
    production = notes(VALUE_SETS["production"])
    assert "get secret orgpulse-production -o jsonpath='{.data.github-webhook-secret}'" in production
    assert (
        "WARNING: no W&B webhook token or secret" in production and "W&B deliveries would be answered 503" in production
    )
    assert "/webhooks/wandb" not in production
    mapped = {
        **VALUE_SETS["production"],
        "secrets": {
            **VALUE_SETS["production"]["secrets"],
            "existingSecretKeys": {
                **VALUE_SETS["production"]["secrets"]["existingSecretKeys"],
                "wandbWebhookSecret": "wandb-signing",
            },
        },
    }
    text = notes(mapped)
    assert "WARNING: no W&B" not in text and "URL: https://orgpulse.example.com/webhooks/wandb" in text
    assert READ.search(text[text.index("Signing secret") :]).groups() == (
        NAMESPACE,
        "orgpulse-production",
        "wandb-signing",
    )
    assert "Access token" not in text  # no token mapped: no line for it


def test_a_missing_github_secret_mapping_warns():
    text = notes({"env": "x", "secrets": {"existingSecret": "mine", "existingSecretKeys": {"githubToken": "t"}}})
    assert "WARNING: secrets.existingSecretKeys has no githubWebhookSecret" in text
    assert not READ.search(text)
