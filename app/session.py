"""Build the objects a command needs (settings, resources, runner) from one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lumos.graph.checkpoint import open_sqlite_checkpointer
from lumos.graph.resources import Resources
from lumos.graph.runner import IncidentRunner
from lumos.tools.settings import Settings


@dataclass
class Session:
    """Settings, resources and an incident runner on the configured state folder."""

    settings: Settings
    resources: Resources
    runner: IncidentRunner

    @classmethod
    def open(cls, home: Path | None = None, *, config: Path | None = None) -> "Session":
        """Open (creating if needed) the state folder and everything on it; `config` is a lumos.yaml (live stack)."""
        settings = Settings.from_env(home=home, config=config)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        resources = Resources.from_settings(settings)
        runner = IncidentRunner(resources, open_sqlite_checkpointer(settings.checkpoint_db))
        return cls(settings=settings, resources=resources, runner=runner)
