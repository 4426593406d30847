"""`orgpulse dashboards validate | render | diff | apply | pull | pictures`.

register() adds the subcommand to the `orgpulse` command (found through the entry-point
group orgpulse.commands, pyproject.toml); everything else is here. Without --env only dashboards are handled (they are
environment-agnostic); with --env E, also E's monitors and SLOs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from dashboards import pictures as draw
from dashboards import registry, sync
from dashboards import render as files
from dashboards import validate as checks
from dashboards.api import Datadog, SettingsError
from orgpulse.cli import settings
from orgpulse.config import ConfigError, Settings
from orgpulse.options import MONITOR_SOURCES

PICTURES = Path(__file__).with_name("pictures")


def register(sub) -> None:
    """`orgpulse dashboards …`, on the `orgpulse` command's subparsers."""
    p = sub.add_parser(
        "dashboards", help="dashboards, monitors and SLOs: validate | render | diff | apply | pull | pictures"
    )
    add_arguments(p)
    p.set_defaults(run=lambda args: run(args, settings()))


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("validate", help="check every definition offline (no keys needed)")
    a.add_argument(
        "--env",
        action="append",
        help="environment(s) whose monitors and SLOs to check "
        "(default: those under monitors.environments, else DD_ENV, else production)",
    )
    a = actions.add_parser("render", help="write the request bodies as JSON, one file per object")
    a.add_argument("--env", help="also this environment's monitors and SLOs")
    a.add_argument("--out", required=True, type=Path)
    a = actions.add_parser("diff", help="what apply would change, field by field (exit 1 if anything)")
    a.add_argument("--env")
    a = actions.add_parser("apply", help="create or update what orgpulse defines")
    a.add_argument("--env")
    a.add_argument(
        "--prune", action="store_true", help="also delete what orgpulse owns (in this scope) and no longer defines"
    )
    a.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    a = actions.add_parser("pull", help="write the live objects orgpulse owns as JSON")
    a.add_argument("--env")
    a.add_argument("--out", required=True, type=Path)
    a = actions.add_parser("pictures", help="draw each dashboard's layout as SVG")
    a.add_argument("--out", type=Path, default=PICTURES)


def _environments(args, settings: Settings) -> list[str]:
    if args.env:
        return args.env
    configured = sorted(settings.section("monitors").get("environments") or {})
    tags = dict(t.split(":", 1) for t in settings.constant_tags)
    return configured or [tags.get("env", "production")]


def validate(args, settings: Settings, out: TextIO, **_) -> int:
    variables = registry.variables()
    envs = _environments(args, settings)
    # Every source's monitors are checked, not only those of the sources that are on here.
    first = registry.definitions(registry.context(settings, envs[0], every_source=True))
    problems = checks.problems(first, envs[0], variables) + checks.coverage(first)
    for env in envs[1:]:  # dashboards do not depend on the environment: checked once
        defs = registry.definitions(registry.context(settings, env, every_source=True))
        defs.dashboards = {}
        problems += [f"[{env}] {p}" for p in checks.problems(defs, env, variables)]
    for p in problems:
        print(p, file=out)
    built = registry.definitions(registry.context(settings, envs[0]))  # what render/apply build here
    print(
        f"orgpulse dashboards: {len(first.dashboards)} dashboards, {len(first.monitors)} monitors and "
        f"{len(first.slos)} SLOs per environment ({', '.join(envs)}): "
        f"{'INVALID' if problems else 'valid'}; {len(checks.plotted(first))} metrics plotted, "
        f"{len(checks.UNPLOTTED)} deliberately not; for the sources on in this config, apply builds "
        f"{len(built.monitors)} monitors and {len(built.slos)} SLOs",
        file=out,
    )
    return 1 if problems else 0


def _say_sources(ctx, out: TextIO) -> None:
    """Which sources' monitors this run builds: never a silent subset (apply --prune would
    delete the monitors of a source this config does not switch on)."""
    if ctx.env is None:
        return
    off = [s for s in MONITOR_SOURCES if not ctx.on(s)]
    print(
        f"monitors for the sources that are on: {', '.join(sorted(ctx.sources)) or 'none'}"
        + (f"; off: {', '.join(off)} (list them in monitors.sources to include them)" if off else ""),
        file=out,
    )


def render(args, settings: Settings, out: TextIO, **_) -> int:
    ctx = registry.context(settings, args.env)
    _say_sources(ctx, out)
    defs = registry.definitions(ctx)
    written = files.render(defs, args.out, with_env=args.env is not None)
    print(f"wrote {len(written)} files under {args.out}", file=out)
    return 0


def _sync(
    args, settings: Settings, out: TextIO, make_api, execute: bool, prune: bool, defs: registry.Definitions | None
) -> int:
    if defs is None:
        ctx = registry.context(settings, args.env)
        _say_sources(ctx, out)
        defs = registry.definitions(ctx)
    if execute:  # never send what validate would refuse
        problems = checks.problems(defs, args.env, registry.variables())
        if problems:
            print("\n".join(problems + ["orgpulse: refusing to apply invalid definitions"]), file=out)
            return 1
    api = make_api(settings)
    try:
        changes = sync.Sync(api, defs, args.env, execute, lambda line: print(line, file=out)).run(prune)
    finally:
        api.close()
    verb = "applied" if execute else "would apply (deletions only with --prune)"
    print(f"orgpulse dashboards: {verb}: {sync.summary(changes)}", file=out)
    pending = any(c.action in ("create", "update", "delete") for c in changes)
    return 1 if pending and not execute else 0


def diff(args, settings: Settings, out: TextIO, make_api, defs=None) -> int:
    return _sync(args, settings, out, make_api, execute=False, prune=True, defs=defs)


def apply(args, settings: Settings, out: TextIO, make_api, defs=None) -> int:
    status = _sync(args, settings, out, make_api, execute=not args.dry_run, prune=args.prune, defs=defs)
    return 0 if args.dry_run else status


def pull(args, settings: Settings, out: TextIO, make_api, **_) -> int:
    kinds = ["dashboard"] + (["monitor", "slo"] if args.env else [])
    api = make_api(settings)
    try:
        objects = [o for kind in kinds for o in api.owned(kind, args.env)]
    finally:
        api.close()
    written = files.pull(objects, args.out, kinds)
    print(f"wrote {len(written)} live objects under {args.out}", file=out)
    return 0


def pictures(args, settings: Settings, out: TextIO, **_) -> int:
    defs = registry.definitions(registry.context(settings, None))
    written = draw.write(defs.dashboards, args.out)
    print(f"drew {len(written)} dashboards under {args.out}", file=out)
    return 0


ACTIONS: dict[str, Callable[..., int]] = {
    "validate": validate,
    "render": render,
    "diff": diff,
    "apply": apply,
    "pull": pull,
    "pictures": pictures,
}


# The actions that build definitions, so check the `monitors:` section against them first.
BUILDS = ("validate", "render", "diff", "apply", "pictures")


def _datadog(settings: Settings):
    return Datadog(settings)


def unknown_environments(args, settings: Settings) -> list[str]:
    """--env values that `monitors.environments`, when set, does not list: building monitors
    for them would invent an environment (a typo, or `prod` for `production`)."""
    configured = settings.section("monitors").get("environments") or {}
    given = args.env if isinstance(getattr(args, "env", None), list) else [getattr(args, "env", None)]
    return [e for e in given if configured and e is not None and e not in configured]


def run(
    args, settings: Settings, out: TextIO = sys.stdout, make_api=_datadog, defs: registry.Definitions | None = None
) -> int:
    """Run one action; API and settings failures are one line on stderr, exit 2.
    `make_api` and `defs` (diff and apply: other definitions than the registry's) are for tests."""
    problems = registry.config_problems(settings.section("monitors")) if args.action in BUILDS else []
    if problems:  # what config.load() would say, had the monitors been its to know
        print(f"orgpulse: {ConfigError(problems)}", file=sys.stderr)
        return 2
    unknown = unknown_environments(args, settings)
    if unknown:
        print(
            f"orgpulse: --env {', '.join(unknown)}: not under monitors.environments "
            f"({', '.join(sorted(settings.section('monitors')['environments']))})",
            file=sys.stderr,
        )
        return 2
    try:
        extra = {"defs": defs} if defs is not None and args.action in ("diff", "apply") else {}
        return ACTIONS[args.action](args, settings, out, make_api=make_api, **extra)
    except SettingsError as exc:
        print(f"orgpulse: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        status = getattr(exc, "status", None)
        if status is None:
            raise
        print(
            f"orgpulse: Datadog API answered {status} {getattr(exc, 'reason', '')}: {getattr(exc, 'body', '')}",
            file=sys.stderr,
        )
        return 2
