"""Untrusted data (log lines, alert text, runbook text, tool results) is passed to a model inside
delimiters the data itself cannot forge: the fence carries a hash of the content, and any
fence-like text inside the content is defused."""

from __future__ import annotations

import hashlib
import re

_FENCE_LIKE = re.compile(r"<{2,}\s*/?\s*(?:UNTRUSTED|END)[^>]*>{2,}", re.I)


def fence_id(text: str) -> str:
    """Short content hash that makes each data block's delimiters unique."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def wrap_untrusted(label: str, text: str) -> str:
    """`text` inside `<<<UNTRUSTED label id>>> ... <<<END id>>>`; the model is told never to follow it."""
    clean = _FENCE_LIKE.sub("[fence removed]", text)
    fid = fence_id(clean)
    safe_label = re.sub(r"[^A-Za-z0-9_.:-]", "_", label)[:40]
    return f"<<<UNTRUSTED {safe_label} {fid}>>>\n{clean}\n<<<END {fid}>>>"
