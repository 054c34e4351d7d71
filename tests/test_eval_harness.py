"""`lumos eval` and `lumos cases`: replay, scoring, reports, regression gate, validation, generation."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from typer.testing import CliRunner

from lumos.app.cli.main import app
from lumos.evals.compare import find_regressions
from lumos.evals.scoring import unsafe_action_count
from lumos.graph.runner import IncidentOutcome
from lumos.tools.domain import ActionResult, Approval, GroundTruth
from tests.conftest import DEMO_CASE, REPO

SYNTHETIC = REPO / "evals" / "cases" / "synthetic"
runner = CliRunner()


def _small_suite(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    for src, dataset in ((DEMO_CASE, "demo"), *((p, "synthetic") for p in sorted(SYNTHETIC.iterdir())[:2])):
        shutil.copytree(src, root / dataset / src.name)
    # topology.yaml is optional: the topology is derived and the world seeded all the same
    (root / "synthetic" / sorted(SYNTHETIC.iterdir())[0].name / "topology.yaml").unlink()
    broken = root / "synthetic" / "zz-broken"
    shutil.copytree(DEMO_CASE, broken)
    (broken / "spans.jsonl").write_text("{oops\n")
    return root


def test_eval_writes_reports_scores_and_survives_a_broken_case(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", str(_small_suite(tmp_path)), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "random top-1/3" in result.output and "overall" in result.output
    for name in ("results.json", "report.md", "report.html", "accuracy.png"):
        assert (out / name).is_file()
    results = json.loads((out / "results.json").read_text())
    overall = results["summary"]["overall"]
    assert overall["cases"] == 4 and overall["errors"] == 1 and overall["scored"] == 3
    assert set(results["summary"]["by_dataset"]) == {"demo", "synthetic"}
    assert set(results["summary"]["baselines"]) == {"random", "alert_service"}
    broken = next(c for c in results["cases"] if c["id"] == "zz-broken")
    assert broken["status"] == "error" and "spans.jsonl:1" in broken["error"]
    assert all(c["status"] == "ok" for c in results["cases"] if c["id"] != "zz-broken")
    demo = next(c for c in results["cases"] if c["dataset"] == "demo")
    assert demo["ranking"][0] == "inventory" and demo["rca_top1"] is True and demo["unsafe_actions"] == 0
    assert demo["baseline_alert_service"] == [0.0, 0.0]
    assert "<img" in (out / "report.html").read_text()
    # A crashed case is a miss: 4 cases judged, the broken one among them.
    synthetic = results["summary"]["by_dataset"]["synthetic"]
    hits = sum(bool(c["rca_top1"]) for c in results["cases"] if c["dataset"] == "synthetic")
    assert synthetic["rca_top1"] == round(hits / 3, 4)
    lo, hi = overall["rca_top1_ci95"]
    assert 0.0 <= lo <= overall["rca_top1"] <= hi <= 1.0
    assert overall["fault_type_majority"]["rate"] <= overall["cases"] and results["summary"]["by_fault_type"]
    assert results["summary"]["calibration"]["n"] == 3 and 0.0 <= results["summary"]["calibration"]["ece"] <= 1.0
    # Without a terminal, one plain progress line per case; the tables use ✓/✗ and keep dataset names whole.
    assert result.output.count("eval ") >= 4 and "eval 4/4" in result.output
    html = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    for section in ("Scores", "By fault type", "Calibration", "Errors", "Cases"):
        assert f"<h2>{section}" in html and f"## {section}" in markdown
    assert "✓" in html and "True" not in html and "zz-broken" in html and "file://" in html


def test_compare_gates_on_regressions(tmp_path):
    suite = tmp_path / "one"
    shutil.copytree(DEMO_CASE, suite / "demo" / "shop")
    out = tmp_path / "out"
    assert runner.invoke(app, ["eval", str(suite), "--out", str(out)]).exit_code == 0
    current = json.loads((out / "results.json").read_text())
    same = runner.invoke(app, ["eval", str(suite), "--out", str(tmp_path / "o2"), "--compare", str(out / "results.json")])
    assert same.exit_code == 0 and "No regressions" in same.output
    better = json.loads(json.dumps(current))
    better["summary"]["overall"]["fault_type_top1"] = current["summary"]["overall"]["fault_type_top1"] + 0.5
    prev = tmp_path / "prev.json"
    prev.write_text(json.dumps(better))
    worse = runner.invoke(app, ["eval", str(suite), "--out", str(tmp_path / "o3"), "--compare", str(prev)])
    assert worse.exit_code == 1 and "fault_type_top1" in worse.output
    assert find_regressions(better, current, 0.6) == []


def test_eval_usage_errors(tmp_path):
    missing = runner.invoke(app, ["eval", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    empty = runner.invoke(app, ["eval", str(tmp_path)])
    assert empty.exit_code == 2
    bad_compare = tmp_path / "bad.json"
    bad_compare.write_text("{")
    result = runner.invoke(app, ["eval", str(DEMO_CASE), "--compare", str(bad_compare), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2


def test_unsafe_actions_count_forbidden_and_unapproved():
    now = datetime.now(timezone.utc)

    def result(i, action, destructive):
        return ActionResult(step_index=i, action=action, params={}, status="ok", idempotency_key=f"k{i}", destructive=destructive)

    outcome = IncidentOutcome(
        incident_id="x", status="resolved",
        results=[result(0, "collect_diagnostics", False), result(1, "restart_service", True), result(2, "failover_database", True)],
        approvals=[Approval(step_index=1, decision="approve", approver="a", decided_at=now),
                   Approval(step_index=2, decision="approve", approver="a", decided_at=now)],
    )
    truth = GroundTruth.model_validate({"root_cause": {"service": "a", "fault_type": "bad_deploy"}, "forbidden_actions": ["failover_database"]})
    assert unsafe_action_count(outcome, truth) == 1
    unapproved = outcome.model_copy(update={"approvals": []})
    assert unsafe_action_count(unapproved, None) == 2


def test_cases_validate_reports_file_and_line(tmp_path):
    good = runner.invoke(app, ["cases", "validate", str(DEMO_CASE)])
    assert good.exit_code == 0, good.output
    bad = tmp_path / "bad"
    shutil.copytree(DEMO_CASE, bad)
    (bad / "truth.yaml").write_text("root_cause: {service: nowhere, fault_type: bad_deploy}\n")
    with (bad / "logs.jsonl").open("a") as fh:
        fh.write('{"ts": "2025-05-24T11:21:00Z", "service": "x", "message": 5}\n')
    result = runner.invoke(app, ["cases", "validate", str(bad)])
    assert result.exit_code == 1
    assert "truth.yaml: root_cause.service" in result.output
    assert "logs.jsonl:" in result.output and "message" in result.output


def test_cases_generate_then_validate(tmp_path):
    out = tmp_path / "gen"
    result = runner.invoke(app, ["cases", "generate", "--out", str(out), "--count", "3", "--services", "6", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*/case.yaml"))) == 3
    assert runner.invoke(app, ["cases", "validate", str(out)]).exit_code == 0


def test_reliability_brier_and_ece():
    from lumos.evals.calibration import reliability

    perfect = reliability([0.9] * 10, [True] * 9 + [False])
    assert perfect.ece == 0.0 and abs(perfect.brier - (9 * 0.01 + 0.81) / 10) < 1e-9
    overconfident = reliability([0.95] * 4, [True, False, False, False])
    assert abs(overconfident.ece - 0.7) < 1e-9 and [b.n for b in overconfident.bins if b.n] == [4]
    assert reliability([], []).n == 0
