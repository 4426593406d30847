"""`orgpulse dashboards validate`: offline, no keys. A definition passes only if

1. it deserializes into datadog-api-client's own model (Dashboard, Monitor,
   ServiceLevelObjectiveRequest) with nothing unparsed: the client accepts an
   unknown widget type, enum value or field silently (an `_unparsed` model, a
   raw dict left in a oneOf, an extra key) — each of those is refused here;
2. every metric and tag key in every query is in orgpulse/catalog.csv (or on the
   allow-list in dashboards/queryable.py), aggregated as its type requires, and filtered by
   `$env` and the dashboard's other template variables (monitors: `env:<name>`);
   a monitor's warning is on the side of its critical that Datadog accepts;
3. every catalog metric is on a dashboard or listed in UNPLOTTED with a reason.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from dashboards import alerting
from dashboards import queryable as known
from dashboards.queries import parse
from dashboards.registry import Definitions

# datadog-api-client takes ~0.3 s to import: it is imported where it is used, so `orgpulse --help`
# (which registers every command) and the actions that need no request body never load it.

# Catalog metrics deliberately on no dashboard, and why (a stale entry is an error too).
UNPLOTTED: dict[str, str] = {}

STAND_INS = {"monitor": 1234567, "slo": "0123456789abcdef0123456789abcdef"}


def _models() -> dict[str, type]:
    from datadog_api_client.v1.model.dashboard import Dashboard
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.service_level_objective_request import ServiceLevelObjectiveRequest

    return {"dashboard": Dashboard, "monitor": Monitor, "slo": ServiceLevelObjectiveRequest}


def stand_in(body: dict) -> dict:
    """The body with placeholders for live ids replaced by ids of the right type."""
    return alerting.resolve(body, {ref: STAND_INS[ref[0]] for ref in alerting.refs(body)})


def to_model(kind: str, body: dict):
    """The client's model of a request body (raises the client's type/value errors)."""
    return _model(kind, json.dumps(body, sort_keys=True))


@functools.lru_cache(maxsize=256)  # building the client's models is slow: validate, then apply, reuse them
def _model(kind: str, text: str):
    from datadog_api_client import Configuration
    from datadog_api_client.model_utils import validate_and_convert_types

    return validate_and_convert_types(
        json.loads(text), (_models()[kind],), [kind], True, True, configuration=Configuration()
    )


def model_problems(kind: str, body: dict) -> list[str]:
    from datadog_api_client.exceptions import OpenApiException

    try:
        model = to_model(kind, stand_in(body))
    except OpenApiException as exc:
        return [str(exc).splitlines()[0]]
    return list(unparsed(model, kind))


def unparsed(node: Any, path: str) -> Iterator[str]:
    """Every part of a deserialized model the client did not understand."""
    from datadog_api_client.model_utils import ModelComposed, ModelNormal, ModelSimple, UnparsedObject

    if (
        isinstance(node, UnparsedObject)
        or getattr(node, "_unparsed", False)
        and not isinstance(node, (ModelComposed, ModelNormal))
    ):
        yield f"{path}: not understood by the client ({type(node).__name__}: {_short(node)})"
    elif isinstance(node, ModelSimple):
        return
    elif isinstance(node, ModelComposed):
        instances = node._composed_instances
        if not instances or any(not isinstance(i, ModelNormal) for i in instances):
            yield f"{path}: matches no {type(node).__name__} schema ({_short(node._data_store)})"
        for i in instances:
            if isinstance(i, ModelNormal):
                yield from unparsed(i, path)
    elif isinstance(node, ModelNormal):
        extra = sorted(set(node._data_store) - set(type(node).openapi_types))
        if extra:
            yield f"{path}: unknown field(s) {extra} for {type(node).__name__}"
        for key, value in node._data_store.items():
            yield from unparsed(value, f"{path}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from unparsed(value, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from unparsed(value, f"{path}.{key}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def queries(kind: str, body: dict) -> Iterator[tuple[str, str, str | None]]:
    """(where, query text, time aggregator or None) of every query in a body."""
    if kind == "monitor":
        if body["type"] != "slo alert":  # a burn rate names an SLO, not a metric
            yield "query", body["query"], None
    elif kind == "slo":
        for part in ("numerator", "denominator"):
            if part in body.get("query", {}):
                yield f"query.{part}", body["query"][part], None
        slice_ = body.get("sli_specification", {}).get("time_slice", {})
        for q in slice_.get("query", {}).get("queries", []):
            yield "sli_specification", q["query"], None
    else:
        yield from _widget_queries(body.get("widgets", []), "widgets")


def _widget_queries(widgets: list[dict], path: str) -> Iterator[tuple[str, str, str | None]]:
    for i, w in enumerate(widgets):
        d, here = w["definition"], f"{path}[{i}]"
        yield from _widget_queries(d.get("widgets", []), f"{here}.widgets")
        for request in d.get("requests", []):
            for q in request.get("queries", []):
                yield f"{here} {d.get('title') or d['type']!r}", q["query"], q.get("aggregator")


def query_problems(text: str, required: tuple[str, ...], scalar: str | None) -> list[str]:
    """Catalog, tag, aggregation and filter problems of one query string.
    `required`: template variables ($env…) or fixed filters (env:production) it must carry."""
    refs = parse(text)
    if not refs:
        return [f"no metric query in {text!r}"]
    out = []
    for ref in refs:
        row = known.rows().get(ref.metric)
        if row is None:
            out.append(f"{ref.metric} is not in orgpulse/catalog.csv nor on the allow-list")
            continue
        unknown = ref.tag_keys() - known.tag_keys(row)
        if unknown:
            out.append(f"{ref.metric} has no tag key(s) {sorted(unknown)} in the catalog")
        bad = known.aggregation_problem(row, ref.space, ref.as_count, ref.points)
        if bad:
            out.append(bad)
        if scalar is not None and len(refs) == 1 and scalar not in known.time_aggregators(row, ref.points):
            out.append(f"{ref.metric}: time aggregator {scalar} does not fit a {row.type}")
        for need in required:
            key = need.lstrip("$").split(":", 1)[0]
            if key in known.tag_keys(row) and need not in ref.filters:
                out.append(f"{ref.metric} is not filtered by {need}")
    return out


def problems(defs: Definitions, env: str | None, variables: dict[str, tuple[str, ...]]) -> list[str]:
    """Every problem of a set of definitions; `variables`: each dashboard's template variables."""
    out = []
    for kind, objects in defs.kinds().items():
        for key, body in sorted(objects.items()):
            label = f"{kind} {key}"
            out += [f"{label}: {p}" for p in model_problems(kind, body)]
            ordering = alerting.threshold_problem(body) if kind == "monitor" else None
            out += [f"{label}: {ordering}"] if ordering else []
            required = tuple(f"${v}" for v in variables.get(key, ())) if kind == "dashboard" else (f"env:{env}",)
            for where, text, scalar in queries(kind, body):
                out += [f"{label}: {where}: {p}" for p in query_problems(text, required, scalar)]
    return out


def plotted(defs: Definitions) -> set[str]:
    return {
        ref.metric
        for key, body in defs.dashboards.items()
        for _, text, _ in queries("dashboard", body)
        for ref in parse(text)
    }


def coverage(defs: Definitions, unplotted: dict[str, str] | None = None) -> list[str]:
    """Every catalog metric plotted or deliberately not; no stale UNPLOTTED entry."""
    unplotted = UNPLOTTED if unplotted is None else unplotted
    shown, catalog = plotted(defs), set(known.m.catalog())
    out = [
        f"{name} is on no dashboard and not in validate.UNPLOTTED" for name in sorted(catalog - shown - set(unplotted))
    ]
    out += [
        f"UNPLOTTED lists {name}, which is {'plotted' if name in shown else 'not in the catalog'}"
        for name in sorted(set(unplotted) & shown | set(unplotted) - catalog)
    ]
    return out
