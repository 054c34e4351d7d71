"""The action and check registries: every name a runbook may use, with its typed parameters.

A runbook can only name an action or check registered here and only with parameters its
model accepts; that is what makes runbook text unable to do anything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from lumos.tools.actions import params as p
from lumos.tools.validation import describe_validation_error

ALL_BACKENDS: tuple[str, ...] = ("simulated", "http_hook", "command")
WITH_KUBERNETES: tuple[str, ...] = (*ALL_BACKENDS, "kubernetes")


@dataclass(frozen=True)
class ActionSpec:
    """A registered action: its parameter model, whether it changes production, and where it runs."""

    name: str
    params: type[BaseModel]
    destructive: bool
    description: str
    backends: tuple[str, ...] = ALL_BACKENDS


@dataclass(frozen=True)
class CheckSpec:
    """A registered read-only check used for preconditions, step verification and post-checks."""

    name: str
    params: type[BaseModel]
    description: str


class ParamsError(ValueError):
    """Parameters rejected by an action's or check's schema; `field` names the bad parameter."""

    def __init__(self, name: str, field: str | None, message: str):
        self.name = name
        self.field = field
        self.message = message
        super().__init__(f"{name}: {field + ': ' if field else ''}{message}")


@dataclass(frozen=True)
class _Table:
    """An immutable name -> spec table with validation helpers."""

    kind: str
    specs: Mapping[str, Any] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.specs))

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self.specs)

    def get(self, name: str) -> Any:
        """The spec called `name`; KeyError listing the valid names when unknown."""
        try:
            return self.specs[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

    def validate(self, name: str, params: Mapping[str, Any]) -> BaseModel:
        """Validate `params` against the schema of `name`, raising ParamsError on any problem."""
        if name not in self.specs:
            raise ParamsError(name, None, f"unknown {self.kind}; valid: {', '.join(self.names())}")
        try:
            return self.specs[name].params.model_validate(dict(params))
        except ValidationError as exc:
            fld, message = describe_validation_error(exc)
            raise ParamsError(name, fld, message) from None


class ActionRegistry(_Table):
    """Actions by name."""

    def validate_params(self, name: str, params: Mapping[str, Any]) -> BaseModel:
        """Same as `validate` (the name the graph's approval gate uses for overrides)."""
        return self.validate(name, params)

    def is_destructive(self, name: str) -> bool:
        """The action's own destructive default."""
        return bool(self.get(name).destructive)


class CheckRegistry(_Table):
    """Checks by name."""


_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("restart_service", p.RestartServiceParams, True,
               "Restart a service (rolling, or one instance). Clears crash loops, leaked memory and stuck threads; "
               "does not fix bad code or bad config.", WITH_KUBERNETES),
    ActionSpec("scale_service", p.ScaleServiceParams, True,
               "Change a service's replica count (absolute 'replicas' or relative 'delta'). Adds capacity for CPU "
               "saturation or overload.", WITH_KUBERNETES),
    ActionSpec("rollback_deploy", p.RollbackDeployParams, True,
               "Roll a service back to its previous (or a named) version. The remedy for a bad deploy or for errors "
               "introduced by new code.", WITH_KUBERNETES),
    ActionSpec("revert_config", p.RevertConfigParams, True,
               "Restore a service's previous (or a named) configuration version. The remedy for a bad config change."),
    ActionSpec("failover_database", p.FailoverDatabaseParams, True,
               "Promote a replica of a database, cache or queue to primary. Only valid on datastore services."),
    ActionSpec("free_disk", p.FreeDiskParams, True,
               "Delete rotated logs and temp files older than a threshold on a service's volumes to free disk space."),
    ActionSpec("set_connection_pool", p.SetConnectionPoolParams, True,
               "Set the maximum size of a service's database connection pool (raise it when the pool is exhausted)."),
    ActionSpec("shed_load", p.ShedLoadParams, True,
               "Reject a percentage of low-priority requests at a service so the rest succeed. Relieves overload."),
    ActionSpec("circuit_break", p.CircuitBreakParams, True,
               "Open the circuit breaker from a service to one failing dependency so calls fail fast to a fallback."),
    ActionSpec("clear_cache", p.ClearCacheParams, True,
               "Invalidate a service's cache (all keys or a prefix). Fixes stale or poisoned cached data; expect a "
               "cold-cache load spike."),
    ActionSpec("drain_instance", p.DrainInstanceParams, True,
               "Take one bad instance out of load balancing so it is replaced. For one sick host/pod (network, disk)."),
    ActionSpec("collect_diagnostics", p.CollectDiagnosticsParams, False,
               "Read-only: snapshot logs, metrics, threads, heap, config or events of a service for the responders."),
    ActionSpec("notify", p.NotifyParams, False,
               "Read-only for the systems being repaired: post a message to a chat channel or pager route."),
)

_CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("service_exists", p.ServiceParams, "The service is known to the environment."),
    CheckSpec("service_healthy", p.ServiceParams, "The service is healthy, including the health of what it calls."),
    CheckSpec("fault_cleared", p.ServiceParams, "The service itself has no active fault (callees are ignored)."),
    CheckSpec("replicas_at_least", p.ReplicasAtLeastParams, "The service runs at least N replicas."),
    CheckSpec("version_is", p.VersionIsParams, "The service runs exactly this version."),
    CheckSpec("has_previous_version", p.ServiceParams, "There is an earlier version to roll back to."),
    CheckSpec("has_previous_config", p.ServiceParams, "There is an earlier config version to restore."),
    CheckSpec("error_rate_below", p.RateBelowParams, "The service's error ratio is below a threshold."),
    CheckSpec("latency_p99_below", p.LatencyBelowParams, "The service's p99 latency is below a threshold (ms)."),
    CheckSpec("disk_usage_below", p.DiskBelowParams, "The service's fullest volume is below a percentage."),
    CheckSpec("is_datastore", p.ServiceParams, "The service is a database, cache or queue."),
)


def default_action_registry() -> ActionRegistry:
    """The built-in actions (a fresh immutable table on every call)."""
    return ActionRegistry("action", {spec.name: spec for spec in _ACTIONS})


def default_check_registry() -> CheckRegistry:
    """The built-in read-only checks (a fresh immutable table on every call)."""
    return CheckRegistry("check", {spec.name: spec for spec in _CHECKS})


def default_registry() -> ActionRegistry:
    """Alias of `default_action_registry` (the name the incident graph uses)."""
    return default_action_registry()
