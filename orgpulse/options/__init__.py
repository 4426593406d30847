"""The YAML file's schema (ORGPULSE_CONFIG): every section orgpulse reads, one module per
section (orgpulse/options/<section>.py), each option with its default, a check that returns a
problem or None, and its meaning. config.load() validates the file with validate_options();
unknown sections and keys are errors (typos)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from orgpulse.options import asana, aws, dora, fom, github, kubernetes, monitors, poller, receiver, skypilot, wandb
from orgpulse.options.dora import DORA_SIGNALS
from orgpulse.options.monitors import MONITOR_SOURCES
from orgpulse.options.option import Option

__all__ = ["DORA_SIGNALS", "MONITOR_SOURCES", "OTHER_SECTIONS", "SCHEMA", "Option", "validate_options"]

# Every section orgpulse reads, in the order the settings reference lists them.
SCHEMA: dict[str, dict[str, Option]] = {
    "github": github.SECTION,
    "receiver": receiver.SECTION,
    "asana": asana.SECTION,
    "wandb": wandb.SECTION,
    "kubernetes": kubernetes.SECTION,
    "poller": poller.SECTION,
    "aws": aws.SECTION,
    "fom": fom.SECTION,
    "skypilot": skypilot.SECTION,
    "dora": dora.SECTION,
    "monitors": monitors.SECTION,
}
# Top-level sections accepted as mappings and validated by the part that uses them (none today).
OTHER_SECTIONS: tuple[str, ...] = ()

# Checks that a package above the kernel registers for a setting whose meaning it owns
# (pyproject.toml: fom checks `fom.formulas` against its formula table): entry point name
# `section.key`, value a function of the value returning a problem or None. Each runs once
# the kernel's own check of that value's shape passed.
CHECKS_GROUP = "orgpulse.config_checks"


@functools.lru_cache(maxsize=1)
def registered_checks() -> dict[str, Callable[[Any], str | None]]:
    """section.key → the check its owner registered (loaded once per process)."""
    return {ep.name: ep.load() for ep in entry_points(group=CHECKS_GROUP)}


def validate_options(raw: Any, problems: list[str]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"ORGPULSE_CONFIG: the top level must be a mapping, got {type(raw).__name__}")
        return validate_options({}, problems)
    unknown = sorted(set(raw) - set(SCHEMA) - set(OTHER_SECTIONS))
    if unknown:
        problems.append(f"ORGPULSE_CONFIG: unknown section(s) {unknown}")
    options: dict[str, Any] = {}
    for section, fields in SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            problems.append(f"ORGPULSE_CONFIG: {section} must be a mapping")
            given = {}
        for key in sorted(set(given) - set(fields)):
            problems.append(f"ORGPULSE_CONFIG: {section}.{key} is not a known setting")
        values = {}
        for key, opt in fields.items():
            value = given.get(key, opt.default)
            owner = registered_checks().get(f"{section}.{key}")
            bad = opt.check(value) or (owner(value) if owner else None)
            if bad:
                problems.append(f"ORGPULSE_CONFIG: {section}.{key} {bad}")
            values[key] = value
        options[section] = values
    for section in OTHER_SECTIONS:
        if section in raw:
            options[section] = raw[section]
    return options
