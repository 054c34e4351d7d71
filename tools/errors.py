"""The small exception hierarchy of LUMOS. User mistakes are `InputError`s with a location."""

from __future__ import annotations

from pathlib import Path


class LumosError(Exception):
    """Base class for errors LUMOS reports to people without a traceback."""


class InputError(LumosError):
    """Bad input: names the file (and line or field) and what was expected."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`file:line: field: message`, leaving out the parts that are unknown."""
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line is not None else "")
        parts = [p for p in (where, self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class NotFoundError(LumosError):
    """Something named by the user (an incident, a runbook) does not exist."""
