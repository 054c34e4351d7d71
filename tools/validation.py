"""Turn pydantic validation errors into one-line messages that name the field and what is expected."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> tuple[str | None, str]:
    """Return (field path, message) summarising the first errors of `exc`."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    parts = []
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc and loc != field else msg)
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return field, "; ".join(parts) + more
