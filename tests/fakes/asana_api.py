"""A fake Asana REST API (the subset orgpulse uses), at <url>/api/1.0, for the real `asana` client.

Like Asana, creating a webhook performs the handshake first: it POSTs to the
target with X-Hook-Secret and creates the webhook only if the target echoes it.
Like a strict server, a boolean query parameter must be `true` or `false` (what
Asana documents): Python's `False` gets 400.
"""

from __future__ import annotations

import secrets
import time
import urllib.request

from tests.fakes.http import FakeServer, Request

BASE = "/api/1.0"
BOOLEAN_PARAMS = (
    "archived",
    "opt_pretty",
    "completed",
    "is_subtask",
    "has_attachment",
    "is_blocked",
    "is_blocking",
    "is_global",
)  # booleans of the endpoints' docs


class FakeAsana(FakeServer):
    routes = [
        ("GET", BASE + r"/tasks/(\w+)", "get_task"),
        ("GET", BASE + r"/projects/(\w+)/tasks", "project_tasks"),
        ("GET", BASE + r"/projects/(\w+)", "get_project"),
        ("GET", BASE + r"/projects", "list_projects"),
        ("GET", BASE + r"/webhooks", "list_webhooks"),
        ("POST", BASE + r"/webhooks", "create_webhook"),
        ("DELETE", BASE + r"/webhooks/(\w+)", "delete_webhook"),
    ]

    def __init__(self, token: str = "asana-test-token"):
        self.token = token
        self.tasks: dict[str, dict] = {}
        self.projects: dict[str, dict] = {}
        self.webhooks: dict[str, dict] = {}
        self.handshake_secrets: dict[str, str] = {}
        self.task_delay = 0.0
        self.refused: list[tuple[str, str]] = []  # (parameter, value) refused as not a boolean
        super().__init__()
        self.base_url = self.url + BASE

    def dispatch(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"errors": [{"message": "Not Authorized"}]}
        for name in BOOLEAN_PARAMS:
            for value in req.query.get(name, []):
                if value not in ("true", "false"):
                    self.refused.append((name, value))
                    return 400, {}, {"errors": [{"message": f"{name}: Not a boolean: {value}"}]}
        return super().dispatch(req)

    def get_task(self, req, match):
        time.sleep(self.task_delay)  # a slow but successful answer
        task = self.tasks.get(match.group(1))
        return (200, {}, {"data": task}) if task else (404, {}, {"errors": [{"message": "no task"}]})

    def _page(self, req, items: list[dict]):
        """Asana's pagination: limit + an opaque offset token, next_page while more remain."""
        limit = int(req.query.get("limit", ["100"])[0])
        start = int(req.query.get("offset", ["0"])[0])
        page = items[start : start + limit]
        more = start + limit < len(items)
        return (
            200,
            {},
            {
                "data": page,
                "next_page": {"offset": str(start + limit), "path": req.path, "uri": self.url + req.path}
                if more
                else None,
            },
        )

    def list_projects(self, req, match):
        archived = req.query.get("archived", ["false"])[0] == "true"
        return self._page(req, [p for p in self.projects.values() if bool(p.get("archived")) == archived])

    def project_tasks(self, req, match):
        since = req.query.get("completed_since", [None])[0]
        from orgpulse.timeutil import parse_time  # the fake filters as Asana does

        cutoff = parse_time(since) if since else None
        items = [
            t
            for t in self.tasks.values()
            if any((ms.get("project") or {}).get("gid") == match.group(1) for ms in t.get("memberships") or [])
            and (not t.get("completed") or cutoff is None or parse_time(t.get("completed_at")) >= cutoff)
        ]
        return self._page(req, items)

    def get_project(self, req, match):
        project = self.projects.get(match.group(1))
        return (200, {}, {"data": project}) if project else (404, {}, {"errors": [{}]})

    def list_webhooks(self, req, match):
        workspace = req.query.get("workspace", [""])[0]
        items = [w for w in self.webhooks.values() if w["workspace"] == workspace]
        return 200, {}, {"data": items, "next_page": None}

    def create_webhook(self, req, match):
        data = req.json()["data"]
        secret = secrets.token_hex(16)
        handshake = urllib.request.Request(data["target"], data=b"", method="POST", headers={"X-Hook-Secret": secret})
        try:
            with urllib.request.urlopen(handshake, timeout=5) as resp:
                echoed = resp.headers.get("X-Hook-Secret")
        except OSError:
            echoed = None
        if echoed != secret:
            return 400, {}, {"errors": [{"message": "handshake failed"}]}
        gid = str(1200000000000000 + len(self.webhooks) + 1)
        self.handshake_secrets[gid] = secret
        self.webhooks[gid] = {
            "gid": gid,
            "resource_type": "webhook",
            "active": True,
            "resource": {"gid": data["resource"]},
            "target": data["target"],
            "filters": data.get("filters", []),
            "workspace": "1",
        }
        return 201, {}, {"data": self.webhooks[gid]}

    def delete_webhook(self, req, match):
        self.webhooks.pop(match.group(1), None)
        return 200, {}, {"data": {}}
