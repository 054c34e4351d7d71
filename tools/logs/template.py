"""One mined template (`Template`, immutable, what callers get); template ids are a stable
hash of the template text. A plain dataclass: the mining path stays import-light."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["MAX_EXAMPLES", "Template", "template_id"]

MAX_EXAMPLES = 3


def template_id(text: str) -> str:
    """Stable 12-hex-digit id of a template text."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=6).hexdigest()


@dataclass(frozen=True)
class Template:
    """One mined template: its id, text (variables as `<*>`), line count and a few examples
    (the masked keys with the most lines)."""

    id: str
    text: str
    count: int
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The template as a JSON-ready dict."""
        return asdict(self)
