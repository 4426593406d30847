"""A dashboard's frame: its template variables, its queries' filters, its body.

A dashboard module makes one Board, builds queries with `board.q(…)` (each
filtered by the template variables whose tag the metric carries) and returns
`board.body(ctx, widgets)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards import identity
from dashboards.context import Context
from dashboards.queries import Scope, query
from dashboards.widgets import value


@dataclass(frozen=True)
class Board:
    key: str
    title: str
    description: str
    variables: tuple[str, ...] = ()  # besides env, which every dashboard has

    @property
    def scope(self) -> Scope:
        return Scope(("env",) + self.variables)

    def q(self, space: str, metric: str, **kwargs) -> str:
        return query(self.scope, space, metric, **kwargs)

    def counts(self, *items: tuple) -> list[dict]:
        """Query values of levels, summed and shown whole: (title, metric[, where filters]) each."""
        return [
            value(title, {"n": self.q("sum", metric, where=rest[0] if rest else ())}, precision=0)
            for title, metric, *rest in items
        ]

    def template_variables(self, ctx: Context) -> list[dict]:
        return [
            {"name": v, "prefix": v, "available_values": [], "defaults": [ctx.default_env if v == "env" else "*"]}
            for v in self.scope.variables
        ]

    def body(self, ctx: Context, widgets: list[dict]) -> dict:
        return identity.mark_dashboard(
            {
                "title": self.title,
                "description": self.description,
                "layout_type": "ordered",
                "reflow_type": "fixed",
                "template_variables": self.template_variables(ctx),
                "widgets": widgets,
            },
            self.key,
        )
