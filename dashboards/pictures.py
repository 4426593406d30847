"""A picture of each dashboard's layout, drawn from its definition: SVG files under
dashboards/pictures/, shown in the documentation, so a person sees what they get before
applying. `orgpulse dashboards pictures` redraws them; a test fails when a committed
picture no longer matches its definition.

Each widget is drawn where Datadog places it (12 columns; a group's title takes
one row) with its title and a sketch of its kind — lines or bars for a time
series, a number for a query value, bars for a top list, cells for a table.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

COL, ROW, PAD, HEAD = 80, 40, 16, 64
COLOURS = {
    "vivid_blue": "#3b6fd4",
    "vivid_green": "#2e9c5a",
    "vivid_orange": "#d9822b",
    "vivid_purple": "#7b4fc4",
    "gray": "#6b7280",
}
NOTE_FILL = {"gray": "#eef1f5", "blue": "#cfe0fb"}
FILL = {
    "note": "#eef1f5",
    "query_value": "#ffffff",
    "timeseries": "#ffffff",
    "toplist": "#ffffff",
    "query_table": "#ffffff",
}


def _text(x: float, y: float, text: str, width: float, size: int = 11, **attrs) -> str:
    room = max(int((width - 10) / (size * 0.58)), 1)
    text = text if len(text) <= room else text[: max(room - 1, 1)] + "…"
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}"{extra}>{escape(text)}</text>'


def _sketch(d: dict, x: float, y: float, w: float, h: float) -> list[str]:
    """A hint of the widget's content inside its box (below its title)."""
    kind, top, bottom = d["type"], y + 24, y + h - 8
    if kind == "query_value":
        return [_text(x + w / 2, (top + bottom) / 2 + 8, "123", w, 20, text_anchor="middle", fill="#9ca3af")]
    if kind == "toplist":
        rows = min(4, max(int((bottom - top) / 12), 1))
        return [
            f'<rect x="{x + 8:.0f}" y="{top + i * 12:.0f}" width="{(w - 16) * (1 - i * 0.2):.0f}" '
            f'height="8" fill="#c7d2fe"/>'
            for i in range(rows)
        ]
    if kind == "query_table":
        columns = [f.get("alias", f["formula"]) for f in d["requests"][0]["formulas"]]
        cell = (w - 16) / len(columns)
        out = []
        for i, name in enumerate(columns):
            out += [
                f'<rect x="{x + 8 + i * cell:.0f}" y="{top:.0f}" width="{cell - 2:.0f}" '
                f'height="{bottom - top:.0f}" fill="#e5e7eb"/>',
                _text(
                    x + 8 + i * cell + cell / 2,
                    (top + bottom) / 2 + 4,
                    name,
                    cell,
                    10,
                    text_anchor="middle",
                    fill="#4b5563",
                ),
            ]
        return out
    if kind == "timeseries":
        bars = d["requests"][0].get("display_type") == "bars"
        n = 12
        points = [
            (x + 8 + i * (w - 16) / (n - 1), bottom - (bottom - top) * (0.3 + 0.5 * ((i * 7) % 5) / 4))
            for i in range(n)
        ]
        if bars:
            return [
                f'<rect x="{px - 3:.0f}" y="{py:.0f}" width="6" height="{bottom - py:.0f}" fill="#93c5fd"/>'
                for px, py in points
            ]
        path = " ".join(f"{px:.0f},{py:.0f}" for px, py in points)
        return [f'<polyline points="{path}" fill="none" stroke="#3b82f6" stroke-width="2"/>']
    return []


def _widget(d: dict, x: float, y: float, w: float, h: float) -> list[str]:
    if d["type"] == "note":
        first = d["content"].replace("*", "").replace("`", "").splitlines()[0]
        fill = NOTE_FILL.get(d.get("background_color") or "", FILL["note"])
        return [
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="3" fill="{fill}" stroke="#d1d5db"/>',
            _text(x + 6, y + min(h / 2 + 4, 22), first, w, 11, fill="#111827"),
        ]
    out = [
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="3" '
        f'fill="{FILL.get(d["type"], "#ffffff")}" stroke="#d1d5db"/>',
        _text(x + 6, y + 15, d.get("title") or d["type"], w, 11, fill="#111827"),
    ]
    return out + _sketch(d, x, y, w, h)


def _box(layout: dict, ox: float, oy: float) -> tuple[float, float, float, float]:
    return (
        ox + layout["x"] * COL + 2,
        oy + layout["y"] * ROW + 2,
        layout["width"] * COL - 4,
        layout["height"] * ROW - 4,
    )


def svg(body: dict) -> str:
    widgets = body["widgets"]
    rows = max((w["layout"]["y"] + w["layout"]["height"] for w in widgets), default=1)
    width, height = 12 * COL + 2 * PAD, HEAD + rows * ROW + PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#f9fafb"/>',
        _text(PAD, 28, body["title"], width - 2 * PAD, 18, font_weight="bold", fill="#111827"),
        _text(
            PAD,
            50,
            "template variables: " + "  ".join(f"${v['name']}" for v in body["template_variables"]),
            width - 2 * PAD,
            12,
            fill="#4b5563",
        ),
    ]
    for top in widgets:
        x, y, w, h = _box(top["layout"], PAD, HEAD)
        d = top["definition"]
        if d["type"] != "group":
            out += _widget(d, x, y, w, h)
            continue
        colour = COLOURS.get(d.get("background_color"), "#6b7280")
        out += [
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="4" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>',
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{ROW - 8}" rx="4" fill="{colour}"/>',
            _text(x + 8, y + 21, d["title"], w, 13, font_weight="bold", fill="#ffffff"),
        ]
        for child in d["widgets"]:
            out += _widget(child["definition"], *_box(child["layout"], x - 2, y - 2 + ROW))
    return "\n".join(out + ["</svg>"]) + "\n"


def write(dashboards: dict[str, dict], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, body in sorted(dashboards.items()):
        path = out_dir / f"{key}.svg"
        path.write_text(svg(body), encoding="utf-8")
        paths.append(path)
    return paths
