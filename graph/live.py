"""Live incidents: the stack of `lumos.yaml` the graph reads and acts on, and the one-time collection
of an incident's data from it (at intake) into a case folder the agents then read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumos.agents.llm.redact import Redactor
from lumos.graph.state import SourceSpec
from lumos.graph.workflow_spec import NotifyTarget
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.casefiles import CaseFiles
from lumos.tools.domain import Alert
from lumos.tools.live.actions import ConfiguredBackends
from lumos.tools.live.collect import Collected, Collector
from lumos.tools.errors import InputError
from lumos.tools.live.config import StackConfig, load_config, read_secret
from lumos.tools.live.stack import LiveStack
from lumos.tools.settings import Settings

LIVE_DIR = "live"


def snapshot_dir(state_dir: Path, incident_id: str) -> Path:
    """Where a live incident's collected data lives: `$LUMOS_HOME/live/<incident id>`."""
    return state_dir / LIVE_DIR / incident_id


@dataclass
class Live:
    """A live stack opened for this process: configuration, span/change stores, action backends."""

    stack: LiveStack
    backends: ConfiguredBackends
    state_dir: Path

    @property
    def config(self) -> StackConfig:
        """The parsed `lumos.yaml`."""
        return self.stack.config

    @classmethod
    def open(cls, settings: Settings, *, config: StackConfig | None = None, db: Any = None) -> "Live":
        """Open the stack of `settings.config` (or `config`); `db` is the server's database when it shares one."""
        config = config or load_config(settings.config or Path())
        stack = LiveStack.open(config, settings.state_dir, db=db)
        return cls(stack=stack, backends=ConfiguredBackends(config.actions, settings.state_dir), state_dir=settings.state_dir)

    def is_live(self, incident_id: str) -> bool:
        """True when `incident_id` was opened against the live stack (its actions follow the configuration)."""
        return snapshot_dir(self.state_dir, incident_id).is_dir()

    def collect(self, settings: Settings, incident_id: str, alert: Alert, *, onset_reach_s: float) -> tuple[SourceSpec, Collected]:
        """Read the incident's data from every configured source into its folder; failures are in the statuses.

        `onset_reach_s`: how long before the alert the onset may lie (the baseline is read before that).
        """
        folder = snapshot_dir(self.state_dir, incident_id)
        redactor = Redactor(emails=settings.llm_redact_emails, ips=settings.llm_redact_ips)
        collected = Collector(self.stack, onset_lookback_s=onset_reach_s, redact=redactor).collect(alert, folder, case_id=incident_id)
        return {"kind": "live", "path": str(folder)}, collected

    def seed_world(self, simenv_db: Path, incident_id: str, alert: Alert) -> None:
        """Give the incident's simulated world the collected topology and deployed versions (no faults), once."""
        with SimulatedEnvironment.open(simenv_db, incident_id) as env:
            if env.exists:
                return
            data = CaseFiles(snapshot_dir(self.state_dir, incident_id))
            versions = {c.service: (c.version, c.previous_version) for c in data.changes
                        if c.kind == "deploy" and c.version and c.ts <= alert.starts_at}
            env.seed(data.topology, versions=versions)

    def notifiers(self) -> list[NotifyTarget]:
        """The `notify.targets` of lumos.yaml, their URLs read from the variables they name."""
        out = []
        for i, target in enumerate(self.config.notify.targets):
            url = read_secret(target.url_env, f"notify.targets.{i}.url_env") or ""
            if not url.startswith(("http://", "https://")):
                raise InputError(f"environment variable {target.url_env} must hold an http(s) URL", field=f"notify.targets.{i}.url_env")
            out.append(NotifyTarget(kind=target.kind, url=url, name=target.name or f"lumos.yaml:{target.kind}"))
        return out

    def close(self) -> None:
        """Close the backends and the stores."""
        self.backends.close()
        self.stack.close()
