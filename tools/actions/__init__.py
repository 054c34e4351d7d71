"""lumos.tools.actions: the action/check registries and the backends that carry actions out.

Backends: `SimulatedEnvironment` (embedded default), `HttpHookBackend` (HMAC-signed POST),
`CommandBackend` (allowlisted argv, never a shell), `KubernetesBackend` (import it from
`lumos.tools.actions.kubernetes`; it needs the `kubernetes` client). Every backend validates parameters
against the registry before doing anything and runs each idempotency key at most once.
"""

from lumos.tools.actions.commands import CommandAllowlist, CommandBackend
from lumos.tools.actions.http_hook import HttpHookBackend
from lumos.tools.actions.policy import ApprovalPolicy, requires_approval, validate_override
from lumos.tools.actions.backend import ActionBackend, CheckResult, ExecutionOutcome, idempotency_key
from lumos.tools.actions.registry import (
    ActionRegistry,
    ActionSpec,
    CheckRegistry,
    CheckSpec,
    ParamsError,
    default_action_registry,
    default_check_registry,
)
from lumos.tools.actions.simenv import SimulatedEnvironment, WorldError
from lumos.tools.actions.simstate import Fault, ServiceState, WorldState

__all__ = [
    "ActionBackend",
    "ActionRegistry",
    "ActionSpec",
    "ApprovalPolicy",
    "CheckRegistry",
    "CheckResult",
    "CheckSpec",
    "CommandAllowlist",
    "CommandBackend",
    "ExecutionOutcome",
    "Fault",
    "HttpHookBackend",
    "ParamsError",
    "ServiceState",
    "SimulatedEnvironment",
    "WorldError",
    "WorldState",
    "default_action_registry",
    "default_check_registry",
    "idempotency_key",
    "requires_approval",
    "validate_override",
]
