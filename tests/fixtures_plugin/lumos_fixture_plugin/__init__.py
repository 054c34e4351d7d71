"""A tiny LUMOS plugin distribution used by the tests: one agent, one action, one broken entry point."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from lumos.tools.actions.registry import ActionSpec


def deploy_auditor(context: dict[str, Any]) -> dict[str, Any]:
    """Agent plugin: report which service alerted and how severe it is (reads only its context)."""
    alert = context["alert"]
    return {"checked": alert.get("service"), "severity": alert.get("severity"), "incident": context["incident_id"]}


def exploding_agent(context: dict[str, Any]) -> dict[str, Any]:
    """Agent plugin that fails at run time: the incident must carry on without it."""
    raise RuntimeError("boom")


class PageTeamParams(BaseModel):
    """Parameters of the page_team action."""

    model_config = ConfigDict(extra="forbid")
    team: str


PAGE_TEAM = ActionSpec("page_team", PageTeamParams, False, "Page a team (plugin action).")
