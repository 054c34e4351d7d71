"""Redact secrets and credentials (and optionally e-mails and IPs) from untrusted text.

One redactor for every path: before text reaches a model (`agents.llm` uses it with e-mails, and IPs
when configured) and before anything is persisted or shown -- audit records, checkpointed incident
state, reports, API responses, notifications (`redact_value`, secrets only: e-mails stay, since
approvers and owners are named by them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from pydantic import BaseModel

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)),
    ("connection_string", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@]+:[^\s@/]+@[^\s'\"]+")),
    ("connection_string", re.compile(r"(?i)\b(?:Server|Data Source|Host)=[^;\s]+;[^\n]*?(?:Password|Pwd)=[^;\s]+;?")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("api_key", re.compile(r"\b(?:sk|pk|rk)-(?:proj-|live-|test-)?[A-Za-z0-9_-]{16,}")),
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("api_key", re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}")),
    ("api_key", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("token", re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}")),
    (
        "secret",
        re.compile(
            r"(?i)\b([a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
            r"client[_-]?secret|credentials?|auth)[a-z0-9_.-]*)(\"?\s*[:=]\s*\"?)([^\s\"',;&}]+)"
        ),
    ),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b")


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets with `[REDACTED:kind]`; e-mails and IPs too when asked."""

    emails: bool = True
    ips: bool = False

    def __call__(self, text: str) -> str:
        """The text with every secret (and optionally e-mail/IP) replaced by a marker."""
        for kind, pattern in _SECRET_PATTERNS:
            if kind == "secret":
                text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:secret]", text)
            elif kind == "token":
                text = pattern.sub(lambda m: f"{m.group(1)} [REDACTED:token]", text)
            else:
                text = pattern.sub(f"[REDACTED:{kind}]", text)
        if self.emails:
            text = _EMAIL.sub("[REDACTED:email]", text)
        if self.ips:
            text = _IPV6.sub("[REDACTED:ip]", _IPV4.sub("[REDACTED:ip]", text))
        return text


def redact(text: str, *, emails: bool = True, ips: bool = False) -> str:
    """Redact secrets from `text` (see `Redactor`)."""
    return Redactor(emails=emails, ips=ips)(text)


PERSISTENCE = Redactor(emails=False, ips=False)
"""What is applied before persistence: secrets and credentials only."""


def redact_value(value: T, redactor: Redactor = PERSISTENCE) -> T:
    """A copy of `value` (str, dict, list, tuple, pydantic model, or nested) with every string redacted.

    Unchanged parts are returned as they are (no copy), so redacting clean data is cheap; models are
    copied with `model_copy` (no re-validation), keeping their type.
    """
    if isinstance(value, str):
        return redactor(value) if _may_hold_secret(value) else value  # type: ignore[return-value]
    if isinstance(value, BaseModel):
        changed = {}
        for name in type(value).model_fields:
            current = getattr(value, name, None)
            new = redact_value(current, redactor)
            if new is not current:
                changed[name] = new
        return value.model_copy(update=changed) if changed else value
    if isinstance(value, dict):
        items = {k: redact_value(v, redactor) for k, v in value.items()}
        return items if any(items[k] is not value[k] for k in value) else value  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        items = [redact_value(v, redactor) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items  # type: ignore[return-value]
    return value


def redacting(node: Callable[P, R]) -> Callable[P, R]:
    """Wrap a graph node so that its state update is redacted before LangGraph checkpoints it (same signature)."""

    @functools.wraps(node)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return redact_value(node(*args, **kwargs))

    return run


_HINT = re.compile(r"(?i)pass|pwd|secret|token|key|auth|cred|bearer|basic|-----BEGIN|eyJ|AKIA|ASIA|gh[pousr]_|github_pat|xox|AIza|[spr]k-|://|=|:")


def _may_hold_secret(text: str) -> bool:
    """A cheap pre-check: text with none of these hints cannot match any secret pattern."""
    return _HINT.search(text) is not None
