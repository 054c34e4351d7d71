"""Workflow files: the bundled set loads, bad input is rejected with file and line, the CLI reports it."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from typer.testing import CliRunner

from lumos.app.cli.main import app
from lumos.graph.workflow_spec import BUILTIN_AGENTS
from lumos.graph.workflows import Known, WorkflowCatalog, bundled_workflow_dir
from lumos.tools.actions.registry import default_registry
from lumos.tools.domain import Alert
from lumos.tools.errors import InputError

KNOWN = Known(agents=BUILTIN_AGENTS, actions=default_registry().names(), roles=["oncall", "dba", "sre", "security"],
              runbooks={"rollback-bad-deploy"})
BUNDLED = {"default", "critical-database-incident", "stateless-service-latency", "bad-deploy-fast-rollback", "security-sensitive"}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dedent(text).lstrip())
    return path


def alert(**kw) -> Alert:
    return Alert.model_validate({"fingerprint": "f", "name": kw.pop("name", "X"), "starts_at": "2025-01-01T00:00:00Z", **kw})


def test_bundled_workflows_load_and_match():
    catalog = WorkflowCatalog.load([], KNOWN)
    assert BUNDLED <= set(catalog.names())
    assert catalog.select(alert(severity="critical", service="db"), "database")[0].workflow.name == "critical-database-incident"
    assert catalog.select(alert(severity="warning", service="db"), "database")[0].workflow.name == "default"
    assert catalog.select(alert(name="LatencySLOBurn", labels={"alertname": "LatencySLOBurn"}), "service")[0].workflow.name \
        == "stateless-service-latency"
    chosen, why = catalog.select(alert(labels={"category": "security", "change": "deploy"}), "service")
    assert chosen.workflow.name == "security-sensitive" and "category=security" in why
    assert catalog.get("bad-deploy-fast-rollback").levels == (("dependency_mapping",), ("log_analysis",))


@pytest.mark.parametrize("body, line, needle", [
    ("""
     name: bad-agent
     stages:
       - name: a
         agents: [dependency_mapping,
                  wizard]
     """, 5, "unknown agent 'wizard'"),
    ("""
     name: bad-action
     approval:
       gate_actions: [launch_missiles]
     """, 3, "unknown action 'launch_missiles'"),
    ("""
     name: bad-role
     approval:
       approver_roles:
         - janitor
     """, 4, "unknown approver role 'janitor'"),
    ("""
     name: cyclic
     stages:
       - name: a
         agents: [log_analysis]
         after: [b]
       - name: b
         agents: [dependency_mapping]
         after: [a]
     """, 5, "cycle between stages"),
    ("""
     name: dead-branch
     branches:
       - name: any-low
         when: {max_confidence: 0.8}
         escalate: true
       - name: lower
         when: {max_confidence: 0.5}
         escalate: true
     """, 6, "can never be taken"),
    ("""
     name: bad-field
     stages:
       - name: a
         agents: [dependency_mapping]
         paralel: true
     """, 5, "Extra inputs are not permitted"),
])
def test_invalid_workflows_are_rejected_with_file_and_line(tmp_path, body, line, needle):
    path = write(tmp_path / "wf", "bad.yaml", body)
    with pytest.raises(InputError) as err:
        WorkflowCatalog.load([tmp_path / "wf"], KNOWN)
    assert err.value.path == str(path) and err.value.line == line, err.value.one_line()
    assert needle in err.value.message


def test_equal_priority_overlap_is_rejected_and_disjoint_rules_are_not(tmp_path):
    write(tmp_path / "ok", "a.yaml", "name: a\npriority: 5\nmatch: {severity: [critical]}\n")
    write(tmp_path / "ok", "b.yaml", "name: b\npriority: 5\nmatch: {severity: [warning]}\n")
    assert {"a", "b"} <= set(WorkflowCatalog.load([tmp_path / "ok"], KNOWN).names())
    write(tmp_path / "clash", "a.yaml", "name: a\npriority: 5\nmatch: {severity: [critical]}\n")
    path = write(tmp_path / "clash", "b.yaml", "name: b\npriority: 5\n\nmatch:\n  labels: {team: payments}\n")
    with pytest.raises(InputError) as err:
        WorkflowCatalog.load([tmp_path / "clash"], KNOWN)
    assert err.value.path == str(path) and err.value.line == 4
    assert "can match the same alert with equal priority 5" in err.value.message


def test_cli_list_show_validate(tmp_path, monkeypatch):
    runner = CliRunner()
    listed = runner.invoke(app, ["workflows", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert BUNDLED <= {row["name"] for row in __import__("json").loads(listed.stdout)}
    shown = runner.invoke(app, ["workflows", "show", "critical-database-incident"])
    assert shown.exit_code == 0 and "dba" in shown.stdout
    assert runner.invoke(app, ["workflows", "show", "nope"]).exit_code == 2
    assert runner.invoke(app, ["workflows", "validate"]).exit_code == 0
    assert runner.invoke(app, ["workflows", "validate", str(bundled_workflow_dir()), "--no-bundled"]).exit_code == 0
    bad = write(tmp_path / "wf", "bad.yaml", "name: bad\nstages:\n  - name: a\n    agents: [ghost]\n")
    result = runner.invoke(app, ["workflows", "validate", str(tmp_path / "wf")])
    assert result.exit_code == 1
    assert f"{bad}:4: stages.0.agents.0: unknown agent 'ghost'" in result.stdout
