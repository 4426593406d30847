"""apply / diff / prune: the definitions against what orgpulse owns live.

Objects are matched by the identity they carry (identity.py), so applying twice
changes nothing the second time and a renamed title updates in place. The order
follows the references between objects: dashboards, monitors, SLOs (a
monitor-based SLO names its monitor's id), then the monitors that name an SLO
(burn-rate alerts); prune deletes in the reverse order, only objects orgpulse
owns in this scope (with --env: that environment's monitors and SLOs; without:
dashboards), and never a second object carrying a key already in use (a clone
someone made in the UI keeps our marker: it is reported, never touched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboards import alerting
from dashboards.api import Live
from dashboards.diff import differences, short
from dashboards.registry import Definitions


@dataclass
class Change:
    action: str  # create | update | unchanged | delete | duplicate
    kind: str
    key: str
    id: Any = None
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{self.action:<9} {self.kind} {self.key}" + (f" ({self.id})" if self.id is not None else "")
        return [head] + [f"    {path}: {short(old)} -> {short(new)}" for path, old, new in self.fields]


def _refers_to_slo(body: dict) -> bool:
    return any(kind == "slo" for kind, _ in alerting.refs(body))


# (kind, which definitions of that kind) in apply order; prune runs it backwards.
STAGES: tuple[tuple[str, Callable[[dict], bool]], ...] = (
    ("dashboard", lambda body: True),
    ("monitor", lambda body: not _refers_to_slo(body)),
    ("slo", lambda body: True),
    ("monitor", _refers_to_slo),
)


# Deletion order (live bodies hold real ids, not placeholders: tell alerts by type).
PRUNE_ORDER: tuple[tuple[str, Callable[[dict], bool]], ...] = (
    ("monitor", lambda live: live.get("type") == "slo alert"),
    ("slo", lambda live: True),
    ("monitor", lambda live: live.get("type") != "slo alert"),
    ("dashboard", lambda live: True),
)


def _by_key(objects: list[Live]) -> dict[str, list[Live]]:
    out: dict[str, list[Live]] = {}
    for obj in sorted(objects, key=lambda o: str(o.id)):
        out.setdefault(obj.key, []).append(obj)
    return out


@dataclass
class Sync:
    """One run: `api` is dashboards.api.Datadog (or anything with owned/create/update/delete)."""

    api: Any
    defs: Definitions
    env: str | None
    execute: bool  # False: diff / --dry-run
    report: Callable[[str], None] = print
    changes: list[Change] = field(default_factory=list)

    def run(self, prune: bool) -> list[Change]:
        kinds = ["dashboard"] + (["monitor", "slo"] if self.env is not None else [])
        self.live = {k: _by_key(self.api.owned(k, self.env)) for k in kinds}
        self.ids = {(k, key): objs[0].id for k, found in self.live.items() for key, objs in found.items()}
        for kind, wanted in STAGES:
            if kind in self.live:
                for key, body in sorted(self.defs.kinds()[kind].items()):
                    if wanted(body):
                        self._converge(kind, key, body)
        if prune:
            self._prune()
        return self.changes

    def _record(self, change: Change) -> None:
        self.changes.append(change)
        if change.action != "unchanged":
            for line in change.lines():
                self.report(line)

    def _converge(self, kind: str, key: str, body: dict) -> None:
        body = alerting.resolve(body, self.ids)
        found = self.live[kind].get(key, [])
        for extra in found[1:]:
            self._record(Change("duplicate", kind, key, extra.id))
        if not found:
            self._record(Change("create", kind, key))
            if self.execute:
                self.ids[(kind, key)] = self.api.create(kind, body).id
            return
        fields = list(differences(body, found[0].body))
        self._record(Change("update" if fields else "unchanged", kind, key, found[0].id, fields))
        if fields and self.execute:
            self.api.update(kind, found[0].id, body)

    def _prune(self) -> None:
        scope = ["dashboard"] if self.env is None else ["monitor", "slo"]
        for kind, doomed in PRUNE_ORDER:
            if kind not in scope:
                continue
            for key, found in sorted(self.live[kind].items()):
                if key in self.defs.kinds()[kind]:
                    continue  # defined: extra copies were reported as duplicates, never deleted
                for obj in found:
                    if doomed(obj.body):
                        self._record(Change("delete", kind, key, obj.id))
                        if self.execute:
                            self.api.delete(kind, obj.id)


def summary(changes: list[Change]) -> str:
    counts = {a: sum(c.action == a for c in changes) for a in ("create", "update", "delete", "unchanged", "duplicate")}
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing defined"
