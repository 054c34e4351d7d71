"""Long-lived resources the graph's nodes use: audit trail, runbooks, action backends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lumos.graph.audit import AuditTrail
from lumos.tools.actions.registry import ActionRegistry, default_registry
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.domain import ActionResult
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import LexicalRunbookIndex, RunbookIndex
from lumos.tools.settings import Settings


class ActionBackend(Protocol):
    """Where actions run and checks read: the simulated environment, Kubernetes, HTTP hooks..."""

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ActionResult: ...

    def check(self, name: str, params: dict[str, Any]) -> Any: ...


@dataclass
class Resources:
    """Everything a node needs besides the state; built once per process."""

    settings: Settings
    audit: AuditTrail
    library: RunbookLibrary
    index: RunbookIndex
    registry: ActionRegistry
    backend_for: Callable[[str], ActionBackend]
    """incident id -> the backend its actions run on."""

    @classmethod
    def from_settings(cls, settings: Settings) -> "Resources":
        """The embedded defaults: SQLite audit trail, bundled + configured runbooks, simulated environment."""
        library = RunbookLibrary.load(settings.runbook_dirs)
        registry = default_registry()
        simenv_db = settings.simenv_db

        def backend_for(incident_id: str) -> ActionBackend:
            return SimulatedEnvironment.open(simenv_db, incident_id)

        return cls(
            settings=settings,
            audit=AuditTrail(settings.audit_db),
            library=library,
            index=LexicalRunbookIndex(library),
            registry=registry,
            backend_for=backend_for,
        )
