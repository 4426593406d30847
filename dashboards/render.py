"""`render` and `pull`: request bodies and live objects as JSON files, one per object,
under DIR/dashboards/, DIR/monitors/, DIR/slos/ — keys sorted, two-space indent,
so `git diff` and `diff -r render/ pull/` read well.

`pull` writes what is live without the fields only the server sets (ids,
timestamps, authors, widget ids) and with live ids turned back into the
placeholders `render` shows (`${monitor:key}`, `${slo:key}`): a reviewer diffs it
against `render` to see what was edited in the UI, and folds it into code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards import alerting
from dashboards.api import Live
from dashboards.registry import Definitions

FOLDERS = {"dashboard": "dashboards", "monitor": "monitors", "slo": "slos"}
# Set by the server besides the models' read-only fields (deprecated or defaulted).
SERVER_FIELDS = {
    "dashboard": {"is_read_only"},
    "monitor": {"matching_downtimes", "restricted_roles"},
    "slo": {"monitor_tags"},
}

# datadog-api-client takes ~0.3 s to import: it is imported where it is used, so `orgpulse --help`
# (which registers every command) and the actions that need no request body never load it.


def dumps(body: Any) -> str:
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(out_dir: Path, files: dict[str, dict[str, Any]]) -> list[Path]:
    written = []
    for kind, objects in files.items():
        folder = out_dir / FOLDERS[kind]
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.json"):
            stale.unlink()
        for name, body in sorted(objects.items()):
            path = folder / f"{name}.json"
            path.write_text(dumps(body), encoding="utf-8")
            written.append(path)
    return written


def render(defs: Definitions, out_dir: Path, with_env: bool) -> list[Path]:
    """The exact request bodies (placeholders where an id is known only after apply)."""
    kinds = defs.kinds() if with_env else {"dashboard": defs.dashboards}
    return _write(out_dir, kinds)


def _read_only(kind: str) -> set[str]:
    """What the API's response model marks read-only, and SERVER_FIELDS."""
    from datadog_api_client.v1.model.dashboard import Dashboard
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.service_level_objective import ServiceLevelObjective

    model: Any = {"dashboard": Dashboard, "monitor": Monitor, "slo": ServiceLevelObjective}[kind]
    return set(model.read_only_vars) | SERVER_FIELDS[kind]


def _strip_widget_ids(widgets: list[dict]) -> list[dict]:
    out = []
    for w in widgets:
        w = {k: v for k, v in w.items() if k != "id"}
        if "widgets" in w.get("definition", {}):
            w["definition"] = {**w["definition"], "widgets": _strip_widget_ids(w["definition"]["widgets"])}
        out.append(w)
    return out


def _placeholders(body: Any, names: dict[str, str]) -> Any:
    """Live ids back into `${kind:key}` placeholders: in monitor_ids (numbers) and in
    burn_rate("<slo id>") queries (text)."""
    if isinstance(body, dict):
        return {
            k: [names.get(str(i), i) for i in v]
            if k == "monitor_ids" and isinstance(v, list)
            else _placeholders(v, names)
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_placeholders(v, names) for v in body]
    if isinstance(body, str):
        for live_id, ref in names.items():
            body = body.replace(f'"{live_id}"', f'"{ref}"')
    return body


def clean(live: Live, names: dict[str, str]) -> dict:
    """A live object as it would be defined: no server fields, placeholders for ids."""
    body = {k: v for k, v in live.body.items() if k not in _read_only(live.kind)}
    if live.kind == "dashboard":
        body["widgets"] = _strip_widget_ids(body.get("widgets", []))
    return _placeholders(body, {k: v for k, v in names.items() if v != _own(live)})


def _own(live: Live) -> str:
    return alerting.monitor_ref(live.key) if live.kind == "monitor" else alerting.slo_ref(live.key)


def pull(objects: list[Live], out_dir: Path, kinds: list[str]) -> list[Path]:
    names = {str(o.id): _own(o) for o in objects if o.kind != "dashboard"}
    files: dict[str, dict[str, Any]] = {k: {} for k in kinds}
    for live in sorted(objects, key=lambda o: (o.kind, o.key, str(o.id))):
        name = live.key if live.key not in files[live.kind] else f"{live.key}.duplicate-{live.id}"
        files[live.kind][name] = clean(live, names)
    return _write(out_dir, files)
