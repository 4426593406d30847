"""The metric model and the catalog that declares every metric orgpulse may emit.

A Metric is a plain value: handlers, collectors and scores build them, and only
emit.py sends them. catalog.csv (Datadog metadata.csv style) is the contract:
a name that is not declared there, or a tag key its row does not allow, is a
bug — tests fail on it, production drops it with an error log.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

COUNT, GAUGE, DISTRIBUTION = "count", "gauge", "distribution"
TYPES = (COUNT, GAUGE, DISTRIBUTION)

# Tags every metric carries without declaring them: the constant tags the
# emitter adds from DD_ENV / DD_SERVICE / DD_VERSION.
CONSTANT_TAG_KEYS = frozenset({"env", "service", "version"})

CATALOG_PATH = Path(__file__).with_name("catalog.csv")

_TAG_VALUE_UNSAFE = re.compile(r"[^a-z0-9_\-./]+")
MAX_TAG_VALUE_LEN = 100


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    type: str
    value: float
    tags: tuple[tuple[str, str], ...] = ()

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


def tag_value(raw: object) -> str:
    """A tag value Datadog stores as given: lowercase, no separators, bounded length.
    Cut before the cache: its 4,096 keys must not hold senders' megabyte strings."""
    return _clean_tag_value(str(raw)[: 4 * MAX_TAG_VALUE_LEN])


@functools.lru_cache(maxsize=4096)  # tag values repeat; this is on every delivery's path
def _clean_tag_value(raw: str) -> str:
    text = raw.strip().lower()
    text = _TAG_VALUE_UNSAFE.sub("_", text).strip("_")
    return text[:MAX_TAG_VALUE_LEN] or "none"


def _make(kind: str, name: str, value: float, tags: dict[str, object]) -> Metric:
    clean = tuple(sorted((k, tag_value(v)) for k, v in tags.items() if v is not None))
    return Metric(name, kind, float(value), clean)


# name and value are positional-only, so a tag may have any name (and a **tags dict cannot fill them).
def count(name: str, value: float = 1, /, **tags: object) -> Metric:
    return _make(COUNT, name, value, tags)


def gauge(name: str, value: float, /, **tags: object) -> Metric:
    return _make(GAUGE, name, value, tags)


def distribution(name: str, value: float, /, **tags: object) -> Metric:
    return _make(DISTRIBUTION, name, value, tags)


@dataclass(frozen=True, slots=True)
class CatalogRow:
    name: str
    type: str
    unit: str
    description: str
    source: str
    tags: frozenset[str]


class CatalogError(ValueError):
    """catalog.csv itself is malformed."""


def parse_catalog(text: str) -> dict[str, CatalogRow]:
    rows: dict[str, CatalogRow] = {}
    for line_no, rec in enumerate(csv.DictReader(text.splitlines()), start=2):
        name = rec["name"]
        if rec["type"] not in TYPES:
            raise CatalogError(f"catalog line {line_no}: {name}: unknown type {rec['type']!r}")
        if name in rows:
            raise CatalogError(f"catalog line {line_no}: {name} declared twice")
        rows[name] = CatalogRow(
            name=name,
            type=rec["type"],
            unit=rec["unit"],
            description=rec["description"],
            source=rec["source"],
            tags=frozenset(rec["tags"].split()),
        )
    return rows


@functools.cache
def catalog() -> dict[str, CatalogRow]:
    return parse_catalog(CATALOG_PATH.read_text(encoding="utf-8"))


def problem(metric: Metric, rows: dict[str, CatalogRow] | None = None) -> str | None:
    """Why `metric` breaks the catalog contract, or None when it is fine."""
    rows = catalog() if rows is None else rows
    row = rows.get(metric.name)
    if row is None:
        return "not_in_catalog"
    if row.type != metric.type:
        return "wrong_type"
    for key, _ in metric.tags:
        if key not in row.tags and key not in CONSTANT_TAG_KEYS:
            return "undeclared_tag"
    return None
