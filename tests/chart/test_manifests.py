"""The Helm chart, linted and rendered by Helm 4 (as a library) for several value sets, every
manifest validated strictly against the Kubernetes 1.29 and 1.33 schemas, and the assertions
that matter: secrets only as files, limits/probes/hardening on every container, the Ingress
exposing only /webhooks/, the schema refusing typos, the refusals for unsafe replicas."""

from __future__ import annotations

import base64
import copy
import json
import re

import helm_python as helm
import kubernetes_validate
import pytest

from receiver.server import gunicorn_conf
from tests.support.chart_render import (
    CHART,
    EVERY_SECRET,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    containers,
    manifests,
    one,
    render,
)

SETS = sorted(VALUE_SETS)


def test_every_scenario_under_ci_is_a_value_set_the_tests_render():
    """chart/orgpulse/ci/: every file a `<name>-values.yaml` scenario, each one of SETS below."""
    scenarios = sorted((CHART / "ci").iterdir())
    assert len(scenarios) >= 6 and all(p.name.endswith("-values.yaml") for p in scenarios), scenarios
    assert {p.name[: -len("-values.yaml")] for p in scenarios} | {"production", "staging"} == set(SETS)


@pytest.mark.parametrize("name", SETS)
def test_lint_is_clean_for_every_value_set(name):
    for version in KUBE_VERSIONS:
        report = helm.lint(CHART, VALUE_SETS[name], strict=True, namespace=NAMESPACE, kube_version=f"v{version}")
        assert report["errors"] == [], report
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


@pytest.mark.parametrize("name", SETS)
def test_every_manifest_is_valid_kubernetes_1_29_and_1_33(name):
    docs = manifests(VALUE_SETS[name])
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= {d["kind"] for d in docs}
    for doc in docs:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_strict_validation_refuses_an_unknown_field():
    """The check above can fail: a misplaced field in a rendered Deployment is refused."""
    deployment = copy.deepcopy(one(manifests(VALUE_SETS["defaults"]), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def _env_values(docs: list[dict]) -> list[str]:
    return [f"{e['name']}={e.get('value', '')}" for c in containers(docs).values() for e in c["env"]]


@pytest.mark.parametrize("name", SETS)
def test_no_secret_value_in_any_environment_variable_or_the_config(name):
    values = VALUE_SETS[name]
    docs = manifests(values)
    secrets = [s for s in docs if s["kind"] == "Secret"]
    plain = [base64.b64decode(v).decode() for s in secrets for v in (s.get("data") or {}).values()]
    plain += [v for v in (values.get("secrets") or {}).values() if isinstance(v, str) and v]
    config = one(docs, "ConfigMap")["data"]["config.yaml"]
    for env in _env_values(docs):
        assert not any(secret in env for secret in plain), env
    assert not any(secret in config for secret in plain)
    # Secrets are files: only <NAME>_FILE variables, each pointing into the mounted Secret.
    for c in containers(docs).values():
        names = {e["name"] for e in c["env"]}
        for secret in (
            "GITHUB_WEBHOOK_SECRET",
            "GITHUB_TOKEN",
            "ASANA_ACCESS_TOKEN",
            "WANDB_API_KEY",
            "WANDB_WEBHOOK_TOKEN",
            "WANDB_WEBHOOK_SECRET",
            "ORGPULSE_REDIS_URL",
            "SKYPILOT_SERVICE_ACCOUNT_TOKEN",
            "GITHUB_APP_PRIVATE_KEY",
        ):
            assert secret not in names


def test_every_secret_is_a_file_in_the_container_that_uses_it_only():
    docs = manifests(VALUE_SETS["every-secret"])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    files = {}
    for name, c in containers(docs).items():
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/var/run/secrets/orgpulse")
        items = {i["path"]: i["key"] for i in volumes[mount["name"]]["secret"]["items"]}
        env = {e["name"]: e["value"] for e in c["env"] if e["name"].endswith("_FILE")}
        assert env == {f"{path}_FILE": f"/var/run/secrets/orgpulse/{path}" for path in items}
        files[name] = set(items)
    assert files == {
        "receiver": {
            "GITHUB_WEBHOOK_SECRET",
            "WANDB_WEBHOOK_TOKEN",
            "WANDB_WEBHOOK_SECRET",
            "ASANA_ACCESS_TOKEN",
            "ORGPULSE_REDIS_URL",
        },
        "poller": {
            "GITHUB_APP_PRIVATE_KEY",
            "WANDB_API_KEY",
            "SKYPILOT_SERVICE_ACCOUNT_TOKEN",
            "ASANA_ACCESS_TOKEN",
            "ORGPULSE_REDIS_URL",
        },
    }
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == RELEASE)
    stored = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert sorted(stored.values()) == sorted(EVERY_SECRET.values())
    env = {e["name"]: e.get("value") for e in containers(docs)["poller"]["env"]}
    assert env["GITHUB_APP_ID"] == "123456" and env["GITHUB_APP_INSTALLATION_ID"] == "789"
    # An app id without its key is refused at start: the receiver, which has no key, gets neither.
    receiver = {e["name"] for e in containers(docs)["receiver"]["env"]}
    assert not receiver & {"GITHUB_APP_ID", "GITHUB_APP_INSTALLATION_ID"}


def test_existing_secret_keys_are_mapped_and_nothing_else_is_mounted():
    docs = manifests(VALUE_SETS["production"])
    assert [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == RELEASE] == []
    volumes = {
        v["name"]: v["secret"] for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"] if "secret" in v
    }
    assert {n: (v["secretName"], {i["key"]: i["path"] for i in v["items"]}) for n, v in volumes.items()} == {
        "secrets-receiver": (
            "orgpulse-production",
            {
                "github-webhook-secret": "GITHUB_WEBHOOK_SECRET",
                "asana-access-token": "ASANA_ACCESS_TOKEN",
                "redis-url": "ORGPULSE_REDIS_URL",
            },
        ),
        "secrets-poller": (
            "orgpulse-production",
            {
                "github-token": "GITHUB_TOKEN",
                "asana-access-token": "ASANA_ACCESS_TOKEN",
                "redis-url": "ORGPULSE_REDIS_URL",
            },
        ),
    }


@pytest.mark.parametrize("name", SETS)
def test_every_container_has_limits_probes_and_the_security_context(name):
    docs = manifests(VALUE_SETS[name])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    probes = {
        "receiver": {"startupProbe", "livenessProbe", "readinessProbe"},
        "poller": {"startupProbe", "livenessProbe"},
    }
    for cname, c in containers(docs).items():
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}
        assert set(c["resources"]["requests"]) == {"cpu", "memory"}
        assert probes[cname] <= set(c), cname
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/data"] == "data" and mounts["/tmp"] == "tmp"  # writable: emptyDirs
        assert c["image"] == f"ghcr.io/orgpulse/orgpulse:{_app_version()}"
        assert c["imagePullPolicy"] == "IfNotPresent"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["data"] and "emptyDir" in volumes["tmp"]
    receiver, poller = containers(docs)["receiver"], containers(docs)["poller"]
    assert receiver["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert receiver["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "command" not in receiver  # the image's default command: gunicorn
    assert poller["command"] == ["orgpulse", "poll"]
    assert poller["livenessProbe"]["exec"]["command"] == ["orgpulse", "probe", "poller"]


def _app_version() -> str:
    import tomllib

    import yaml

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((CHART.parent.parent / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"], "Chart.yaml appVersion must be orgpulse's version"
    return chart["appVersion"]


def test_an_image_tag_overrides_the_app_version_and_latest_is_refused():
    docs = manifests({"env": "x", "image": {"tag": "0.2.0-rc1"}})
    assert {c["image"] for c in containers(docs).values()} == {"ghcr.io/orgpulse/orgpulse:0.2.0-rc1"}
    labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels["tags.datadoghq.com/version"] == "0.2.0-rc1"
    with pytest.raises(helm.HelmValuesError, match="tag"):
        render({"env": "x", "image": {"tag": "latest"}})


@pytest.mark.parametrize("name", SETS)
def test_the_ingress_exposes_only_webhooks(name):
    ingresses = [d for d in manifests(VALUE_SETS[name]) if d["kind"] == "Ingress"]
    for ingress in ingresses:
        paths = [
            (p["path"], p["pathType"], p["backend"]["service"]["name"])
            for rule in ingress["spec"]["rules"]
            for p in rule["http"]["paths"]
        ]
        assert paths and set(paths) == {("/webhooks/", "Prefix", RELEASE)}
        assert "defaultBackend" not in ingress["spec"]
    assert bool(ingresses) == bool((VALUE_SETS[name].get("ingress") or {}).get("enabled"))


def test_production_ingress_has_tls_for_its_hosts():
    ingress = one(manifests(VALUE_SETS["production"]), "Ingress")
    assert ingress["spec"]["tls"] == [{"secretName": "orgpulse-production-tls", "hosts": ["orgpulse.example.com"]}]
    assert ingress["spec"]["ingressClassName"] == "nginx"


@pytest.mark.parametrize(
    "values, complaint",
    [
        ({"env": "x", "replica": 3}, "replica"),
        ({"env": "x", "ingress": {"enabeld": True}}, "enabeld"),
        ({"env": "x", "replicas": "3"}, "/replicas"),
        ({"env": "x", "datadog": {"transport": "tcp"}}, "/datadog/transport"),
        ({"env": "x", "secrets": {"githubTokn": "x"}}, "githubTokn"),
        ({"env": "x", "config": {"github": {"repositores": ["a/b"]}}}, "repositores"),
        ({"env": "x", "config": {"poller": {"interval_seconds": "900"}}}, "/config/poller/interval_seconds"),
        ({"env": "x", "config": {"githbu": {}}}, "githbu"),
        ({"env": "x", "extraEnv": {"GITHUB_TOKEN": "ghp_x"}}, "GITHUB_TOKEN"),
        ({"env": "x", "ingress": {"enabled": True}}, "hosts"),
        ({"env": "x", "receiver": {"resources": {"limits": None}}}, "limits"),  # null drops a default
    ],
)
def test_a_misspelt_or_mistyped_value_fails_the_schema(values, complaint):
    with pytest.raises(helm.HelmValuesError) as failure:
        render(values)
    assert complaint in str(failure.value)


@pytest.mark.parametrize(
    "url, accepted",
    [
        ("redis://redis.observability.svc:6379/0", True),
        ("rediss://redis:6380", True),
        ("redis://orgpulse@redis:6379/1", True),  # an ACL user name alone is no secret
        ("redis://[fd00::1]:6379/0", True),
        ("unix:///var/run/redis/redis.sock", True),
        ("", True),
        ("redis://:hunter2@redis:6379/0", False),
        ("redis://orgpulse:hunter2@redis:6379/0", False),
        ("rediss://u:p@redis", False),
        ("unix:///var/run/redis.sock?db=0&password=hunter2", False),
        ("unix://u:p@/var/run/redis.sock", False),
        ("redis://redis:6379/0?password=hunter2", False),
    ],
)
def test_a_redis_password_never_lands_in_the_configmap(url, accepted):
    """config: becomes a plain ConfigMap: the schema refuses a Redis URL with a password
    there, with a sentence naming its place, secrets.redisUrl — and without echoing the URL
    (Helm prints a failed pattern with the value, password included)."""
    values = {"env": "x", "config": {"receiver": {"redis_url": url}}}
    if accepted:
        assert render(values)
        return
    with pytest.raises(helm.HelmValuesError, match="/config/receiver/redis_url") as failure:
        render(values)
    message = str(failure.value)
    assert "goes in secrets.redisUrl (a Secret)" in message
    assert url not in message and "hunter2" not in message and "pattern" not in message
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert (
        "secrets.redisUrl"
        in schema["properties"]["config"]["properties"]["receiver"]["properties"]["redis_url"]["description"]
    )


def test_the_data_dir_is_an_emptydir_or_optionally_a_claim_that_outlives_pods():
    plain = one(manifests({"env": "x"}), "Deployment")["spec"]
    (data,) = [v for v in plain["template"]["spec"]["volumes"] if v["name"] == "data"]
    assert "emptyDir" in data and plain["strategy"]["type"] == "RollingUpdate"
    assert not [d for d in manifests({"env": "x"}) if d["kind"] == "PersistentVolumeClaim"]
    for persistence, claim in (
        ({"enabled": True, "size": "2Gi", "storageClassName": "gp3"}, "orgpulse-data"),
        ({"enabled": True, "existingClaim": "mine"}, "mine"),
    ):
        docs = manifests({"env": "x", "dataDir": {"persistence": persistence}})
        spec = one(docs, "Deployment")["spec"]
        (data,) = [v for v in spec["template"]["spec"]["volumes"] if v["name"] == "data"]
        assert data == {"name": "data", "persistentVolumeClaim": {"claimName": claim}}
        assert spec["strategy"] == {"type": "Recreate"}  # ReadWriteOnce: the old pod lets go first
        made = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
        if "existingClaim" in persistence:
            assert made == []
        else:
            assert made[0]["metadata"]["name"] == claim and made[0]["spec"] == {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",
                "resources": {"requests": {"storage": "2Gi"}},
            }
        for version in KUBE_VERSIONS:
            for doc in docs:
                kubernetes_validate.validate(doc, version, strict=True)
    with pytest.raises(helm.HelmRenderError, match="dataDir.persistence with replicas: 2"):
        render(
            {
                "env": "x",
                "replicas": 2,
                "dataDir": {"persistence": {"enabled": True}},
                "config": {"receiver": {"redis_url": "redis://r:6379/0"}},
            }
        )


def test_env_is_required():
    with pytest.raises(helm.HelmValuesError, match="missing property 'env'"):
        render({})
    with pytest.raises(helm.HelmValuesError, match="/env"):
        render({"env": ""})
    report = helm.lint(CHART, {}, strict=True)
    assert any("env" in e for e in report["errors"])


@pytest.mark.parametrize(
    "values, complaint",
    [
        ({"env": "x", "replicas": 2}, "Redis URL"),
        (
            {
                "env": "x",
                "replicas": 2,
                "config": {"receiver": {"redis_url": "redis://r:6379/0", "secret_store": "file"}},
            },
            "secret_store: kubernetes",
        ),
        (
            {
                "env": "x",
                "replicas": 2,
                "config": {"receiver": {"redis_url": "redis://r:6379/0"}, "kubernetes": {"lease_enabled": False}},
            },
            "lease_enabled",
        ),
        ({"env": "x", "config": {"receiver": {"dedup_backend": "redis"}}}, "no Redis URL"),
        ({"env": "x", "terminationGracePeriodSeconds": 25}, "terminationGracePeriodSeconds"),
        ({"env": "x", "settings": {"githubAppId": "1"}, "secrets": {"githubToken": "t"}}, "both set"),
        ({"env": "x", "secrets": {"existingSecret": "mine", "githubToken": "t"}}, "existingSecret"),
    ],
)
def test_unsafe_settings_are_refused_with_a_reason(values, complaint):
    with pytest.raises(helm.HelmRenderError, match=re.escape(complaint)):
        render(values)


def test_replicas_with_redis_get_a_pdb_the_redis_dedup_and_spread():
    one_pod = manifests({"env": "x"})
    assert [d for d in one_pod if d["kind"] == "PodDisruptionBudget"] == []
    docs = manifests({"env": "x", "replicas": 3, "config": {"receiver": {"redis_url": "redis://r:6379/0"}}})
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert "dedup_backend: redis" in one(docs, "ConfigMap")["data"]["config.yaml"]
    spread = one(docs, "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {s["topologyKey"] for s in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


def test_the_grace_period_outlasts_the_pause_and_gunicorns_graceful_timeout():
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    baked = re.search(r'define "orgpulse.gunicornGracefulTimeout" -}}(\d+)', helpers).group(1)
    assert int(baked) == gunicorn_conf.graceful_timeout, "the chart's copy of gunicorn's graceful_timeout"
    docs = manifests({"env": "x"})
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    pause = int(containers(docs)["receiver"]["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] > pause + gunicorn_conf.graceful_timeout
    assert containers(docs)["receiver"]["ports"][0]["containerPort"] == int(gunicorn_conf.bind.split(":")[1])


def test_datadog_over_the_socket_or_udp_with_unified_service_tagging():
    for name, want in (("defaults", "uds"), ("udp", "udp")):
        docs = manifests(VALUE_SETS[name])
        pod = one(docs, "Deployment")["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert labels["tags.datadoghq.com/env"] == "staging"
        assert labels["tags.datadoghq.com/service"] == "orgpulse"
        assert labels["tags.datadoghq.com/version"] == _app_version()
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        for c in containers(docs).values():
            env = {e["name"]: e for e in c["env"]}
            for var, tag in (("DD_ENV", "env"), ("DD_SERVICE", "service"), ("DD_VERSION", "version")):
                assert env[var]["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.labels['tags.datadoghq.com/{tag}']"
            assert env["DD_ENTITY_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"
            if want == "uds":
                assert env["DD_DOGSTATSD_URL"]["value"] == "unix:///var/run/datadog/dsd.socket"
                assert volumes["dsdsocket"]["hostPath"]["path"] == "/var/run/datadog"
                assert "DD_AGENT_HOST" not in env
            else:
                assert env["DD_AGENT_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
                assert env["DD_DOGSTATSD_PORT"]["value"] == "8125"
                assert "DD_DOGSTATSD_URL" not in env and "dsdsocket" not in volumes


def test_the_config_becomes_the_mounted_configmap_and_a_change_rolls_the_pods():
    import yaml

    first = manifests({"env": "x", "config": {"github": {"repositories": ["a/b"]}}})
    config = yaml.safe_load(one(first, "ConfigMap")["data"]["config.yaml"])
    assert config == {
        "github": {"repositories": ["a/b"]},
        "receiver": {"secret_store": "kubernetes", "kubernetes_secret": f"{RELEASE}-webhook-secrets"},
        "kubernetes": {"lease_name": f"{RELEASE}-leader"},
    }
    for c in containers(first).values():
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["ORGPULSE_CONFIG"] == "/etc/orgpulse/config.yaml"
        mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
        assert mount["mountPath"] == "/etc/orgpulse" and mount["readOnly"]
    second = manifests({"env": "x", "config": {"github": {"repositories": ["a/c"]}}})
    checksum = lambda docs: one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"][  # noqa: E731
        "checksum/config"
    ]
    assert checksum(first) != checksum(second)


def test_the_network_policy_admits_only_the_ingress_controller_to_the_receiver_port():
    policy = one(manifests(VALUE_SETS["network-policy"]), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
            "ports": [{"port": "http", "protocol": "TCP"}],
        }
    ]
    assert (
        policy["spec"]["podSelector"]["matchLabels"]
        == one(manifests(VALUE_SETS["network-policy"]), "Deployment")["spec"]["selector"]["matchLabels"]
    )


def test_the_service_account_is_made_or_reused_with_its_annotations():
    made = one(manifests(VALUE_SETS["production"]), "ServiceAccount")
    assert made["metadata"]["name"] == "orgpulse-production"
    assert made["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/orgpulse-production"
    }
    staging = one(manifests(VALUE_SETS["staging"]), "ServiceAccount")
    assert staging["metadata"]["name"] == "orgpulse-staging"
    reused = manifests({"env": "x", "serviceAccount": {"create": False, "name": "platform-sa"}})
    assert [d for d in reused if d["kind"] == "ServiceAccount"] == []
    assert one(reused, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "platform-sa"
    with pytest.raises(helm.HelmRenderError, match="serviceAccount.name"):
        render({"env": "x", "serviceAccount": {"create": False}})


def _nginx_size(text: str) -> int:
    """An nginx size ("25m", "512k", "1048576") in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", text).groups()
    return int(number) * 1024 ** " kmg".index(unit.lower() or " ")


@pytest.mark.parametrize("name", ["production", "staging"])
def test_the_nginx_examples_let_githubs_largest_delivery_through_the_ingress(name):
    """ingress-nginx refuses bodies over 1 MiB (its own 413) unless the Ingress says more."""
    from orgpulse.config import DEFAULT_MAX_BODY_BYTES

    ingress = one(manifests(VALUE_SETS[name]), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    annotations = ingress["metadata"]["annotations"]
    assert _nginx_size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]) >= DEFAULT_MAX_BODY_BYTES
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    # The slow-sender timeouts belong to the controller: an Ingress annotation for them is ignored.
    assert not [a for a in annotations if re.search(r"client-(header|body)-timeout", a)]


def test_the_production_example_names_the_controllers_timeouts_within_orgpulses_deadline():
    from orgpulse.options import SCHEMA

    text = (CHART / "values-production.yaml").read_text()
    timeouts = dict(re.findall(r'^\s*#\s+(client-header-timeout|client-body-timeout): "(\d+)"', text, re.M))
    assert set(timeouts) == {"client-header-timeout", "client-body-timeout"}
    assert all(int(v) <= SCHEMA["receiver"]["request_deadline_seconds"].default for v in timeouts.values())
    keepalive = re.search(r'^\s*#\s+upstream-keepalive-timeout: "(\d+)"', text, re.M).group(1)
    assert int(keepalive) < gunicorn_conf.keepalive
