"""Escalation notifiers: a generic JSON webhook and a Slack-compatible incoming webhook.

`send_notification` never raises: it retries transient failures (connection errors, timeouts,
429 and 5xx) with exponential backoff and returns a `NotifyResult` envelope saying what happened.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NotifierKind = Literal["webhook", "slack"]


class EscalationEvent(BaseModel):
    """What an escalation tells people: the incident, why, the top hypotheses and where to look."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str
    reason: str
    reason_kind: str = "other"
    workflow: str | None = None
    summary: str = ""
    hypotheses: list[dict[str, Any]] = Field(default_factory=list, description="Top hypotheses: service, fault_type, confidence.")
    console_url: str | None = None


class NotifyResult(BaseModel):
    """The outcome of one delivery: ok, attempts made, last HTTP status or error."""

    model_config = ConfigDict(extra="forbid")

    kind: NotifierKind
    url: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def webhook_payload(event: EscalationEvent) -> dict[str, Any]:
    """The generic JSON webhook body: the event itself, typed."""
    return {"type": "lumos.escalation", **event.model_dump(mode="json")}


def slack_payload(event: EscalationEvent) -> dict[str, Any]:
    """A Slack incoming-webhook body (`text` plus mrkdwn blocks) with summary, hypotheses and console link."""
    lines = [f"- {h.get('service')} ({h.get('fault_type')}, confidence {float(h.get('confidence', 0)):.2f})" for h in event.hypotheses[:3]]
    title = f":rotating_light: Incident {event.incident_id} escalated: {event.reason}"
    body = [title]
    if event.workflow:
        body.append(f"Workflow: {event.workflow}")
    if event.summary:
        body.append(event.summary)
    if lines:
        body.append("Top hypotheses:\n" + "\n".join(lines))
    if event.console_url:
        body.append(f"<{event.console_url}|Open in the LUMOS console>")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in body]
    return {"text": title, "blocks": blocks}


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


def send_notification(kind: NotifierKind, url: str, event: EscalationEvent, *, retries: int = 3, backoff_s: float = 0.5,
                      timeout_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> NotifyResult:
    """POST the event to `url` as `kind`; retry transient failures with backoff; never raises."""
    if not url.startswith(("http://", "https://")):
        return NotifyResult(kind=kind, url=url, ok=False, attempts=0, error="only http(s) URLs are allowed")
    payload = slack_payload(event) if kind == "slack" else webhook_payload(event)
    data = json.dumps(payload).encode()
    status: int | None = None
    error: str | None = None
    attempts = 0
    for attempt in range(retries + 1):
        attempts = attempt + 1
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json",
                                                                                 "User-Agent": "lumos-notify"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
                status, error = response.status, None
                if 200 <= status < 300:
                    return NotifyResult(kind=kind, url=url, ok=True, attempts=attempts, status=status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            status, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if not _retryable(status) or attempt == retries:
            break
        sleep(min(backoff_s * (2 ** attempt), 30.0))
    return NotifyResult(kind=kind, url=url, ok=False, attempts=attempts, status=status, error=error or f"HTTP {status}")
