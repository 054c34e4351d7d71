"""The `lumos` command line (typer + rich): a thin layer over the library.

`main` is the console script. Commands whose start-up time matters and that are defined
without typer are run straight from here, before typer, click, pydantic or rich are
imported (`FAST_COMMANDS`); everything else goes through the typer tree in `main.py`, which
lists those commands too and reaches the same code.
"""

import sys

FAST_COMMANDS = {("logs", "templates"): "lumos.app.cli.logs_templates"}
"""(group, command) -> module whose `main(argv) -> int` runs the command on the rest of the arguments."""


def main() -> None:
    """Entry point of the `lumos` console script."""
    module = FAST_COMMANDS.get(tuple(sys.argv[1:3]))  # type: ignore[arg-type]
    if module is not None:
        from importlib import import_module  # noqa: PLC0415

        sys.exit(import_module(module).main(sys.argv[3:]))
    from lumos.app.cli.main import main as typer_main  # noqa: PLC0415

    typer_main()


__all__ = ["main"]
