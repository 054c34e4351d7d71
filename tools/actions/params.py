"""Typed parameter models for every registered action and check.

Each model forbids unknown fields, so a runbook (or an approver's override) can only pass
parameters an action really takes. Field descriptions are written for a reader — human or
model — who has never seen the code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@ -]*$"


class Params(BaseModel):
    """Base of every action/check parameter model: strict about unknown fields, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceParams(Params):
    """Parameters naming one service."""

    service: str = Field(pattern=NAME_PATTERN, description="Service name as it appears in the topology.")


# --- actions -------------------------------------------------------------------------------


class RestartServiceParams(ServiceParams):
    """restart_service: restart every instance of a service (or one instance)."""

    instance: str | None = Field(default=None, pattern=NAME_PATTERN, description="Restart only this instance; omit for a rolling restart of all.")


class ScaleServiceParams(ServiceParams):
    """scale_service: set or change the replica count. Give exactly one of replicas / delta."""

    replicas: int | None = Field(default=None, ge=1, le=200, description="Absolute replica count wanted.")
    delta: int | None = Field(default=None, ge=-50, le=50, description="Change relative to the current count, e.g. 2 adds two replicas.")

    @model_validator(mode="after")
    def _one_of(self) -> "ScaleServiceParams":
        if (self.replicas is None) == (self.delta is None):
            raise ValueError("give exactly one of 'replicas' or 'delta'")
        if self.delta == 0:
            raise ValueError("'delta' must not be 0")
        return self


class RollbackDeployParams(ServiceParams):
    """rollback_deploy: return a service to an earlier version."""

    to_version: str | None = Field(default=None, description="Version to roll back to; omit for the previous version.")


class RevertConfigParams(ServiceParams):
    """revert_config: restore an earlier configuration of a service."""

    to_config_version: str | None = Field(default=None, description="Config version to restore; omit for the previous one.")


class FailoverDatabaseParams(ServiceParams):
    """failover_database: promote a replica of a database/cache/queue to primary."""

    replica: str | None = Field(default=None, pattern=NAME_PATTERN, description="Replica to promote; omit to let the datastore choose.")


class FreeDiskParams(ServiceParams):
    """free_disk: delete rotated logs and temporary files on a service's volumes."""

    path: str = Field(default="/var/log", pattern=r"^/[A-Za-z0-9._/-]*$", description="Absolute directory to clean (rotated logs, tmp).")
    older_than_hours: int = Field(default=24, ge=1, le=24 * 90, description="Only delete files older than this.")


class SetConnectionPoolParams(ServiceParams):
    """set_connection_pool: set the size of a service's database connection pool."""

    size: int = Field(ge=1, le=10_000, description="New maximum number of pooled connections.")


class ShedLoadParams(ServiceParams):
    """shed_load: reject a share of incoming low-priority requests at a service's edge."""

    percent: int = Field(ge=0, le=90, description="Share of low-priority requests to reject, in percent (0 stops shedding).")


class CircuitBreakParams(ServiceParams):
    """circuit_break: stop `service` calling `dependency` and serve its fallback instead."""

    dependency: str = Field(pattern=NAME_PATTERN, description="The failing callee to isolate.")


class ClearCacheParams(ServiceParams):
    """clear_cache: invalidate cached entries of a service (all, or those under a key prefix)."""

    prefix: str | None = Field(default=None, description="Only keys starting with this prefix; omit for all keys.")


class DrainInstanceParams(ServiceParams):
    """drain_instance: take one instance out of load balancing so a fresh one replaces it."""

    instance: str = Field(pattern=NAME_PATTERN, description="The instance (pod/host) to drain.")


DiagnosticKind = Literal["logs", "metrics", "threads", "heap", "config", "events", "connections", "disk"]


class CollectDiagnosticsParams(ServiceParams):
    """collect_diagnostics: snapshot logs, metrics and other state of a service (read-only)."""

    kinds: list[DiagnosticKind] = Field(default_factory=lambda: ["logs", "metrics"], min_length=1, description="What to collect.")


class NotifyParams(Params):
    """notify: post a message to a channel (read-only for the systems being repaired)."""

    channel: str = Field(default="#incidents", min_length=1, max_length=80, description="Chat channel or pager route.")
    message: str = Field(min_length=1, max_length=2000, description="The message text.")


# --- checks --------------------------------------------------------------------------------


class ReplicasAtLeastParams(ServiceParams):
    """replicas_at_least: the service runs at least this many replicas."""

    replicas: int = Field(ge=0, le=200)


class VersionIsParams(ServiceParams):
    """version_is: the service runs exactly this version."""

    version: str = Field(min_length=1)


class RateBelowParams(ServiceParams):
    """error_rate_below: the service's error ratio (0-1) is below the threshold."""

    threshold: float = Field(default=0.01, gt=0, le=1)


class LatencyBelowParams(ServiceParams):
    """latency_p99_below: the service's p99 latency in milliseconds is below the threshold."""

    threshold_ms: float = Field(default=500.0, gt=0)


class DiskBelowParams(ServiceParams):
    """disk_usage_below: the service's fullest volume is below this percentage."""

    percent: float = Field(default=85.0, gt=0, le=100)
