"""lumos.tools.actions: the action/check registries and the backends that carry actions out.

Backends: `SimulatedEnvironment` (embedded default). Every backend validates parameters
against the registry before doing anything.
"""

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
    "CheckRegistry",
    "CheckResult",
    "CheckSpec",
    "ExecutionOutcome",
    "Fault",
    "ParamsError",
    "ServiceState",
    "SimulatedEnvironment",
    "WorldError",
    "WorldState",
    "default_action_registry",
    "default_check_registry",
    "idempotency_key",
]
