"""Placing widgets on Datadog's 12-column grid (ordered layout, fixed reflow).

A dashboard is groups stacked top to bottom; a group is rows; a row shares the
12 columns among its widgets (equal shares unless `span` says otherwise). The
positions are explicit, so the picture (pictures.py) is what Datadog shows.
"""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS = 12


@dataclass(frozen=True)
class Span:
    definition: dict
    width: int


@dataclass(frozen=True)
class Row:
    items: tuple[dict | Span, ...]
    height: int


@dataclass(frozen=True)
class Group:
    title: str
    rows: tuple[Row, ...]
    color: str


def span(definition: dict, width: int) -> Span:
    return Span(definition, width)


def row(*items: dict | Span, height: int = 3) -> Row:
    return Row(items, height)


def group(title: str, *rows: Row, color: str = "vivid_blue") -> Group:
    return Group(title, rows, color)


def _widths(items: tuple[dict | Span, ...]) -> list[int]:
    fixed = sum(i.width for i in items if isinstance(i, Span))
    free = [i for i in items if not isinstance(i, Span)]
    left = COLUMNS - fixed
    if left < 0 or (free and left < len(free)) or (not free and left):
        raise ValueError(f"a row must fill {COLUMNS} columns exactly, got {fixed} fixed + {len(free)} free")
    share, extra = divmod(left, len(free)) if free else (0, 0)
    widths = []
    for item in items:
        if isinstance(item, Span):
            widths.append(item.width)
        else:
            widths.append(share + (1 if extra else 0))
            extra = max(extra - 1, 0)
    return widths


def _place(rows: tuple[Row, ...]) -> tuple[list[dict], int]:
    """Widgets with layouts, rows stacked from y=0; returns them and the height used."""
    widgets, y = [], 0
    for r in rows:
        x = 0
        for item, width in zip(r.items, _widths(r.items), strict=True):
            definition = item.definition if isinstance(item, Span) else item
            widgets.append({"definition": definition, "layout": {"x": x, "y": y, "width": width, "height": r.height}})
            x += width
        y += r.height
    return widgets, y


def grid(*groups: Group) -> list[dict]:
    """Top-level group widgets, each as wide as the dashboard, stacked."""
    out, y = [], 0
    for g in groups:
        children, height = _place(g.rows)
        out.append(
            {
                "definition": {
                    "type": "group",
                    "title": g.title,
                    "layout_type": "ordered",
                    "show_title": True,
                    "background_color": g.color,
                    "widgets": children,
                },
                "layout": {"x": 0, "y": y, "width": COLUMNS, "height": height + 1},
            }
        )
        y += height + 1
    return out
