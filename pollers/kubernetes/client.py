"""The kubernetes ApiClient for the informer and the Lease (in-cluster, else kubeconfig), and the
cluster lists the informer's gauges read, limited to the informer's scope."""

from __future__ import annotations

from pathlib import Path

import orjson

from orgpulse.config import Settings

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def api_client(settings: Settings):
    # The kubernetes client takes ~0.8 s to import: only a process that talks to a cluster loads it.
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


class ClusterLists:
    """Nodes, deployments and metrics.k8s.io pod usage as plain dicts (no client models).
    `scopes` are the informer's: namespaces, or [""] for all of them."""

    METRICS = ("metrics.k8s.io", "v1beta1")

    def __init__(self, api_client, timeout: float = 30):
        from kubernetes import client  # as in api_client(): only with a cluster

        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.timeout = timeout

    def _get(self, fn, *args, **kwargs) -> dict:
        return orjson.loads(fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs).data)

    def _scoped(self, scopes: list[str], all_fn, namespaced_fn, **kwargs) -> dict:
        """One list per namespace (or one for all), merged."""
        items: list = []
        for scope in scopes:
            fn, args = (namespaced_fn, (scope,)) if scope else (all_fn, ())
            items += self._get(fn, *args, **kwargs).get("items") or []
        return {"items": items}

    def nodes(self) -> dict:
        return self._get(self.core.list_node)

    def deployments(self, scopes: list[str]) -> dict:
        return self._scoped(scopes, self.apps.list_deployment_for_all_namespaces, self.apps.list_namespaced_deployment)

    def pod_metrics(self, scopes: list[str], label_selector: str = "") -> dict:
        """PodMetrics of the pods the informer watches: same namespaces, same label selector."""
        selector = {"label_selector": label_selector} if label_selector else {}
        return self._scoped(
            scopes,
            lambda **kw: self.custom.list_cluster_custom_object(*self.METRICS, "pods", **kw),
            lambda ns, **kw: self.custom.list_namespaced_custom_object(*self.METRICS, ns, "pods", **kw),
            **selector,
        )
