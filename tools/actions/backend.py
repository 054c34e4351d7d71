"""What every action backend offers: execute an action once per idempotency key, and run checks.

Backends return result envelopes (status + text) instead of raising for anything an
operator or a model could cause, so the caller can record and report it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import ActionResult


class ExecutionOutcome(BaseModel):
    """What a backend did with one action request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    params: dict[str, Any]
    status: Literal["ok", "failed", "dry_run"]
    output: str = ""
    idempotency_key: str
    replayed: bool = Field(default=False, description="True when this key had already run; the recorded result is returned and nothing runs again.")
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_action_result(self, *, step_index: int, destructive: bool, approved_by: str | None = None,
                         verified: bool | None = None) -> ActionResult:
        """The domain ActionResult for a planned step, adding the step-level facts the backend does not know."""
        return ActionResult(
            step_index=step_index,
            action=self.action,
            params=self.params,
            status=self.status,
            output=self.output,
            idempotency_key=self.idempotency_key,
            destructive=destructive,
            approved_by=approved_by,
            replayed=self.replayed,
            verified=verified,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class CheckResult(BaseModel):
    """The answer of a read-only check: ok or not, and a line saying why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    ok: bool
    detail: str = ""


@runtime_checkable
class ActionBackend(Protocol):
    """Something that can carry out registered actions and answer registered checks."""

    name: str

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Run `action` once for `idempotency_key`; a repeated key returns the recorded outcome with replayed=True."""
        ...

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Evaluate a read-only check."""
        ...


def idempotency_key(incident_id: str, step_id: str, attempt: int = 1) -> str:
    """The idempotency key of one attempt of one step of one incident: `incident/step/attempt`."""
    return f"{incident_id}/{step_id}/{attempt}"
