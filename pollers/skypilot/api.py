"""The SkyPilot API server's REST protocol, spoken as the SDK speaks it (sky/client/sdk.py).

POST /status and POST /jobs/queue/v2 start a request and return its id in
X-Skypilot-Request-ID; GET /api/get?request_id=… waits for the request and
answers its record: HTTP 200 when it succeeded (`return_value` is JSON text),
HTTP 500 with the record under `detail` when it failed (`error` is JSON text:
{"type", "message", "object"}). A failed request is a final answer — asking
again only re-runs it — so it is raised as RequestFailed, never retried; a 500
without a record (a proxy, a crash) is transient and retried like any 5xx.

Every request carries the SDK's version headers, so a newer server answers in
the shapes of the API version orgpulse was tested against (its compatibility
layer keys on them), and GET /api/health says which version the server is.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from pollers import retry

# SkyPilot 0.14.1, the server the conformance test runs (tests/pollers/test_skypilot_real_server.py).
API_VERSION = 62
SKYPILOT_VERSION = "0.14.1"
TESTED_API_VERSIONS = range(62, 63)  # a server outside this range is logged and counted
JOB_FIELDS = [
    "job_id",
    "task_id",
    "status",
    "submitted_at",
    "start_at",
    "end_at",
    "job_duration",
    "accelerators",
    "resources",
    "cluster_resources",
    "region",
    "recovery_count",
    "user_hash",
    "is_primary_in_job_group",
]


class RequestFailed(Exception):
    """The server ran the request and it failed: the SDK's exception, by type name and message."""

    def __init__(self, name: str, error_type: str, message: str):
        super().__init__(f"{name}: {error_type}: {message}")
        self.error_type, self.message = error_type, message


def failed_record(exc: urllib.error.HTTPError) -> dict | None:
    """The request record inside a 500 from /api/get, or None when the 500 is not one."""
    if exc.code != 500:
        return None
    try:
        detail = json.loads(exc.read() or b"null").get("detail")
    except (ValueError, AttributeError):
        return None
    return detail if isinstance(detail, dict) and "request_id" in detail and "status" in detail else None


def outcome(record: dict) -> Any:
    """A finished request's return value, or RequestFailed with the server's error."""
    name = str(record.get("name") or "request")
    error = record.get("error")
    error = json.loads(error) if isinstance(error, str) else error
    if error is not None:
        if not isinstance(error, dict):  # the SDK reads a bare error as a RuntimeError
            raise RequestFailed(name, "RuntimeError", str(error))
        raise RequestFailed(name, str(error.get("type") or "UnknownError"), str(error.get("message") or ""))
    if record.get("status") == "CANCELLED":
        raise RequestFailed(name, "RequestCancelled", "cancelled on the server")
    if record.get("status") != "SUCCEEDED":
        raise RuntimeError(f"{name}: request {record.get('status')}")
    return json.loads(record["return_value"])


class SkyPilotApi:
    def __init__(
        self,
        endpoint: str,
        token: str | None,
        timeout: float = 60,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.sleep, self.backoff = sleep, backoff  # retry pacing, injected by tests

    def _http(self, method: str, path: str, body: dict | None = None):
        headers = {
            "Content-Type": "application/json",
            "X-SkyPilot-API-Version": str(API_VERSION),
            "X-SkyPilot-Version": SKYPILOT_VERSION,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.endpoint + path,
            method=method,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as resp:
            return resp.headers, resp.read()

    def _retried(self, fn):
        return retry.call(fn, base=self.backoff, sleep=self.sleep)

    def _record(self, request_id: str) -> dict:
        try:
            return json.loads(self._http("GET", f"/api/get?request_id={request_id}")[1])
        except urllib.error.HTTPError as exc:
            record = failed_record(exc)
            if record is None:
                raise
            return record

    def call(self, path: str, body: dict) -> Any:
        """Start a request and wait for its outcome (transport failures retried, failed requests not)."""
        headers, _ = self._retried(lambda: self._http("POST", path, body))
        request_id = headers.get("X-Skypilot-Request-ID")
        if not request_id:
            raise RuntimeError(f"{path}: no X-Skypilot-Request-ID in the answer")
        return outcome(self._retried(lambda: self._record(request_id)))

    def health(self) -> dict:
        """The server's versions: the response headers every answer carries, else the body's."""
        headers, raw = self._retried(lambda: self._http("GET", "/api/health"))
        body = json.loads(raw or b"{}")
        api_version = str(headers.get("X-SkyPilot-API-Version") or body.get("api_version") or "")
        return {
            "api_version": int(api_version) if api_version.isdigit() else None,
            "version": headers.get("X-SkyPilot-Version") or body.get("version"),
            "status": body.get("status"),
        }

    def clusters(self) -> list[dict]:
        return self.call(
            "/status", {"all_users": True, "refresh": "NONE", "include_credentials": False, "include_handle": False}
        )

    def managed_jobs(self) -> list[dict]:
        """Every task row of the managed-job queue (a pipeline has one row per task)."""
        value = self.call(
            "/jobs/queue/v2", {"all_users": True, "refresh": False, "skip_finished": False, "fields": JOB_FIELDS}
        )
        return value.get("jobs", []) if isinstance(value, dict) else value  # v2 dict or legacy list
