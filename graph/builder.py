"""Wire the incident graph. This module only connects nodes and routes (see DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from lumos.graph import routing
from lumos.graph.diagnosis import DiagnosisNodes
from lumos.graph.remediation import RemediationNodes
from lumos.graph.resources import Resources
from lumos.graph.state import IncidentState
from lumos.graph.workflow_nodes import WorkflowNodes
from lumos.tools.redact import redacting


def build_graph(resources: Resources, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """intake -> (no data: escalate) triage -> [workflow stages of agents, each in parallel -> stage_done]* -> correlate -> diagnosis_branch
    -> select_runbook -> plan -> [next_step -> approval_gate? -> execute_step -> verify]* -> resolve | rollback_gate? -> rollback -> escalate."""
    diagnosis = DiagnosisNodes(resources)
    remediation = RemediationNodes(resources)
    workflow = WorkflowNodes(resources)
    builder = StateGraph(IncidentState)

    def add(name: str, node: Callable[..., dict[str, Any]]) -> None:
        # Every state update is redacted before it is checkpointed: log lines, alert text and model output are untrusted.
        builder.add_node(name, redacting(node))

    add("intake", diagnosis.intake)
    add("triage", diagnosis.triage)
    add("log_analysis", diagnosis.log_analysis)
    add("dependency_mapping", diagnosis.dependency_mapping)
    for name, node in workflow.agent_nodes().items():
        add(name, node)
    add("stage_done", workflow.stage_done)
    add("correlate", diagnosis.correlate)
    add("diagnosis_branch", workflow.diagnosis_branch)
    add("select_runbook", remediation.select_runbook)
    add("plan", remediation.plan)
    add("next_step", remediation.next_step)
    add("approval_gate", remediation.gates.approval_gate)
    add("rollback_gate", remediation.gates.rollback_gate)
    add("execute_step", remediation.execute_step)
    add("verify", remediation.verify)
    add("rollback", remediation.rollback)
    add("escalate", remediation.escalate)
    add("resolve", remediation.resolve)

    builder.add_edge(START, "intake")
    builder.add_conditional_edges("intake", routing.after_intake)
    agents = workflow.agent_destinations()
    builder.add_conditional_edges("triage", workflow.first_stage, [*agents, "correlate"])
    for name in agents:
        builder.add_edge(name, "stage_done")
    builder.add_conditional_edges("stage_done", workflow.next_stage, [*agents, "correlate"])
    builder.add_edge("correlate", "diagnosis_branch")
    builder.add_conditional_edges("diagnosis_branch", workflow.after_branch, ["select_runbook", "escalate"])
    builder.add_conditional_edges("select_runbook", routing.after_select)
    builder.add_conditional_edges("plan", routing.after_plan)
    builder.add_conditional_edges("next_step", routing.choose_step)
    builder.add_conditional_edges("approval_gate", routing.after_gate)
    builder.add_conditional_edges("execute_step", routing.after_execute)
    builder.add_conditional_edges("verify", remediation.after_verify)
    builder.add_conditional_edges("rollback_gate", routing.after_rollback_gate)
    builder.add_edge("rollback", "escalate")
    builder.add_edge("escalate", END)
    builder.add_edge("resolve", END)
    return builder.compile(checkpointer=checkpointer, name="lumos-incident")
