"""The `lumos` command line (typer + rich): a thin layer over the library."""

from lumos.app.cli.main import main

__all__ = ["main"]
