"""Mutations of the real stored payloads, and what must hold for each one sent.

Shared by the Hypothesis suite (tests/receiver/test_fuzz.py: ops drawn by Hypothesis, shrunk on
failure) and bench/fuzz.py (ops drawn by random.Random, outcomes tallied). A mutation is
a list of ops (kind, path choice, value) applied to one payload:

  swap     the value at a path becomes a value of another type
  drop     the key at a path is removed
  nest     the value at a path is wrapped in 1..50 arrays
  deep     the value at a path becomes an array nested 1,000 deep (raw JSON text)
  number   the value becomes an out-of-range number (1e20, year 10000, int64 max…)
  unicode  the value becomes arbitrary text

Paths are picked among every key of the payload, half the time among the keys handlers
read (INTERESTING), so the fields that matter are hit often.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from orgpulse.tags import RESERVED, entity_project, human_name, owner_name
from receiver.envelope import STATUS
from receiver.sources.asana import ACTIONS, RESOURCE_TYPES
from receiver.sources.github import HANDLERS
from receiver.sources.github.ci import CONCLUSIONS
from receiver.sources.github.events import DOCUMENTED
from receiver.sources.wandb import KNOWN_EVENTS, RUN_STATES
from tests.conftest import FIXTURES, GITHUB

KINDS = ("swap", "drop", "nest", "deep", "number", "unicode")
NUMBERS = (
    1e20,
    -1e20,
    253402300800,
    -62135596801,
    9223372036854775807,
    -9223372036854775808,
    18446744073709551615,
    1e308,
    -0.0,
    2**31,
    -1,
)
SWAPS = (
    None,
    True,
    False,
    0,
    -1,
    3.5,
    "",
    "x",
    "2019-05-15T17:20:33Z",
    [],
    [1, "a"],
    {},
    {"a": {"b": []}},
    "../../etc/passwd",
    "f" * 40,
    "12345",
)
INTERESTING = frozenset(
    [
        "action",
        "repository",
        "full_name",
        "default_branch",
        "id",
        "pull_request",
        "user",
        "login",
        "type",
        "__typename",
        "base",
        "ref",
        "draft",
        "merged_at",
        "created_at",
        "additions",
        "deletions",
        "changed_files",
        "review",
        "state",
        "submitted_at",
        "number",
        "ref",
        "deleted",
        "forced",
        "commits",
        "message",
        "distinct",
        "sender",
        "ref_type",
        "workflow_run",
        "name",
        "path",
        "conclusion",
        "run_started_at",
        "updated_at",
        "run_attempt",
        "head_branch",
        "head_repository",
        "head_sha",
        "workflow_job",
        "workflow_name",
        "labels",
        "started_at",
        "completed_at",
        "check_run",
        "check_suite",
        "app",
        "deployment_status",
        "deployment",
        "environment",
        "events",
        "resource",
        "resource_type",
        "resource_subtype",
        "gid",
        "parent",
        "change",
        "field",
        "event_type",
        "entity",
        "project",
        "run_state",
        "workflow_id",
    ]
)
DEEP_MARK = "\u0000orgpulse-deep\u0000"

# Capped tags: (the fuzz receiver's cap, the shape a value must have).
CAPS = 5
CAPPED = {
    "repo": owner_name,
    "workflow": human_name,
    "environment": human_name,
    "project": lambda v: entity_project(v) or human_name(v),
}
ENUMERATED = {
    "conclusion": CONCLUSIONS | {"other"},
    "author_type": {"human", "bot"},
    "branch_type": {"default", "other"},
    "draft": {"true", "false"},
    "ref_type": {"branch", "tag"},
    "state": {
        "approved",
        "changes_requested",
        "commented",
        "dismissed",
        "success",
        "failure",
        "error",
        "inactive",
        "in_progress",
        "queued",
        "pending",
    }
    | RUN_STATES
    | {"other"},
    "action": ACTIONS | {"other"},
    "resource_type": RESOURCE_TYPES | {"other"},
    "kind": {"check_run", "check_suite", "workflow_run", "threshold", "change", "zscore"},
    "runner_class": {
        f"{h}_{o}" for h in ("github_hosted", "self_hosted") for o in ("linux", "windows", "macos", "other")
    },
    "event": DOCUMENTED | {"other", "unknown", "events", "handshake"} | {e.lower() for e in KNOWN_EVENTS},
    "source": {"github", "asana", "wandb", "unknown"},
    "reason": set(STATUS),
    "outcome": set(STATUS),
    "webhook": {"engineering"},
}


def github_corpus() -> list[tuple[str, dict, bool]]:
    """(event, payload, handled) for every stored GitHub delivery."""
    out = []
    for path in sorted(GITHUB.rglob("*.json")):
        event = path.relative_to(GITHUB).parts[0]
        out.append((event, json.loads(path.read_text()), event in HANDLERS))
    return out


def asana_corpus() -> list[dict]:
    lines = (FIXTURES / "asana/deliveries.jsonl").read_text().splitlines()
    return [json.loads(json.loads(x)["body"]) for x in lines]


def wandb_corpus() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / "wandb").glob("*.json"))]


def paths(value: Any, limit: int = 2000) -> list[tuple]:
    """Every (container, key) in `value`, breadth first (at most `limit`)."""
    out, queue = [], deque([value])
    while queue and len(out) < limit:
        node = queue.popleft()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((node, key))
            queue.append(child)
    return out


def _pick(payload: Any, choice: int) -> tuple | None:
    found = paths(payload)
    interesting = [(c, k) for c, k in found if isinstance(k, str) and k in INTERESTING]
    pool = interesting if interesting and choice % 2 else found
    return pool[(choice // 2) % len(pool)] if pool else None


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def apply(payload: Any, ops: list[tuple[str, int, Any]]) -> bytes:
    """The payload (changed in place) after `ops`, as the JSON bytes a sender would sign."""
    deep = False
    for kind, choice, value in ops:
        picked = _pick(payload, choice)
        if picked is None:
            continue
        container, key = picked
        if kind == "drop":
            del container[key]
        elif kind == "nest":
            container[key] = _nested(container[key], 1 + choice % 50)  # orjson writes ≤ 254 deep
        elif kind == "deep":
            container[key], deep = DEEP_MARK, True
        elif kind == "number":
            container[key] = NUMBERS[choice % len(NUMBERS)]
        else:  # swap, unicode: a copy of the drawn value (later ops may change it)
            container[key] = copy.deepcopy(value)
    text = orjson.dumps(payload)
    if deep:
        text = text.replace(orjson.dumps(DEEP_MARK), b"[" * 1000 + b"1" + b"]" * 1000)
    return text


def problems(status: int, lines: list, seen: dict[str, set]) -> list[str]:
    """What a sent delivery broke: a 5xx, a source metric from a refused delivery, a tag
    value outside its bound. `seen` accumulates capped tags' values across deliveries."""
    out = []
    if status >= 500:
        out.append(f"answered {status}")
    source = [x for x in lines if not x.name.startswith("orgpulse.")]
    if status >= 400 and source:
        out.append(f"refused ({status}) yet emitted {[x.name for x in source]}")
    for line in lines:
        for key, value in line.tag_map.items():
            if key in ENUMERATED and value not in ENUMERATED[key]:
                out.append(f"{line.name} {key}:{value} is not one of its values")
            elif key in CAPPED:
                seen.setdefault(key, set()).add(value)
                if value not in RESERVED and not CAPPED[key](value):
                    out.append(f"{line.name} {key}:{value} cannot be a {key}")
    for key, values in seen.items():
        if len(values - RESERVED) > CAPS:
            out.append(f"{key} took {len(values - RESERVED)} values, over its cap of {CAPS}")
    return out


def fuzz_options(tmp: Path) -> dict[str, str]:
    """The environment of a receiver whose capped tags hold CAPS values."""
    path = tmp / "fuzz.json"
    path.write_text(
        json.dumps(
            {
                "github": {"max_repositories": CAPS, "max_workflows": CAPS, "max_environments": CAPS},
                "wandb": {"max_projects": CAPS},
            }
        )
    )
    return {"ORGPULSE_CONFIG": str(path)}
