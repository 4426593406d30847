"""The kubernetes ApiClient for the informer and the Lease: in-cluster, else kubeconfig."""
from __future__ import annotations

from pathlib import Path

from orgpulse.config import Settings

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def api_client(settings: Settings):
    from kubernetes import client, config

    if settings.kubernetes_api_url:  # KUBERNETES_SERVICE_HOST: running in a pod
        config.load_incluster_config()
    else:  # KUBECONFIG or ~/.kube/config, the client's own convention
        config.load_kube_config()
    return client.ApiClient()


def own_namespace(default: str = "default") -> str:
    try:
        return NAMESPACE_FILE.read_text().strip()
    except OSError:
        return default
