"""Plugins: agents, tools, log/metric sources and actions registered through Python entry points.

Groups: `lumos.agents`, `lumos.tools`, `lumos.sources`, `lumos.actions`. Each entry point is loaded
in isolation; one that fails to import, or does not give the expected kind of object, is reported
in `PluginSet.errors` and skipped, so a broken plugin never takes the core down.

An agent plugin is a callable `(context: dict) -> dict`: it receives a read-only JSON view of the
incident (id, alert, triage) and returns JSON findings that land in the incident state. An action
plugin is an `ActionSpec` (or a callable returning one); its params model makes it as constrained
as a built-in action, and its `destructive` flag gates it like one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from lumos.tools.actions.registry import ActionRegistry, ActionSpec

GROUPS: tuple[str, ...] = ("lumos.agents", "lumos.tools", "lumos.sources", "lumos.actions")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

log = logging.getLogger("lumos.plugins")

AgentPlugin = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be loaded, and why."""

    group: str
    name: str
    value: str
    error: str

    def one_line(self) -> str:
        """`group:name (module:attr): error`."""
        return f"{self.group}:{self.name} ({self.value}): {self.error}"


@dataclass(frozen=True)
class PluginSet:
    """The plugins that loaded, by group and name, and the ones that did not."""

    agents: dict[str, AgentPlugin] = field(default_factory=dict)
    tools: dict[str, Callable[..., Any]] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)

    def with_actions(self, registry: ActionRegistry) -> ActionRegistry:
        """`registry` plus the plugin actions (a built-in name is never replaced)."""
        extra = {name: spec for name, spec in self.actions.items() if name not in registry}
        return ActionRegistry(registry.kind, {**registry.specs, **extra})


def _check(group: str, name: str, obj: Any) -> Any:
    if not NAME_RE.match(name):
        raise ValueError(f"plugin names must match {NAME_RE.pattern}")
    if group == "lumos.actions":
        spec = obj() if callable(obj) and not isinstance(obj, ActionSpec) else obj
        if not isinstance(spec, ActionSpec):
            raise TypeError(f"expected an ActionSpec, got {type(spec).__name__}")
        if spec.name != name:
            raise ValueError(f"entry point name {name!r} differs from the action's name {spec.name!r}")
        return spec
    if group in ("lumos.agents", "lumos.tools") and not callable(obj):
        raise TypeError(f"expected a callable, got {type(obj).__name__}")
    return obj


def load_plugins(eps: Iterable[EntryPoint] | None = None) -> PluginSet:
    """Load every plugin of the four groups; broken ones are logged, listed in `.errors` and skipped."""
    found = list(eps) if eps is not None else [ep for group in GROUPS for ep in entry_points(group=group)]
    tables: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
    errors: list[PluginError] = []
    for ep in found:
        if ep.group not in tables:
            continue
        try:
            obj = _check(ep.group, ep.name, ep.load())
            if ep.name in tables[ep.group]:
                raise ValueError("another plugin already registered this name")
        except Exception as exc:  # a plugin is someone else's code: report it and go on
            error = PluginError(ep.group, ep.name, ep.value, f"{type(exc).__name__}: {exc}")
            log.warning("plugin skipped: %s", error.one_line())
            errors.append(error)
            continue
        tables[ep.group][ep.name] = obj
    return PluginSet(agents=tables["lumos.agents"], tools=tables["lumos.tools"], sources=tables["lumos.sources"],
                     actions=tables["lumos.actions"], errors=errors)
