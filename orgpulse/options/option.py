"""One setting of the YAML file: its default, its check, and what it means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any], str | None]  # returns a problem, or None
    # What the option means, for people: docs/generate.py writes the settings reference
    # from it, so the reference cannot drift from the schema (a test requires one each).
    doc: str = ""
