"""Long-lived resources the graph's nodes use: audit trail, runbooks, action backends."""

from __future__ import annotations

import sys

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lumos.graph.audit import AuditTrail
from lumos.graph.audit_keys import load_audit_key
from lumos.graph.live import Live
from lumos.graph.workflow_spec import BUILTIN_AGENTS, NotifyTarget
from lumos.graph.workflows import Known, WorkflowCatalog
from lumos.tools.actions.registry import ActionRegistry, default_registry
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.plugins import PluginSet, load_plugins
from lumos.tools.domain import ActionResult
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import LexicalRunbookIndex, RunbookIndex
from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel, load_model
from lumos.tools.settings import Settings


class ActionBackend(Protocol):
    """Where actions run and checks read: the simulated environment, Kubernetes, HTTP hooks..."""

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ActionResult: ...

    def check(self, name: str, params: dict[str, Any]) -> Any: ...


def load_extensions(settings: Settings) -> tuple[PluginSet, ActionRegistry, RunbookLibrary, Known]:
    """Plugins, the action registry with plugin actions, the runbook library, and the names workflows may use."""
    plugins = load_plugins() if settings.plugins else PluginSet()
    registry = plugins.with_actions(default_registry())
    library = RunbookLibrary.load(settings.runbook_dirs, actions=registry)
    known = Known(agents=[*BUILTIN_AGENTS, *plugins.agents], actions=registry.names(), roles=settings.approver_roles,
                  runbooks=set(library.runbooks))
    return plugins, registry, library, known


def runbook_index(settings: Settings, library: RunbookLibrary) -> RunbookIndex:
    """The retrieval index the settings ask for (see `Settings.runbook_index`)."""
    from lumos.tools.runbooks.retrieval import ChromaConfig, open_runbook_index

    config = ChromaConfig.from_env(settings.state_dir)
    wanted = settings.runbook_index
    if wanted == "auto":
        wanted = "chroma" if config.host or (config.path is not None and config.path.is_dir()) else "lexical"
    if wanted == "lexical":
        return LexicalRunbookIndex(library)
    return open_runbook_index(library, config, warn=lambda line: print(f"warning: {line}", file=sys.stderr))


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
    workflows: WorkflowCatalog = field(default_factory=WorkflowCatalog)
    """Declared workflows (empty = the built-in default)."""
    plugins: PluginSet = field(default_factory=PluginSet)
    """Plugins loaded from entry points, and the ones that failed (reported, skipped)."""
    notifiers: list[NotifyTarget] = field(default_factory=list)
    """Told of every escalation, whatever the workflow."""
    model: DiagnosisModel = DEFAULT_MODEL
    """The diagnosis scoring model (weights and calibration); `LUMOS_DIAGNOSIS_MODEL` overrides it."""
    live: Live | None = None
    """The live stack of `lumos.yaml` (settings.config), when one is configured."""

    @classmethod
    def from_settings(cls, settings: Settings, *, live: Live | None = None) -> "Resources":
        """The embedded defaults: SQLite audit trail, bundled + configured runbooks and workflows, plugins, simulated environment.

        With `settings.config` (lumos.yaml), live incidents read its sources and run actions on its backends;
        replayed cases keep the simulated environment. An invalid workflow or config stops start-up with an
        InputError naming its file and line; a broken plugin does not.
        """
        plugins, registry, library, known = load_extensions(settings)
        workflows = WorkflowCatalog.load(settings.workflow_dirs, known)
        notifiers = [NotifyTarget(kind=kind, url=url, name=f"settings:{kind}")
                     for kind, url in (("webhook", settings.notify_webhook_url), ("slack", settings.notify_slack_url)) if url]
        simenv_db = settings.simenv_db
        if live is None and settings.config is not None:
            live = Live.open(settings)
        if live is not None:
            notifiers += live.notifiers()

        def backend_for(incident_id: str) -> ActionBackend:
            if live is not None and live.is_live(incident_id):
                return live.backends.for_incident(lambda: SimulatedEnvironment.open(simenv_db, incident_id))
            return SimulatedEnvironment.open(simenv_db, incident_id)

        return cls(
            settings=settings,
            audit=AuditTrail(settings.audit_db, load_audit_key(settings.state_dir, settings.audit_key)),
            library=library,
            index=runbook_index(settings, library),
            registry=registry,
            backend_for=backend_for,
            workflows=workflows,
            plugins=plugins,
            notifiers=notifiers,
            model=load_model(settings.diagnosis_model),
            live=live,
        )
