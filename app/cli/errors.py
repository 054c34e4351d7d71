"""Turn user mistakes into one-line messages with exit code 2 (never a traceback)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from lumos.tools.errors import LumosError

P = ParamSpec("P")
R = TypeVar("R")

USAGE_ERROR = 2


def fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator for commands: LumosError -> one line on stderr, exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LumosError as exc:
            raise fail(str(exc)) from None

    return wrapper
