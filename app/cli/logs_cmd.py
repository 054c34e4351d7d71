"""`lumos logs ...`: log tools from the command line (a thin layer over lumos.tools.logs).

`lumos logs templates` is defined once, with argparse, in `lumos.app.cli.logs_templates`
(the console script runs it without importing typer); here it is a pass-through command so
that `lumos logs --help` lists it and every way of invoking it reaches the same code.
"""

from __future__ import annotations

import typer

from lumos.app.cli.logs_templates import SUMMARY, run

logs_app = typer.Typer(help="Log tools: template mining.", no_args_is_help=True)


@logs_app.callback()
def _group() -> None:
    """Log tools: template mining."""


@logs_app.command(
    "templates",
    help=SUMMARY + " Run `lumos logs templates --help` for the options.",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "allow_interspersed_args": False},
)
def templates(ctx: typer.Context) -> None:
    """Pass the arguments to the command's own parser (`logs_templates.run`)."""
    raise typer.Exit(run(list(ctx.args)))


if __name__ == "__main__":
    logs_app()
