"""Who holds the pod's ServiceAccount token. The pod mounts none by default
(automountServiceAccountToken: false); the containers that call the API server mount the same
projection Kubernetes would (token, CA, namespace) where the code reads them: the poller always
(informer, Lease), the internet-facing receiver only for the Kubernetes secret store."""

from __future__ import annotations

import pytest
import yaml
from kubernetes.config import incluster_config

from orgpulse.options import SCHEMA
from pollers.kubernetes import client as kube
from receiver import secretstore
from tests.support.chart_render import ACCOUNT, VALUE_SETS, api_token_volumes, containers, manifests, one


def test_the_mount_is_where_the_code_reads_the_token_the_ca_and_the_namespace():
    receiver = SCHEMA["receiver"]
    read = {
        receiver["kubernetes_token_file"].default,
        receiver["kubernetes_ca_file"].default,
        str(secretstore.SERVICE_ACCOUNT / "namespace"),
        str(kube.NAMESPACE_FILE),
        incluster_config.SERVICE_TOKEN_FILENAME,
        incluster_config.SERVICE_CERT_FILENAME,
    }
    assert read == {str(ACCOUNT / f) for f in ("token", "ca.crt", "namespace")}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_only_the_containers_that_call_the_api_server_hold_its_token(name):
    docs = manifests(VALUE_SETS[name])
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    kubernetes_store = config["receiver"]["secret_store"] == "kubernetes"
    mounted = api_token_volumes(docs)
    assert len(mounted["poller"]) == 1  # the informer and the Lease, always
    assert len(mounted["receiver"]) == (1 if kubernetes_store else 0)
    for (volume,) in filter(None, mounted.values()):
        sources = volume["projected"]["sources"]
        token = [s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s]
        ca = [s["configMap"] for s in sources if "configMap" in s]
        namespace = [s["downwardAPI"] for s in sources if "downwardAPI" in s]
        assert token == [{"path": "token", "expirationSeconds": 3607}]
        assert ca == [{"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}]
        assert namespace == [
            {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}
        ]


def test_the_file_store_keeps_the_receiver_free_of_any_api_token():
    docs = manifests(VALUE_SETS["file-store"])
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    receiver = containers(docs)["receiver"]
    assert not [m for m in receiver["volumeMounts"] if m["mountPath"].startswith("/var/run/secrets/kubernetes.io")]
    assert api_token_volumes(manifests(VALUE_SETS["production"]))["receiver"]  # kubernetes store: it needs one
