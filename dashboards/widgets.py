"""Widget definitions in the formulas-and-functions format, as the API takes them.

Every widget gets its queries as `{name: query}` — one metric per query — and
arithmetic only in formulas (`("100 * failed / runs", "failure %")`); with no
formulas given, each query is plotted as itself. The old collectors' dashboards packed
several queries into one string and arithmetic into queries; these builders have
no way to do either. Scalar widgets (query value, top list, table) aggregate
each query over time by its metric's type (counts summed, distributions as
percentiles, gauges at their last value unless told otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from dashboards import queryable as known
from dashboards.queries import metric_of

Queries = dict[str, str]
Formulas = Iterable[str | tuple[str, str]] | None
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _queries(named: Queries, aggregator: str | dict[str, str] | None = None, scalar: bool = False) -> list[dict]:
    """`aggregator`: one for every query, or {query name: aggregator}."""
    out = []
    for name, text in named.items():
        if not _NAME.match(name):
            raise ValueError(f"query name {name!r}: lowercase letters, digits and _ only")
        body = {"data_source": "metrics", "name": name, "query": text}
        if scalar:
            row = metric_of(text)
            given = aggregator.get(name) if isinstance(aggregator, dict) else aggregator
            body["aggregator"] = given or known.DEFAULT_TIME_AGGREGATOR[row.type if row else "gauge"]
        out.append(body)
    return out


def _formulas(named: Queries, formulas: Formulas, **extra) -> list[dict]:
    if formulas is None:
        formulas = [(name, name.replace("_", " ")) for name in named]
    out = []
    for f in formulas:
        expression, alias = (f, None) if isinstance(f, str) else f
        body = {"formula": expression, **extra}
        if alias:
            body["alias"] = alias
        out.append(body)
    return out


def timeseries(title: str, queries: Queries, formulas: Formulas = None, *, display: str = "line") -> dict:
    return {
        "type": "timeseries",
        "title": title,
        "show_legend": True,
        "legend_layout": "auto",
        "legend_columns": ["avg", "max", "value"],
        "requests": [
            {
                "queries": _queries(queries),
                "formulas": _formulas(queries, formulas),
                "response_format": "timeseries",
                "display_type": display,
            }
        ],
    }


def value(
    title: str,
    queries: Queries,
    formulas: Formulas = None,
    *,
    aggregator: str | None = None,
    precision: int = 1,
    unit: str | None = None,
    formats: list[dict] | None = None,
    time: dict | None = None,
) -> dict:
    extra = {"conditional_formats": formats} if formats else {}
    body = {
        "type": "query_value",
        "precision": precision,
        "autoscale": True,
        "requests": [
            {
                "queries": _queries(queries, aggregator, scalar=True),
                "formulas": _formulas(queries, formulas, **extra),
                "response_format": "scalar",
            }
        ],
    }
    if title:  # the health grid's cells have none
        body["title"] = title
    if unit:
        body["custom_unit"] = unit
    if time:
        body["time"] = time
    return body


def toplist(
    title: str, queries: Queries, formulas: Formulas = None, *, limit: int = 10, aggregator: str | None = None
) -> dict:
    return {
        "type": "toplist",
        "title": title,
        "requests": [
            {
                "queries": _queries(queries, aggregator, scalar=True),
                "formulas": _formulas(queries, formulas, limit={"count": limit, "order": "desc"}),
                "response_format": "scalar",
            }
        ],
    }


def table(
    title: str,
    queries: Queries,
    formulas: Formulas = None,
    *,
    aggregator: str | dict[str, str] | None = None,
    formats: list[dict] | None = None,
    time: dict | None = None,
) -> dict:
    extra = {"conditional_formats": formats} if formats else {}
    body: dict[str, Any] = {
        "type": "query_table",
        "title": title,
        "has_search_bar": "never" if time else "auto",
        "requests": [
            {
                "queries": _queries(queries, aggregator, scalar=True),
                "formulas": _formulas(queries, formulas, **extra),
                "response_format": "scalar",
            }
        ],
    }
    if time:
        body["time"] = time
    return body


def note(text: str, *, background: str = "gray", size: str = "14", align: str = "left") -> dict:
    return {
        "type": "note",
        "content": text,
        "background_color": background,
        "font_size": size,
        "text_align": align,
        "vertical_align": "center",
        "show_tick": False,
        "has_padding": True,
    }
