"""One mined template (`Template`, immutable, what callers get); template ids are a stable
hash of the template text."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_EXAMPLES", "Template", "template_id"]

MAX_EXAMPLES = 3


def template_id(text: str) -> str:
    """Stable 12-hex-digit id of a template text."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=6).hexdigest()


class Template(BaseModel):
    """One mined template: its id, text (variables as `<*>`), line count and a few examples."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    count: int
    examples: list[str] = Field(default_factory=list)
