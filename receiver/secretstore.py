"""Durable store for secrets a provider hands over once (Asana's X-Hook-Secret).

One JSON document {"secrets": {name: secret}, "armed": {name: unix_expiry}}:
- FileStore: <data dir>/webhook-secrets.json, 0600, atomic replace under an
  flock — the embedded default, shared by the processes of one machine;
- KubernetesStore: one Secret (key webhook-secrets.json) read and patched
  through the API server with optimistic concurrency (resourceVersion), so
  every replica of the chart sees a handshake made on any one of them. It
  speaks plain HTTPS (no kubernetes client: the receiver stays light).

"Armed" names may complete a handshake until their expiry: only an operator
(`orgpulse asana webhooks create|arm`) arms a name, so a stranger cannot
replace a webhook's secret by posting an X-Hook-Secret header.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import random
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

DOCUMENT_KEY = "webhook-secrets.json"
CONFLICT_BACKOFF = 0.01  # seconds; doubled per conflict up to 16×, randomised


class StoreError(RuntimeError):
    """The store could not be read or written; nothing was changed."""


def _empty() -> dict:
    return {"secrets": {}, "armed": {}}


class SecretStore(Protocol):
    def load(self) -> dict: ...
    def update(self, change) -> dict: ...


def get_secret(store: SecretStore, name: str) -> str | None:
    return store.load()["secrets"].get(name)


def load_secrets(store: SecretStore) -> dict[str, str]:
    return dict(store.load()["secrets"])


def is_armed(store: SecretStore, name: str, now: float | None = None) -> bool:
    expiry = store.load()["armed"].get(name)
    return expiry is not None and expiry > (time.time() if now is None else now)


def arm(store: SecretStore, name: str, seconds: float = 600) -> None:
    store.update(lambda doc: doc["armed"].__setitem__(name, time.time() + seconds))


def complete_handshake(store: SecretStore, name: str, secret: str) -> None:
    """Store `secret` for `name` and disarm it, in one durable write (raises StoreError)."""

    def change(doc: dict) -> None:
        doc["secrets"][name] = secret
        doc["armed"].pop(name, None)

    store.update(change)


def forget(store: SecretStore, name: str) -> None:
    def change(doc: dict) -> None:
        doc["secrets"].pop(name, None)
        doc["armed"].pop(name, None)

    store.update(change)


class FileStore:
    def __init__(self, directory: Path):
        self.path = directory / DOCUMENT_KEY
        self.lock_path = directory / (DOCUMENT_KEY + ".lock")

    def load(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _empty()
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None

    def update(self, change) -> dict:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            with os.fdopen(fd, "r+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one writer across processes
                doc = self.load()
                change(doc)
                tmp = self.path.with_suffix(f".tmp{os.getpid()}")
                tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(tfd, "w", encoding="utf-8") as handle:
                    json.dump(doc, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)  # atomic: readers see old or new, never half
                return doc
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None


class KubernetesStore:
    """A Secret in the API server; needs get and patch on that one Secret (see the chart's RBAC)."""

    def __init__(
        self,
        api_url: str,
        namespace: str,
        name: str,
        token: str,
        ca_file: str | None = None,
        timeout: float = 5.0,
        sleep=time.sleep,
    ):
        self.url = f"{api_url.rstrip('/')}/api/v1/namespaces/{namespace}/secrets/{name}"
        self.token = token
        self.timeout = timeout
        self.sleep = sleep
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def _call(self, method: str, body: dict | None = None, content_type: str = "application/json") -> dict:
        request = urllib.request.Request(
            self.url,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as resp:
            return json.loads(resp.read())

    def _read(self) -> tuple[dict, str]:
        try:
            secret = self._call("GET")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise StoreError(f"cannot read the Kubernetes Secret: {exc}") from None
        try:
            raw = (secret.get("data") or {}).get(DOCUMENT_KEY)
            doc = json.loads(base64.b64decode(raw)) if raw else _empty()
            return doc, secret["metadata"]["resourceVersion"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"the Kubernetes Secret is not orgpulse's document: {exc!r}") from None

    def load(self) -> dict:
        return self._read()[0]

    def update(self, change, attempts: int = 12) -> dict:
        """Read, change, patch with the resourceVersion read: a 409 means another replica
        wrote in between, so read again and retry (after a short random pause, so writers
        that collided do not collide again in step); a failed connection is retried twice."""
        failures = 0
        for attempt in range(attempts):
            try:
                doc, version = self._read()
                change(doc)
                patch = {
                    "metadata": {"resourceVersion": version},
                    "data": {DOCUMENT_KEY: base64.b64encode(json.dumps(doc).encode()).decode()},
                }
                self._call("PATCH", patch, "application/merge-patch+json")
                return doc
            except urllib.error.HTTPError as exc:
                if exc.code != 409:
                    raise StoreError(f"cannot patch the Kubernetes Secret: HTTP {exc.code}") from None
            except (StoreError, urllib.error.URLError, OSError) as exc:
                failures += 1
                if failures > 2:
                    raise StoreError(f"cannot update the Kubernetes Secret: {exc}") from None
            self.sleep(random.uniform(0, CONFLICT_BACKOFF * 2 ** min(attempt, 4)))
        raise StoreError("the Kubernetes Secret kept changing under us; gave up")


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def from_settings(settings) -> SecretStore:
    """The store the receiver section asks for; raises StoreError when it cannot be built."""
    opts = settings.section("receiver")
    if opts["secret_store"] == "file":
        return FileStore(settings.data_dir)
    api = opts["kubernetes_api_url"] or settings.kubernetes_api_url
    namespace = opts["kubernetes_namespace"]
    try:
        if not namespace:
            namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
        token = Path(opts["kubernetes_token_file"]).read_text().strip()
    except OSError as exc:
        raise StoreError(f"secret_store kubernetes: {exc.filename}: {exc.strerror}") from None
    if not api:
        raise StoreError(
            "secret_store kubernetes: no API server (KUBERNETES_SERVICE_HOST or receiver.kubernetes_api_url)"
        )
    ca = opts["kubernetes_ca_file"]
    return KubernetesStore(
        api, namespace, opts["kubernetes_secret"], token, ca if api.startswith("https") and Path(ca).is_file() else None
    )
