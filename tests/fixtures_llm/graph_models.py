"""Run the real incident graph with scripted models injected per role (no network)."""

from __future__ import annotations

from typing import Any

from lumos.agents.llm.config import Role
from lumos.agents.llm.scripted import ScriptedChatModel
from lumos.graph.diagnosis import MODELS_KEY
from lumos.graph.runner import IncidentRunner


class ScriptedModels:
    """A ModelFactory handing out one scripted model per role (roles without one stay offline)."""

    def __init__(self, models: dict[str, ScriptedChatModel] | None = None):
        self.models = dict(models or {})

    def __call__(self, role: Role) -> ScriptedChatModel | None:
        return self.models.get(role)


class ModelRunner(IncidentRunner):
    """An IncidentRunner whose graph calls receive a model factory in `configurable`."""

    def __init__(self, base: IncidentRunner, factory: Any):
        self.resources = base.resources
        self.graph = base.graph
        self.factory = factory

    def _config(self, incident_id: str) -> dict[str, Any]:  # type: ignore[override]
        return {"configurable": {"thread_id": incident_id, MODELS_KEY: self.factory}}
