"""Open everything the server runs on: SQLite files by default, Postgres for a fleet."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumos.app.server.config import ServerSettings
from lumos.app.server.db import open_database
from lumos.app.server.store import IncidentStore
from lumos.graph.checkpoint import open_sqlite_checkpointer
from lumos.graph.resources import Resources
from lumos.graph.runner import IncidentRunner
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.domain import Topology
from lumos.tools.errors import InputError
from lumos.tools.settings import Settings


@dataclass
class ServerRuntime:
    """Settings, the incident store, the graph's resources and runner, and how to close them."""

    config: ServerSettings
    settings: Settings
    store: IncidentStore
    resources: Resources
    runner: IncidentRunner
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, config: ServerSettings) -> "ServerRuntime":
        """Open the store, audit trail and checkpointer named by `config`."""
        settings = config.lumos_settings()
        if config.fleet and not settings.audit_key:
            raise InputError("fleet mode (a postgresql:// database) needs LUMOS_AUDIT_KEY: every process writing the shared "
                             "audit trail must sign it with the same key (at least 32 characters, e.g. `openssl rand -hex 32`)",
                             field="LUMOS_AUDIT_KEY")
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(config.database_url, settings.state_dir / "serve.sqlite")
        closers: list[Callable[[], None]] = [db.close]
        live = None
        if settings.config is not None:
            from lumos.graph.live import Live

            live = Live.open(settings, db=db)  # the span and change stores share the server's database
            closers.append(live.backends.close)
        resources = Resources.from_settings(settings, live=live)
        checkpointer: Any
        if config.fleet:
            from lumos.graph.audit_postgres import PostgresAuditTrail
            from lumos.graph.checkpoint_postgres import close_postgres_checkpointer, open_postgres_checkpointer

            audit = PostgresAuditTrail.connect(config.database_url or "", resources.audit.key)
            resources = dataclasses.replace(resources, audit=audit)  # type: ignore[arg-type]
            checkpointer = open_postgres_checkpointer(config.database_url or "", max_size=config.workers + 4)
            closers += [audit.close, lambda: close_postgres_checkpointer(checkpointer)]
        else:
            checkpointer = open_sqlite_checkpointer(settings.checkpoint_db)
            closers.append(checkpointer.conn.close)
        runner = IncidentRunner(resources, checkpointer)
        return cls(config=config, settings=settings, store=IncidentStore(db), resources=resources, runner=runner, closers=closers)

    def sources(self) -> dict[str, Any]:
        """The data sources of a webhook incident: the configured case folder, the live stack (collected at intake), or none."""
        if self.config.data_case is not None:
            return {"kind": "case", "path": str(Path(self.config.data_case).expanduser().resolve())}
        if self.resources.live is not None:
            return {"kind": "live"}
        return {"kind": "none"}

    def seed_world(self, incident_id: str, sources: dict[str, Any]) -> None:
        """Create the incident's simulated world once: from the configured case, else an empty topology."""
        with SimulatedEnvironment.open(self.settings.simenv_db, incident_id) as env:
            if env.exists or sources.get("kind") == "live":
                return  # a live incident's world is seeded from its collected topology at intake
            if sources.get("kind") != "case":
                env.seed(Topology())
                return
        from lumos.evals.cases import load_truth
        from lumos.evals.replay import seed_world
        from lumos.tools.casefiles import CaseFiles

        case_dir = Path(sources["path"])
        seed_world(self.settings.simenv_db, incident_id, CaseFiles(case_dir).load_all(), load_truth(case_dir))

    def close(self) -> None:
        """Close every connection opened by `open`."""
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # closing is best effort at shutdown
                pass
