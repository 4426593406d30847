"""A fake Kubernetes API server for one resource kind: core/v1 Secrets, get and merge-patch,
with resourceVersion conflicts (409) as the real API server answers them."""

from __future__ import annotations

import copy
import threading

from tests.fakes.http import FakeServer

PATH = r"/api/v1/namespaces/([\w-]+)/secrets/([\w.-]+)"


class FakeKubeSecrets(FakeServer):
    routes = [("GET", PATH, "get_secret"), ("PATCH", PATH, "patch_secret")]

    def __init__(self, token: str = "kube-test-token"):
        self.token = token
        self.secrets: dict[tuple[str, str], dict] = {}
        self.version = 1
        self.conflicts = 0
        self._write = threading.Lock()  # etcd's compare-and-swap: one write at a time
        super().__init__()
        self.server.socket.listen(128)  # replicas writing at once: more than the default 5

    def create(self, namespace: str, name: str) -> None:
        self.secrets[(namespace, name)] = {
            "kind": "Secret",
            "apiVersion": "v1",
            "data": {},
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.version)},
        }

    def dispatch(self, req):
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"kind": "Status", "code": 401}
        return super().dispatch(req)

    def get_secret(self, req, match):
        secret = self.secrets.get(match.groups())
        return (200, {}, secret) if secret else (404, {}, {"kind": "Status", "code": 404})

    def patch_secret(self, req, match):
        if req.headers.get("content-type") != "application/merge-patch+json":
            return 415, {}, {"kind": "Status", "code": 415}
        patch = req.json()
        with self._write:
            secret = self.secrets.get(match.groups())
            if secret is None:
                return 404, {}, {"kind": "Status", "code": 404}
            wanted = patch.get("metadata", {}).get("resourceVersion")
            if wanted and wanted != secret["metadata"]["resourceVersion"]:
                self.conflicts += 1
                return 409, {}, {"kind": "Status", "code": 409, "reason": "Conflict"}
            updated = copy.deepcopy(secret)
            updated["data"].update(patch.get("data", {}))
            self.version += 1
            updated["metadata"]["resourceVersion"] = str(self.version)
            self.secrets[match.groups()] = updated
        return 200, {}, updated
