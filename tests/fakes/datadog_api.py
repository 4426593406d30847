"""A stateful fake of the Datadog v1 endpoints orgpulse uses: dashboards, monitors, SLOs.

Shaped like the OpenAPI spec's responses (datadog-api-client deserializes and
type-checks every one): server-set fields (ids, timestamps, authors, widget ids,
monitor option defaults) are added as the real API adds them, deleting a monitor
an SLO uses is refused (400), deleting an SLO a monitor uses is refused (409),
and every request needs both keys. `edit_*` helpers play someone editing in the UI.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from datetime import UTC, datetime

from tests.fakes.http import FakeServer

CREATOR = {"email": "ops@example.com", "handle": "ops@example.com", "name": "Ops"}
# Monitor options the real API fills in when a request leaves them out.
MONITOR_DEFAULTS = {
    "notify_audit": False,
    "new_host_delay": 300,
    "silenced": {},
    "include_tags": True,
    "evaluation_delay": None,
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _forbidden(req) -> bool:
    return not (req.headers.get("dd-api-key") and req.headers.get("dd-application-key"))


class FakeDatadog(FakeServer):
    routes = [
        ("GET", r"/api/v1/dashboard", "list_dashboards"),
        ("POST", r"/api/v1/dashboard", "create_dashboard"),
        ("GET", r"/api/v1/dashboard/(?P<id>[^/]+)", "get_dashboard"),
        ("PUT", r"/api/v1/dashboard/(?P<id>[^/]+)", "update_dashboard"),
        ("DELETE", r"/api/v1/dashboard/(?P<id>[^/]+)", "delete_dashboard"),
        ("GET", r"/api/v1/monitor", "list_monitors"),
        ("POST", r"/api/v1/monitor", "create_monitor"),
        ("GET", r"/api/v1/monitor/(?P<id>\d+)", "get_monitor"),
        ("PUT", r"/api/v1/monitor/(?P<id>\d+)", "update_monitor"),
        ("DELETE", r"/api/v1/monitor/(?P<id>\d+)", "delete_monitor"),
        ("GET", r"/api/v1/slo", "list_slos"),
        ("POST", r"/api/v1/slo", "create_slo"),
        ("GET", r"/api/v1/slo/(?P<id>[0-9a-f]+)", "get_slo"),
        ("PUT", r"/api/v1/slo/(?P<id>[0-9a-f]+)", "update_slo"),
        ("DELETE", r"/api/v1/slo/(?P<id>[0-9a-f]+)", "delete_slo"),
    ]

    def __init__(self):
        self.dashboards: dict[str, dict] = {}
        self.monitors: dict[int, dict] = {}
        self.slos: dict[str, dict] = {}
        self._ids = itertools.count(1000)
        self._state = threading.Lock()
        super().__init__()

    def dispatch(self, req):
        if _forbidden(req):
            return 403, {}, {"errors": ["Forbidden"]}
        with self._state:
            return super().dispatch(req)

    def writes(self) -> int:
        return sum(1 for r in self.log if r.method != "GET")

    # ------------------------------------------------------------- dashboards
    def _stamp_widgets(self, widgets: list[dict]) -> None:
        for w in widgets:
            w["id"] = next(self._ids)
            self._stamp_widgets(w["definition"].get("widgets", []))

    def _dashboard(self, body: dict, dash_id: str, created: str) -> dict:
        out = {
            **copy.deepcopy(body),
            "id": dash_id,
            "author_handle": CREATOR["handle"],
            "author_name": CREATOR["name"],
            "created_at": created,
            "modified_at": _now(),
            "url": f"/dashboard/{dash_id}/orgpulse",
            "is_read_only": False,
            "notify_list": body.get("notify_list", []),
        }
        self._stamp_widgets(out.get("widgets", []))
        return out

    def list_dashboards(self, req, match):
        count = int(req.query.get("count", ["100"])[0])
        start = int(req.query.get("start", ["0"])[0])
        rows = [
            {
                k: d.get(k)
                for k in (
                    "id",
                    "title",
                    "description",
                    "layout_type",
                    "url",
                    "author_handle",
                    "created_at",
                    "modified_at",
                    "is_read_only",
                )
            }
            for d in self.dashboards.values()
        ]
        return 200, {}, {"dashboards": rows[start : start + count]}

    def create_dashboard(self, req, match):
        dash_id = "-".join(secrets.token_hex(2)[:3] for _ in range(3))
        self.dashboards[dash_id] = self._dashboard(req.json(), dash_id, _now())
        return 200, {}, self.dashboards[dash_id]

    def get_dashboard(self, req, match):
        found = self.dashboards.get(match["id"])
        return (200, {}, found) if found else (404, {}, {"errors": ["Dashboard not found"]})

    def update_dashboard(self, req, match):
        old = self.dashboards.get(match["id"])
        if old is None:
            return 404, {}, {"errors": ["Dashboard not found"]}
        self.dashboards[match["id"]] = self._dashboard(req.json(), match["id"], old["created_at"])
        return 200, {}, self.dashboards[match["id"]]

    def delete_dashboard(self, req, match):
        if self.dashboards.pop(match["id"], None) is None:
            return 404, {}, {"errors": ["Dashboard not found"]}
        return 200, {}, {"deleted_dashboard_id": match["id"]}

    # ------------------------------------------------------------- monitors
    def _monitor(self, body: dict, mon_id: int, created: str) -> dict:
        options = {**MONITOR_DEFAULTS, **body.get("options", {})}
        return {
            **copy.deepcopy(body),
            "options": options,
            "id": mon_id,
            "created": created,
            "modified": _now(),
            "creator": CREATOR,
            "overall_state": "No Data",
            "deleted": None,
            "multi": " by " in body.get("query", ""),
            "restricted_roles": None,
        }

    def list_monitors(self, req, match):
        wanted = [t for t in req.query.get("monitor_tags", [""])[0].split(",") if t]
        page = int(req.query.get("page", ["0"])[0])
        size = int(req.query.get("page_size", ["100"])[0])
        rows = [m for m in self.monitors.values() if all(t in m.get("tags", []) for t in wanted)]
        return 200, {}, rows[page * size : (page + 1) * size]

    def create_monitor(self, req, match):
        mon_id = next(self._ids)
        self.monitors[mon_id] = self._monitor(req.json(), mon_id, _now())
        return 200, {}, self.monitors[mon_id]

    def get_monitor(self, req, match):
        found = self.monitors.get(int(match["id"]))
        return (200, {}, found) if found else (404, {}, {"errors": ["Monitor not found"]})

    def update_monitor(self, req, match):
        old = self.monitors.get(int(match["id"]))
        if old is None:
            return 404, {}, {"errors": ["Monitor not found"]}
        merged = {**old, **req.json()}  # a PUT keeps what it does not name
        self.monitors[old["id"]] = self._monitor(merged, old["id"], old["created"])
        return 200, {}, self.monitors[old["id"]]

    def delete_monitor(self, req, match):
        mon_id = int(match["id"])
        users = [s["id"] for s in self.slos.values() if mon_id in s.get("monitor_ids", [])]
        if users:
            return 400, {}, {"errors": [f"monitor {mon_id} is referenced in slos: {users}"]}
        if self.monitors.pop(mon_id, None) is None:
            return 404, {}, {"errors": ["Monitor not found"]}
        return 200, {}, {"deleted_monitor_id": mon_id}

    # ------------------------------------------------------------- SLOs
    def _slo(self, body: dict, slo_id: str, created: int) -> dict:
        return {
            **copy.deepcopy(body),
            "id": slo_id,
            "created_at": created,
            "modified_at": int(datetime.now(UTC).timestamp()),
            "creator": CREATOR,
            "monitor_tags": [],
        }

    def list_slos(self, req, match):
        wanted = [t for t in req.query.get("tags_query", [""])[0].replace(" AND ", " ").split() if t]
        limit = int(req.query.get("limit", ["1000"])[0])
        offset = int(req.query.get("offset", ["0"])[0])
        rows = [s for s in self.slos.values() if all(t in s.get("tags", []) for t in wanted)]
        return (
            200,
            {},
            {
                "data": rows[offset : offset + limit],
                "metadata": {"page": {"total_count": len(rows), "total_filtered_count": len(rows)}},
            },
        )

    def create_slo(self, req, match):
        slo_id = secrets.token_hex(16)
        self.slos[slo_id] = self._slo(req.json(), slo_id, int(datetime.now(UTC).timestamp()))
        return 200, {}, {"data": [self.slos[slo_id]]}

    def get_slo(self, req, match):
        found = self.slos.get(match["id"])
        return (200, {}, {"data": found}) if found else (404, {}, {"errors": ["SLO not found"]})

    def update_slo(self, req, match):
        old = self.slos.get(match["id"])
        if old is None:
            return 404, {}, {"errors": ["SLO not found"]}
        self.slos[old["id"]] = self._slo(req.json(), old["id"], old["created_at"])
        return 200, {}, {"data": [self.slos[old["id"]]]}

    def delete_slo(self, req, match):
        users = [m["id"] for m in self.monitors.values() if match["id"] in m.get("query", "")]
        if users:
            return 409, {}, {"errors": [f"SLO is referenced by monitors {users}"]}
        if self.slos.pop(match["id"], None) is None:
            return 404, {}, {"errors": ["SLO not found"]}
        return 200, {}, {"data": [match["id"]], "errors": {}}
