"""A fake SkyPilot API server: the request/result protocol the SDK and orgpulse use.

POST /status and POST /jobs/queue/v2 answer with a request id (X-Skypilot-Request-ID);
GET /api/get?request_id=… answers the RequestPayload whose return_value is JSON text.
"""
from __future__ import annotations

import json
import time
import uuid

from tests.fakes.http import FakeServer


class FakeSkyPilot(FakeServer):
    routes = [("POST", r"/status", "start_status"), ("POST", r"/jobs/queue/v2", "start_jobs"),
              ("GET", r"/api/get", "get"), ("GET", r"/api/health", "health")]

    def __init__(self, token: str = "sky-sa-token"):
        self.token = token
        self.clusters: list[dict] = []
        self.jobs: list[dict] = []
        self.queue_shape = "dict"  # or "list": servers before the v2 dict answer
        self.pending: dict[str, tuple[str, object]] = {}
        super().__init__()

    def dispatch(self, req):
        if req.headers.get("authorization") != f"Bearer {self.token}":
            self.requests[req.path] += 1
            return 401, {}, {"detail": "Unauthorized"}
        return super().dispatch(req)

    def _start(self, name: str, value) -> tuple:
        request_id = str(uuid.uuid4())
        self.pending[request_id] = (name, value)
        return 200, {"X-Skypilot-Request-ID": request_id, "X-Skypilot-API-Version": "20"}, {}

    def start_status(self, req, match):
        assert req.json()["all_users"] is True
        return self._start("status", self.clusters)

    def start_jobs(self, req, match):
        jobs = self.jobs
        value = {"jobs": jobs, "total": len(jobs), "total_no_filter": len(jobs),
                 "status_counts": {}} if self.queue_shape == "dict" else jobs
        return self._start("jobs.queue_v2", value)

    def get(self, req, match):
        request_id = req.query.get("request_id", [""])[0]
        if request_id not in self.pending:
            return 404, {}, {"detail": f"Request {request_id} not found"}
        name, value = self.pending.pop(request_id)
        return 200, {}, {"request_id": request_id, "name": name, "entrypoint": "", "request_body": "{}",
                         "status": "SUCCEEDED", "created_at": time.time(), "user_id": "u",
                         "return_value": json.dumps(value), "error": json.dumps(None), "pid": None,
                         "schedule_type": "short"}

    def health(self, req, match):
        return 200, {}, {"status": "healthy", "api_version": "20"}
