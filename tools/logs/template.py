"""One mined template (`Template`, immutable, what callers get); template ids are a stable
hash of the template text. A plain class (no dataclasses, no hashlib's OpenSSL): the mining
path stays import-light."""

from __future__ import annotations

try:
    from _blake2 import blake2b  # what hashlib.blake2b is, without importing OpenSSL
except ImportError:  # pragma: no cover - an interpreter without the builtin module
    from hashlib import blake2b

__all__ = ["MAX_EXAMPLES", "Template", "template_id"]

MAX_EXAMPLES = 3


def template_id(text: str) -> str:
    """Stable 12-hex-digit id of a template text."""
    return blake2b(text.encode("utf-8", "replace"), digest_size=6).hexdigest()


class Template:
    """One mined template: its id, text (variables as `<*>`), line count and a few examples
    (the masked keys with the most lines). Immutable; equal when all fields are."""

    __slots__ = ("id", "text", "count", "examples")
    id: str
    text: str
    count: int
    examples: list[str]

    def __init__(self, id: str, text: str, count: int, examples: list[str] | None = None):  # noqa: A002 - the field's name
        for name, value in (("id", id), ("text", text), ("count", count), ("examples", [] if examples is None else examples)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Template is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (self.id, self.text, self.count, self.examples) == (other.id, other.text, other.count, other.examples)

    def __hash__(self) -> int:
        return hash((self.id, self.text, self.count, tuple(self.examples)))

    def __repr__(self) -> str:
        return f"Template(id={self.id!r}, text={self.text!r}, count={self.count}, examples={self.examples!r})"

    def as_dict(self) -> dict[str, object]:
        """The template as a JSON-ready dict."""
        return {"id": self.id, "text": self.text, "count": self.count, "examples": list(self.examples)}
