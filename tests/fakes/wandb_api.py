"""A fake W&B GraphQL API for the real `wandb.Api`: the viewer queries its login makes, the
Runs query (Mongo-style filters on createdAt/heartbeatAt/state/name, cursor pages) and a run's
sampled system-metrics history (`RunFullHistory`, the `events` node `run.history(stream=
"system")` asks for). Failures can be scripted per GraphQL operation."""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque

from orgpulse.timeutil import parse_time
from tests.fakes.http import FakeServer

VIEWER = {
    "id": "VXNlcjox",
    "entity": "ml-org",
    "username": "orgpulse",
    "email": None,
    "flags": "{}",
    "teams": {"edges": []},
}
RUN_FIELDS = {
    "tags": [],
    "sweepName": None,
    "config": "{}",
    "group": None,
    "jobType": None,
    "commit": None,
    "readOnly": False,
    "description": None,
    "notes": None,
    "historyLineCount": 10,
    "user": {"name": "a", "username": "a"},
    "historyKeys": None,
}


OPS = {"$gte": lambda a, b: a >= b, "$gt": lambda a, b: a > b, "$lt": lambda a, b: a < b, "$in": lambda a, b: a in b}


def _match(run: dict, flt: dict) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(_match(run, f) for f in cond):
                return False
        elif key == "$or":
            if not any(_match(run, f) for f in cond):
                return False
        elif isinstance(cond, dict):
            value = parse_time(run.get(key)) if key in ("createdAt", "heartbeatAt") else run.get(key)
            for op, ref in cond.items():
                ref = parse_time(ref) if key in ("createdAt", "heartbeatAt") else ref
                if value is None or not OPS[op](value, ref):
                    return False
        elif run.get(key) != cond:
            return False
    return True


class FakeWandb(FakeServer):
    routes = [("POST", r"/graphql", "graphql")]

    def __init__(self, port: int = 0):
        self.runs: dict[tuple[str, str], list[dict]] = {}  # (entity, project) -> runs
        self.events: dict[tuple[str, str, str], list[dict]] = {}  # system-metrics rows per run
        self.run_queries: list[dict] = []
        self.history_queries: list[dict] = []
        self._op_failures: dict[str, deque] = defaultdict(deque)
        super().__init__(port)

    def add(
        self,
        entity: str,
        project: str,
        run_id: str,
        name: str,
        state: str,
        created: str,
        heartbeat: str,
        summary: dict | None = None,
        system: dict | None = None,
        events: list[dict] | None = None,
    ) -> None:
        """A run; `system` is its latest system-metrics sample, `events` its history."""
        self.runs.setdefault((entity, project), []).append(
            {
                "projectId": "1",
                "id": run_id,
                "name": run_id,
                "displayName": name,
                "state": state,
                "createdAt": created,
                "heartbeatAt": heartbeat,
                **RUN_FIELDS,
                "summaryMetrics": json.dumps(summary or {}),
                "systemMetrics": json.dumps(system or {}),
            }
        )
        self.events[(entity, project, run_id)] = list(events or ([system] if system else []))

    def fail_operation(self, operation: str, *answers: tuple[int, dict]) -> None:
        """Answer the next requests of one GraphQL operation (e.g. RunFullHistory) with these."""
        self._op_failures[operation].extend(answers)

    def graphql(self, req, match):
        body = req.json()
        query, variables = body.get("query", ""), body.get("variables") or {}
        op = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
        failures = self._op_failures.get(op.group(1) if op else "")
        if failures:
            status, headers = failures.popleft()
            return status, headers, {"errors": [{"message": f"scripted {status}"}]}
        if "query Runs" in query:
            return 200, {}, self._runs(variables)
        if "query RunFullHistory" in query:
            return 200, {}, self._history(query, variables)
        if "viewer" in query:
            return 200, {}, {"data": {"viewer": VIEWER}}
        return 200, {}, {"data": {}}

    def _history(self, query: str, v: dict) -> dict:
        """`events(samples: N)`: the system stream, at most N rows spread evenly, as W&B samples."""
        self.history_queries.append(v)
        node = "events" if re.search(r"\bevents\(", query) else "history"
        rows = self.events.get((v["entity"], v["project"], v["name"]), []) if node == "events" else []
        samples = int(v.get("samples") or 500)
        if len(rows) > samples:
            rows = [rows[i * len(rows) // samples] for i in range(samples)]
        return {"data": {"project": {"run": {node: [json.dumps(r) for r in rows]}}}}

    def _runs(self, v: dict) -> dict:
        self.run_queries.append(v)
        flt = json.loads(v.get("filters") or "{}")
        runs = sorted(
            (r for r in self.runs.get((v["entity"], v["project"]), []) if _match(r, flt)), key=lambda r: r["createdAt"]
        )
        start = int(v.get("cursor") or 0)
        size = int(v.get("perPage") or 50)
        page = runs[start : start + size]
        more = start + size < len(runs)
        return {
            "data": {
                "project": {
                    "internalId": "1",
                    "runCount": len(runs),
                    "readOnly": False,
                    "runs": {
                        "edges": [{"node": r, "cursor": str(start + i + 1)} for i, r in enumerate(page)],
                        "pageInfo": {"endCursor": str(start + len(page)), "hasNextPage": more},
                    },
                }
            }
        }
