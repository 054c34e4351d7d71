"""The audit key: what makes the hash chain tamper-proof (HMAC-SHA256) rather than merely tamper-evident.

The key comes from `LUMOS_AUDIT_KEY` (at least 32 characters; required when several processes share a
Postgres trail) or from `<state folder>/audit.key`, created on first use with mode 0600. Whoever holds
the key can rewrite the trail undetectably, so it is trusted like the runbook folders: keep it out of
the reach of the people and processes the trail is meant to hold to account, and anchor the trail
elsewhere (`lumos audit anchor`) so that even a key holder cannot rewrite what was anchored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lumos.tools.errors import InputError

KEY_FILE = "audit.key"
MIN_KEY_CHARS = 32
ALG = "hmac-sha256"
LEGACY_ALG = "sha256"
"""Records written before audit keys existed: a plain sha256 chain anyone can recompute."""


@dataclass(frozen=True)
class AuditKey:
    """An HMAC key and its public id (the id is stored with every record; the key never is)."""

    secret: bytes = field(repr=False)
    source: str
    """Where the key came from: `LUMOS_AUDIT_KEY` or the key file's path."""

    @property
    def key_id(self) -> str:
        """A short public fingerprint of the key (so a verifier can say which key signed a record)."""
        return "k-" + hmac.new(self.secret, b"lumos-audit-key-id", hashlib.sha256).hexdigest()[:16]

    def mac(self, body: bytes) -> str:
        """HMAC-SHA256 of `body` in hex."""
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()


def key_from_text(text: str, source: str) -> AuditKey:
    """A key from configured text (LUMOS_AUDIT_KEY); too short a key is an InputError naming its source."""
    value = text.strip()
    if len(value) < MIN_KEY_CHARS:
        raise InputError(f"the audit key must be at least {MIN_KEY_CHARS} characters (e.g. `openssl rand -hex 32`), "
                         f"got {len(value)}", field=source)
    return AuditKey(secret=value.encode(), source=source)


def load_key_file(path: Path) -> AuditKey:
    """Read the key file, creating it (0600, 32 random bytes) if it does not exist; refuse one others can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InputError(f"the audit key file is readable by others (mode {mode:04o}); run: chmod 600 {path}", path=path)
    text = path.read_text(encoding="utf-8")
    if not text.strip():  # another process is writing it right now (created, not yet filled)
        text = _wait_for_content(path)
    return key_from_text(text, str(path))


def _wait_for_content(path: Path, attempts: int = 50) -> str:
    import time

    for _ in range(attempts):
        time.sleep(0.02)
        text = path.read_text(encoding="utf-8")
        if text.strip():
            return text
    raise InputError("the audit key file is empty; delete it to have a new one created (only for a new, empty trail)", path=path)


def load_audit_key(state_dir: Path, configured: str | None = None) -> AuditKey:
    """The audit key: `configured` (LUMOS_AUDIT_KEY) if given, else the state folder's key file (created if missing)."""
    if configured:
        return key_from_text(configured, "LUMOS_AUDIT_KEY")
    return load_key_file(Path(state_dir).expanduser() / KEY_FILE)
