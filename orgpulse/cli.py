"""`orgpulse` — serve | poll | informer | replay | catalog | asana webhooks | probe | dashboards.

The kernel owns `catalog` and the plumbing; every other command belongs to the package
that implements it (receiver/cli.py, pollers/cli.py, dashboards/cli.py) and is found
through the entry-point group COMMANDS_GROUP (pyproject.toml): one entry point per
command name, whose value is its package's `register(subparsers)`. Each subparser sets
`run`, a function of the parsed arguments returning the exit code. main() loads only the
package of the command it is given (`orgpulse serve` never imports the poller's or the
dashboards' modules); help, or no command, loads them all. A bad setting exits 2 with
every problem listed (settings()).
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import EntryPoint, entry_points

from orgpulse import config
from orgpulse.metrics import catalog as rows
from orgpulse.termui import table

COMMANDS_GROUP = "orgpulse.commands"


def settings() -> config.Settings:
    """The settings from the environment, or exit 2 with every problem listed."""
    try:
        return config.load()
    except config.ConfigError as exc:
        print(f"orgpulse: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def catalog(args: argparse.Namespace) -> int:
    known = sorted({r.source for r in rows().values() if r.source})
    if args.source is not None and args.source not in known:
        print(f"orgpulse: no source {args.source!r} in the catalog (known: {', '.join(known)})", file=sys.stderr)
        return 2
    chosen = [
        [r.name, r.type, r.unit or "-", r.source or "-", " ".join(sorted(r.tags)) or "-"]
        for r in rows().values()
        if args.source in (None, r.source)
    ]
    print(table(["name", "type", "unit", "source", "tags"], chosen))
    return 0


def _register_catalog(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="list the metric catalog")
    p.add_argument("--source", help="only this source's metrics")
    p.set_defaults(run=catalog)


def _commands() -> dict[str, EntryPoint]:
    """Command name → the entry point of its package's register()."""
    return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}


def _wanted(argv: list[str], commands: dict[str, EntryPoint]) -> list[EntryPoint]:
    """The registrations to load: the given command's package, or every package (help, typos)."""
    given = next((a for a in argv if not a.startswith("-")), None)
    top_help = bool(argv) and argv[0] in ("-h", "--help")  # `orgpulse -h serve`: every command
    chosen = [commands[given]] if given in commands and not top_help else list(commands.values())
    return list({ep.value: ep for ep in chosen}.values())  # a package registers all its commands once


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `argv`, only what that command needs."""
    top = argparse.ArgumentParser(prog="orgpulse", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    commands = _commands()
    if not commands:  # the package's metadata is missing: a source tree run without installing it
        print("orgpulse: no commands are registered: install the package (pip install -e .)", file=sys.stderr)
    for ep in _wanted(argv or [], commands):
        ep.load()(sub)
    _register_catalog(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv).parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
