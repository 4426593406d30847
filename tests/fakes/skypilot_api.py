"""A fake SkyPilot API server answering as a real 0.14.1 server does (checked against one:
tests/pollers/test_skypilot_real_server.py, and sky/server/server.py, sky/client/sdk.py).

POST /status and POST /jobs/queue/v2 answer `null` with the request id in
X-Skypilot-Request-ID; GET /api/get?request_id=… answers the request record —
HTTP 200 when it succeeded (`return_value` is JSON text), HTTP 500 with the
record under `detail` when it failed (status FAILED, `error` is JSON text with
type, message and a pickled `object`). Request names are the server's
(`sky.status`, `sky.jobs.queue_v2`). Every answer carries the server's version
headers; the headers each request came with are kept in `log`.
"""

from __future__ import annotations

import json
import time
import uuid

from tests.fakes.http import FakeServer

NAMES = {"/status": "sky.status", "/jobs/queue/v2": "sky.jobs.queue_v2"}


class FakeSkyPilot(FakeServer):
    routes = [
        ("POST", r"/status", "start"),
        ("POST", r"/jobs/queue/v2", "start"),
        ("GET", r"/api/get", "get"),
        ("GET", r"/api/health", "health"),
    ]

    def __init__(self, token: str = "sky-sa-token"):
        self.token = token
        self.pending: dict[str, tuple[str, tuple[str, str] | None]] = {}
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """A fresh server (the fake is shared by a module's tests)."""
        self.clusters: list[dict] = []
        self.jobs: list[dict] = []
        self.queue_shape = "dict"  # or "list": servers before the v2 dict answer
        self.api_version, self.version = "62", "0.14.1"
        self.failures: dict[str, list[tuple[str, str]]] = {}  # path -> [(error type, message)]
        self.pending.clear()
        self.requests.clear()
        self.log.clear()
        self._failures.clear()

    def fail_request(self, path: str, error_type: str, message: str, times: int = 1) -> None:
        """The next `times` requests started on `path` fail on the server with this exception."""
        self.failures.setdefault(path, []).extend([(error_type, message)] * times)

    def dispatch(self, req):
        if req.headers.get("authorization") != f"Bearer {self.token}" and req.path != "/api/health":
            self.requests[req.path] += 1
            return 401, {}, {"detail": "Unauthorized"}
        status, headers, body = super().dispatch(req)
        return status, {"X-SkyPilot-API-Version": self.api_version, "X-SkyPilot-Version": self.version, **headers}, body

    def _value(self, path: str):
        if path == "/status":
            return self.clusters
        if self.queue_shape == "list":
            return self.jobs
        return {
            "jobs": self.jobs,
            "total": len(self.jobs),
            "total_no_filter": len(self.jobs),
            "status_counts": {},
            "infra_options": [],
        }

    def start(self, req, match):
        if req.path == "/status":
            assert req.json()["all_users"] is True
        request_id = str(uuid.uuid4())
        failure = self.failures.get(req.path)
        self.pending[request_id] = (req.path, failure.pop(0) if failure else None)
        return 200, {"X-Skypilot-Request-ID": request_id}, None

    def get(self, req, match):
        request_id = req.query.get("request_id", [""])[0]
        if request_id not in self.pending:
            return 404, {}, {"detail": f"Request {request_id!r} not found"}
        path, failure = self.pending[request_id]  # kept, as the server keeps its request records
        record = {
            "request_id": request_id,
            "name": NAMES[path],
            "entrypoint": "gASV",
            "request_body": "gASV",
            "status": "SUCCEEDED",
            "created_at": time.time(),
            "user_id": "fcd1e5cf",
            "return_value": json.dumps(self._value(path)),
            "error": "null",
            "pid": 1,
            "schedule_type": "short",
            "user_name": None,
            "cluster_name": None,
            "status_msg": None,
            "should_retry": False,
            "finished_at": time.time(),
            "file_mounts_blob_id": None,
        }
        if failure is None:
            return 200, {}, record
        error_type, message = failure
        record.update(
            status="FAILED",
            return_value="null",
            error=json.dumps({"object": "gASV4gYAAAAAAAB9lC4=", "type": error_type, "message": message}),
        )
        return 500, {}, {"detail": record}

    def health(self, req, match):
        return (
            200,
            {},
            {
                "status": "healthy",
                "api_version": self.api_version,
                "version": self.version,
                "version_on_disk": self.version,
                "commit": "7e595970",
                "basic_auth_enabled": False,
                "user": None,
            },
        )
