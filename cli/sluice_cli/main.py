"""Entry point of the `sluice` console script: hands the server-side commands (`serve`,
`worker`, `exporter`, `documents reindex`, `dlq --direct`) to the server library, and the rest
to the HTTP commands (`commands`).

Kept light on purpose (the standard library only at import): the script that imports it is
the main module of every Sluice server process, and multiprocessing's children import the main
module again (transform parses each file in such a child, `sluice.extract.sandbox`), so what
this module imports every child pays for. The Typer app is imported only to run it.
"""

from __future__ import annotations

import sys

SERVER_COMMANDS = ("serve", "worker", "exporter")
NEEDS_SERVER = (
    "this command runs Sluice's own processes: it needs the server library (sluice-shared)"
)


def server_command(args: list[str]) -> list[str] | None:
    """The arguments for the server library's `sluice` when `args` name one of its commands
    (`dlq … --direct` without `--direct`), else None."""
    if (args[:1] and args[0] in SERVER_COMMANDS) or args[:2] == ["documents", "reindex"]:
        return args
    if args[:1] == ["dlq"] and "--direct" in args:
        return [arg for arg in args if arg != "--direct"]
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sluice` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    delegated = server_command(args)
    if delegated is not None:
        try:
            from sluice.cli import main as server
        except ImportError:
            print(f"sluice: {NEEDS_SERVER}", file=sys.stderr)
            return 2
        return server(delegated)
    from sluice_cli.commands import run

    return run(args)
