"""The LUMOS domain model: pydantic types shared by every layer.

Readers of recorded data (case files, webhooks) ignore unknown fields, as the case
format requires for forward compatibility; configuration that people write by hand
(runbooks, settings) forbids them so typos are caught.
"""

from lumos.tools.domain.alert import Alert, AlertmanagerAlert, AlertmanagerPayload
from lumos.tools.domain.base import FAULT_TYPES, FaultType, RecordModel, StrictModel, TimeWindow
from lumos.tools.domain.case import CaseInfo, GroundTruth, RootCause
from lumos.tools.domain.execution import (
    Check,
    ServiceSelector,
    StepSpec,
    ActionResult,
    Approval,
    AuditEvent,
    PlannedStep,
    Runbook,
    RunbookStep,
)
from lumos.tools.domain.findings import (
    DependencyReport,
    Evidence,
    Hypothesis,
    LogReport,
    RunbookChoice,
    ServiceSignal,
    TriageReport,
)
from lumos.tools.domain.telemetry import Change, LogRecord, MetricSample, Service, Span, Topology, CallEdge

__all__ = [
    "FAULT_TYPES",
    "ActionResult",
    "Alert",
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "Approval",
    "AuditEvent",
    "CallEdge",
    "Check",
    "ServiceSelector",
    "StepSpec",
    "CaseInfo",
    "Change",
    "DependencyReport",
    "Evidence",
    "FaultType",
    "GroundTruth",
    "Hypothesis",
    "LogRecord",
    "LogReport",
    "MetricSample",
    "PlannedStep",
    "RecordModel",
    "RootCause",
    "Runbook",
    "RunbookChoice",
    "RunbookStep",
    "ServiceSignal",
    "Span",
    "StrictModel",
    "TimeWindow",
    "Topology",
    "TriageReport",
]
