"""HTTP-hook backend: POST each validated action to a receiver with an HMAC-SHA256-signed body.

Request: `POST {url}/actions` (checks: `POST {url}/checks`), JSON body
`{"action", "params", "idempotency_key", "dry_run"}` (checks: `{"check", "params"}`), headers
`X-Lumos-Timestamp: <unix seconds>`, `X-Lumos-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`
and `Idempotency-Key`. Response: JSON `{"status": "ok"|"failed", "output": "..."}` (checks:
`{"ok": bool, "detail": "..."}`); any non-2xx status or malformed body is a failed outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from lumos.tools.actions.backend import CheckResult, ExecutionOutcome
from lumos.tools.actions.ledger import Ledger
from lumos.tools.actions.registry import (
    ActionRegistry,
    CheckRegistry,
    ParamsError,
    default_action_registry,
    default_check_registry,
)

SIGNATURE_HEADER = "X-Lumos-Signature"
TIMESTAMP_HEADER = "X-Lumos-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for a body: `sha256=` + hex HMAC-SHA256 of `timestamp.body`."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300.0,
                     now: float | None = None) -> bool:
    """Receiver side: constant-time check of the signature and that the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


class HttpHookBackend:
    """Runs actions by POSTing them to a signed webhook receiver; a local ledger prevents re-sending a key."""

    name = "http_hook"

    def __init__(self, url: str, secret: str | bytes, *, ledger_db: str | Path, client: httpx.Client | None = None,
                 timeout_s: float = 10.0, actions: ActionRegistry | None = None, checks: CheckRegistry | None = None,
                 clock: Callable[[], float] = time.time):
        self.url = url.rstrip("/")
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._client = client or httpx.Client(timeout=timeout_s)
        self._ledger = Ledger(ledger_db, f"http_hook:{self.url}")
        self._clock = clock
        self.actions = actions or default_action_registry()
        self.checks = checks or default_check_registry()

    def close(self) -> None:
        """Close the HTTP client and the ledger."""
        self._client.close()
        self._ledger.close()

    def _post(self, path: str, payload: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        ts = str(int(self._clock()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(self._secret, ts, body)}
        if key:
            headers["Idempotency-Key"] = key
        response = self._client.post(f"{self.url}{path}", content=body, headers=headers)
        try:
            data = response.json()
        except ValueError:
            data = None
        return response.status_code, data

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Validate, then POST once per key; the receiver's answer is recorded in the ledger."""
        started = datetime.now(timezone.utc)
        try:
            clean = self.actions.validate(action, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return ExecutionOutcome(action=action, params=dict(params), status="failed", output=f"rejected: {exc}",
                                    idempotency_key=idempotency_key, started_at=started)
        if "http_hook" not in self.actions.get(action).backends:
            return ExecutionOutcome(action=action, params=clean, status="failed", idempotency_key=idempotency_key,
                                    output=f"{action} is not supported by the http_hook backend")
        if not dry_run:
            recorded = self._ledger.lookup(idempotency_key, action, clean)
            if recorded is not None:
                return recorded
        payload = {"action": action, "params": clean, "idempotency_key": idempotency_key, "dry_run": dry_run}
        try:
            code, data = self._post("/actions", payload, idempotency_key)
        except httpx.HTTPError as exc:  # not recorded: the same key may be retried
            return ExecutionOutcome(action=action, params=clean, status="failed", idempotency_key=idempotency_key,
                                    output=f"hook unreachable: {type(exc).__name__}: {exc}", started_at=started)
        ok = 200 <= code < 300 and isinstance(data, dict) and data.get("status") == "ok"
        output = str(data.get("output", "")) if isinstance(data, dict) else f"HTTP {code}, body is not JSON"
        if not (200 <= code < 300):
            output = f"HTTP {code}: {output}".rstrip(": ")
        status = "dry_run" if dry_run and ok else ("ok" if ok else "failed")
        outcome = ExecutionOutcome(action=action, params=clean, status=status, output=output, idempotency_key=idempotency_key,
                                   started_at=started, finished_at=datetime.now(timezone.utc))
        if not dry_run:
            self._ledger.record(outcome)
        return outcome

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Validate, then ask the receiver; unreachable or malformed answers are a failed check."""
        try:
            clean = self.checks.validate(name, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return CheckResult(check=name, ok=False, detail=f"rejected: {exc}")
        try:
            code, data = self._post("/checks", {"check": name, "params": clean})
        except httpx.HTTPError as exc:
            return CheckResult(check=name, ok=False, detail=f"hook unreachable: {type(exc).__name__}")
        if not (200 <= code < 300) or not isinstance(data, dict):
            return CheckResult(check=name, ok=False, detail=f"HTTP {code}: malformed check answer")
        return CheckResult(check=name, ok=data.get("ok") is True, detail=str(data.get("detail", "")))
