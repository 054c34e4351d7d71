"""The synthetic case generator: determinism, validity, coverage and realism guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumos.evals.cases import CaseRef, load_truth
from lumos.evals.generate import generate_case, generate_cases, generate_demo_case
from lumos.evals.validate import validate_case
from lumos.tools.casefiles import CaseFiles
from lumos.tools.domain import FAULT_TYPES, FaultType

REPO = Path(__file__).resolve().parent.parent
FILES = ("case.yaml", "alert.json", "logs.jsonl", "spans.jsonl", "metrics.csv", "topology.yaml", "changes.jsonl", "truth.yaml")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One full round of the taxonomy (11 cases), generated once for the module."""
    return generate_cases(tmp_path_factory.mktemp("gen"), count=11, services=8, seed=11)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = generate_cases(tmp_path / "a", count=3, services=6, seed=5)
    b = generate_cases(tmp_path / "b", count=3, services=6, seed=5)
    assert [p.name for p in a] == [p.name for p in b]
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_different_seed_differs(tmp_path: Path) -> None:
    a = generate_case(tmp_path / "a", fault_type=FaultType.cpu_saturation, seed=1)
    b = generate_case(tmp_path / "b", fault_type=FaultType.cpu_saturation, seed=2)
    assert (a / "spans.jsonl").read_bytes() != (b / "spans.jsonl").read_bytes()


def test_every_case_is_complete_and_loads(cases: list[Path]) -> None:
    for case in cases:
        assert sorted(p.name for p in case.iterdir()) == sorted(FILES)
        loaded = CaseFiles(case).load_all()
        assert loaded.logs and loaded.spans and loaded.metrics and loaded.changes
        check = validate_case(CaseRef(path=case, dataset=case.parent.name))
        assert check.ok, check.errors


def test_every_fault_type_is_covered_round_robin(cases: list[Path]) -> None:
    types = [load_truth(c).root_cause.fault_type.value for c in cases]  # type: ignore[union-attr]
    assert types[: len(FAULT_TYPES)] == list(FAULT_TYPES)


def test_truth_times_and_topology_are_consistent(cases: list[Path]) -> None:
    for case in cases:
        files, truth = CaseFiles(case), load_truth(case)
        assert truth is not None and truth.fault_start is not None
        window = files.info.window
        assert truth.root_cause.service in files.topology.service_names()
        assert window.start < truth.fault_start < files.info.alert_time < window.end
        assert 30 <= (files.info.alert_time - truth.fault_start).total_seconds() <= 120
        assert files.alert.starts_at == files.info.alert_time
        assert truth.accepted_runbooks, "every generated case names the runbooks that remediate its fault type"
        if truth.root_cause.fault_type == FaultType.dependency_outage:
            assert files.topology.get(truth.root_cause.service).kind in ("database", "cache", "queue")  # type: ignore[union-attr]


def test_alert_fires_on_entry_and_never_names_the_cause(cases: list[Path]) -> None:
    for case in cases:
        files, truth = CaseFiles(case), load_truth(case)
        assert truth is not None
        entry = next(s.name for s in files.topology.services if s.tier == "edge")
        assert files.alert.service == entry and files.alert.status == "firing"
        assert {"alertname", "severity", "service"} <= set(files.alert.labels)
        alert_text = (case / "alert.json").read_text()
        visible = alert_text + files.info.notes + files.info.title + files.info.id
        for word in (truth.root_cause.fault_type.value, truth.root_cause.fault_type.value.replace("_", " "),
                     truth.root_cause.fault_type.value.replace("_", "-")):
            assert word not in visible
        if truth.root_cause.service != entry:
            assert truth.root_cause.service not in alert_text
            assert truth.root_cause.service not in files.info.notes


def test_distractor_changes_and_causal_changes(cases: list[Path]) -> None:
    for case in cases:
        files, truth = CaseFiles(case), load_truth(case)
        assert truth is not None and truth.fault_start is not None
        root, ft = truth.root_cause.service, truth.root_cause.fault_type
        others = [c for c in files.changes if c.service != root]
        assert len(others) >= 2
        own = [c for c in files.changes if c.service == root]
        if ft == FaultType.bad_deploy:
            assert [c.kind for c in own] == ["deploy"] and own[0].ts <= truth.fault_start
            assert own[0].previous_version and own[0].version != own[0].previous_version
        elif ft == FaultType.config_change:
            assert [c.kind for c in own] == ["config"] and own[0].ts <= truth.fault_start
        else:
            assert not [c for c in own if c.kind in ("deploy", "config")]


def test_fault_shows_at_the_root_and_propagates(cases: list[Path]) -> None:
    for case in cases:
        files, truth = CaseFiles(case), load_truth(case)
        assert truth is not None and truth.fault_start is not None
        ft, root = truth.root_cause.fault_type, truth.root_cause.service
        after = [s for s in files.spans if s.start >= truth.fault_start]
        before = [s for s in files.spans if s.start < truth.fault_start]
        assert after and before
        def err(spans: list) -> float:
            mine = [s for s in spans if s.service == root]
            return sum(s.status == "ERROR" for s in mine) / max(1, len(mine))

        def slow(spans: list) -> float:
            mine = [s.duration_ms for s in spans if s.service == root]
            return sum(mine) / max(1, len(mine))
        if ft == FaultType.error_injection:
            assert err(after) > err(before) + 0.2
        if ft in (FaultType.bad_deploy, FaultType.config_change, FaultType.resource_exhaustion, FaultType.network_loss):
            assert err(after) > err(before) + 0.05 or slow(after) > 1.5 * slow(before)
        if ft in (FaultType.cpu_saturation, FaultType.network_delay):
            assert slow(after) > 1.3 * slow(before)
        root_logs = [r for r in files.logs if r.service == root and r.ts >= truth.fault_start and r.level != "INFO"]
        if ft != FaultType.bad_response:
            assert root_logs or ft == FaultType.dependency_outage


def test_logs_are_templated_with_levels_and_noise(cases: list[Path]) -> None:
    for case in cases:
        files, truth = CaseFiles(case), load_truth(case)
        assert truth is not None and truth.fault_start is not None
        assert {r.level for r in files.logs} <= {"INFO", "WARN", "ERROR"}
        noisy_before = [r for r in files.logs if r.ts < truth.fault_start and r.level in ("WARN", "ERROR")]
        assert noisy_before, "background warnings/errors must exist before the fault"
        assert any(r.trace_id for r in files.logs)


def test_metrics_cover_every_service(cases: list[Path]) -> None:
    wanted = {"cpu_usage_pct", "memory_usage_mb", "latency_p90_ms", "latency_p99_ms", "request_rate", "error_rate"}
    for case in cases:
        files = CaseFiles(case)
        assert wanted <= {m.metric for m in files.metrics}
        assert {m.service for m in files.metrics} == set(files.topology.service_names())


def test_topology_is_a_dag_with_datastores(cases: list[Path]) -> None:
    for case in cases:
        topo = CaseFiles(case).topology
        kinds = {s.kind for s in topo.services}
        assert {"database", "cache"} <= kinds
        assert len(topo.services) == 8
        edges = {(e.caller, e.callee) for e in topo.calls}
        order: dict[str, int] = {}
        def depth(name: str, seen: frozenset = frozenset()) -> int:
            assert name not in seen, "cycle"
            callers = [a for a, b in edges if b == name]
            return 0 if not callers else 1 + max(depth(c, seen | {name}) for c in callers)
        for s in topo.services:
            order[s.name] = depth(s.name)
        assert sum(1 for d in order.values() if d == 0) == 1  # one entry, everything reachable


def test_cases_are_small(cases: list[Path]) -> None:
    for case in cases:
        assert sum(p.stat().st_size for p in case.iterdir()) < 300_000


@pytest.mark.parametrize("services", [3, 5, 14])
def test_other_system_sizes(tmp_path: Path, services: int) -> None:
    for ft in (FaultType.dependency_outage, FaultType.resource_exhaustion, FaultType.crash_loop):
        case = generate_case(tmp_path, fault_type=ft, seed=services, services=services, case_id=f"c-{services}-{ft.value}")
        CaseFiles(case).load_all()
        assert len(CaseFiles(case).topology.services) == services


def test_demo_case_matches_the_bundled_copy(tmp_path: Path) -> None:
    fresh = generate_demo_case(tmp_path)
    bundled = REPO / "evals" / "cases" / "demo" / "shop-bad-deploy"
    assert _tree(fresh) == _tree(bundled), "regenerate with: python -m lumos.evals.generate --out evals/cases/demo --demo"
    truth = load_truth(fresh)
    assert truth is not None and truth.root_cause.service == "inventory"
    assert truth.root_cause.fault_type == FaultType.bad_deploy
    assert json.loads((fresh / "alert.json").read_text())["commonLabels"]["service"] == "frontend"
    assert sum(p.stat().st_size for p in fresh.iterdir()) < 2_000_000


def test_bundled_synthetic_set_covers_every_fault_type_twice() -> None:
    root = REPO / "evals" / "cases" / "synthetic"
    folders = sorted(p for p in root.iterdir() if (p / "case.yaml").is_file())
    assert len(folders) >= 22
    types = [load_truth(p).root_cause.fault_type.value for p in folders]  # type: ignore[union-attr]
    assert all(types.count(ft) >= 2 for ft in FAULT_TYPES)


def test_unknown_root_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a service"):
        generate_case(tmp_path, fault_type=FaultType.bad_deploy, seed=1, root="nope")
