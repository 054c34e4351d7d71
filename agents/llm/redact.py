"""The redactor text passes before it reaches a model: the same one used before anything is persisted (`lumos.tools.redact`)."""

from __future__ import annotations

from lumos.tools.redact import Redactor, redact

__all__ = ["Redactor", "redact"]
