"""The chart-made Secret outlives upgrades and uninstalls: rendered the way `helm install` and
`helm upgrade` render it against a cluster — Helm's own `lookup` talking to a small fake API
server — the GitHub webhook secret is generated once and then re-rendered from the cluster."""

from __future__ import annotations

import base64
import copy

import helm_python as helm
import pytest
import yaml

from tests.fakes.http import FakeServer
from tests.support.chart_render import NAMESPACE, RELEASE, chart

SECRET = rf"/api/v1/namespaces/({NAMESPACE})/secrets/([\w.-]+)"


class FakeCluster(FakeServer):
    """Discovery of core/v1 and GET of Secrets: what Helm's `lookup` asks for."""

    routes = [("GET", r"/api/v1", "discovery"), ("GET", SECRET, "get_secret")]

    def __init__(self):
        self.secrets: dict[str, dict] = {}
        super().__init__()

    def discovery(self, req, match):
        return (
            200,
            {},
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": "secrets",
                        "singularName": "secret",
                        "namespaced": True,
                        "kind": "Secret",
                        "verbs": ["get", "list", "create", "patch"],
                    }
                ],
            },
        )

    def get_secret(self, req, match):
        found = self.secrets.get(match.group(2))
        if found is None:
            return (
                404,
                {},
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404},
            )
        return 200, {}, found

    def apply(self, manifest: dict) -> None:
        """What `helm install` leaves in the cluster."""
        self.secrets[manifest["metadata"]["name"]] = copy.deepcopy(manifest)


@pytest.fixture
def cluster():
    fake = FakeCluster()
    config = helm.Config(kube_apiserver=fake.url, kube_token="test", namespace=NAMESPACE)
    yield fake, config
    config.close()
    fake.close()


def rendered_secret(config: helm.Config, values: dict, upgrade: bool = False) -> dict:
    out = config.render(chart(), values, name=RELEASE, namespace=NAMESPACE, is_install=not upgrade, is_upgrade=upgrade)
    return yaml.safe_load(out["orgpulse/templates/secret.yaml"])


def webhook_secret(secret: dict) -> str:
    return base64.b64decode(secret["data"]["github-webhook-secret"]).decode()


def test_the_generated_webhook_secret_is_made_once_and_kept_by_upgrades(cluster):
    fake, config = cluster
    values = {"env": "production"}
    installed = rendered_secret(config, values)
    generated = webhook_secret(installed)
    assert len(generated) == 48 and generated.isalnum()
    assert installed["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # A second install elsewhere would generate another one: the value is random, not derived.
    assert webhook_secret(rendered_secret(config, values)) != generated
    fake.apply(installed)
    upgraded = rendered_secret(config, {**values, "secrets": {"githubToken": "ghp_new"}}, upgrade=True)
    assert webhook_secret(upgraded) == generated
    assert base64.b64decode(upgraded["data"]["github-token"]).decode() == "ghp_new"
    assert {r.path for r in fake.log if "/secrets/" in r.path} == {f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}"}


def test_a_given_webhook_secret_wins_over_the_kept_one(cluster):
    fake, config = cluster
    fake.apply(rendered_secret(config, {"env": "production"}))
    rotated = rendered_secret(
        config, {"env": "production", "secrets": {"githubWebhookSecret": "new,old"}}, upgrade=True
    )
    assert webhook_secret(rotated) == "new,old"
