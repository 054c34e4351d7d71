"""Allowlisted-command backend: run an action as a fixed argv from configuration, never via a shell.

The allowlist maps an action (or check) name to an argv template, e.g.
`{"restart_service": ["systemctl", "restart", "{service}"]}`. Only whole argv elements of the
form `{param}` are substituted, with the action's validated parameter value; a value that
would start with '-' (an option) is refused. Actions not in the allowlist fail. A check
passes when its command exits 0.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.actions.backend import CheckResult, ExecutionOutcome
from lumos.tools.actions.ledger import Ledger
from lumos.tools.actions.registry import (
    ActionRegistry,
    CheckRegistry,
    ParamsError,
    default_action_registry,
    default_check_registry,
)

_SLOT = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")
_OUTPUT_LIMIT = 2000


class CommandAllowlist(BaseModel):
    """Configuration: which actions and checks may run, as argv templates (no shell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: dict[str, list[str]] = Field(default_factory=dict)
    checks: dict[str, list[str]] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0)


class CommandError(ValueError):
    """An argv template cannot be filled safely."""


def build_argv(template: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    """Fill `{param}` slots of an argv template; refuse missing params, lists/dicts and option-like values."""
    argv = []
    for part in template:
        match = _SLOT.match(part)
        if not match:
            argv.append(part)
            continue
        name = match.group(1)
        if name not in params or params[name] is None:
            raise CommandError(f"argv slot {part} has no parameter value")
        value = params[name]
        if isinstance(value, (list, dict)):
            raise CommandError(f"parameter {name!r} is not a scalar")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text.startswith("-") and not isinstance(value, (int, float)):
            raise CommandError(f"parameter {name!r} looks like an option: {text!r}")
        argv.append(text)
    return argv


class CommandBackend:
    """Runs allowlisted argv commands for actions and checks; a ledger keeps each key to one run."""

    name = "command"

    def __init__(self, allowlist: CommandAllowlist, *, ledger_db: str | Path, actions: ActionRegistry | None = None,
                 checks: CheckRegistry | None = None):
        self.allowlist = allowlist
        self._ledger = Ledger(ledger_db, "command")
        self.actions = actions or default_action_registry()
        self.checks = checks or default_check_registry()

    def close(self) -> None:
        """Close the ledger."""
        self._ledger.close()

    def _run(self, argv: list[str]) -> tuple[int, str]:
        try:
            proc = subprocess.run(argv, shell=False, capture_output=True, text=True, timeout=self.allowlist.timeout_s, check=False)
        except FileNotFoundError:
            return 127, f"executable not found: {argv[0]}"
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {self.allowlist.timeout_s:.0f}s"
        return proc.returncode, (proc.stdout + proc.stderr).strip()[-_OUTPUT_LIMIT:]

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Validate, fill the allowlisted argv and run it once per key (dry run: show the argv)."""
        started = datetime.now(timezone.utc)

        def outcome(status: str, output: str, clean: dict[str, Any]) -> ExecutionOutcome:
            return ExecutionOutcome(action=action, params=clean, status=status, output=output, idempotency_key=idempotency_key,
                                    started_at=started, finished_at=datetime.now(timezone.utc))

        try:
            clean = self.actions.validate(action, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return outcome("failed", f"rejected: {exc}", dict(params))
        template = self.allowlist.actions.get(action)
        if template is None:
            return outcome("failed", f"{action} is not allowlisted; allowlisted: {', '.join(sorted(self.allowlist.actions)) or 'none'}", clean)
        try:
            argv = build_argv(template, clean)
        except CommandError as exc:
            return outcome("failed", f"rejected: {exc}", clean)
        if dry_run:
            return outcome("dry_run", "would run: " + " ".join(argv), clean)
        recorded = self._ledger.lookup(idempotency_key, action, clean)
        if recorded is not None:
            return recorded
        code, text = self._run(argv)
        result = outcome("ok" if code == 0 else "failed", f"exit {code}: {text}" if text else f"exit {code}", clean)
        self._ledger.record(result)
        return result

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Run the allowlisted check command; exit status 0 means ok."""
        try:
            clean = self.checks.validate(name, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return CheckResult(check=name, ok=False, detail=f"rejected: {exc}")
        template = self.allowlist.checks.get(name)
        if template is None:
            return CheckResult(check=name, ok=False, detail=f"check {name} is not allowlisted")
        try:
            argv = build_argv(template, clean)
        except CommandError as exc:
            return CheckResult(check=name, ok=False, detail=f"rejected: {exc}")
        code, text = self._run(argv)
        return CheckResult(check=name, ok=code == 0, detail=f"exit {code}: {text}" if text else f"exit {code}")
