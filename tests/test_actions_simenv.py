"""The simulated environment: faults, propagation, cures, persistence and the idempotency ledger."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lumos.tools.actions import ActionBackend, SimulatedEnvironment, WorldError
from lumos.tools.actions.remedies import CURES
from lumos.tools.domain import FAULT_TYPES, Change, FaultType, RootCause, Topology

TOPOLOGY = Topology.model_validate({
    "services": [
        {"name": "gateway"}, {"name": "api"}, {"name": "search"},
        {"name": "orders-db", "kind": "database"}, {"name": "sessions", "kind": "cache"},
    ],
    "calls": [
        {"caller": "gateway", "callee": "api"}, {"caller": "gateway", "callee": "search"},
        {"caller": "api", "callee": "orders-db"}, {"caller": "api", "callee": "sessions"},
    ],
})


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "sim.sqlite"


@pytest.fixture()
def env(db: Path):
    with SimulatedEnvironment.open(db, "inc-1") as e:
        yield e


def health(env: SimulatedEnvironment) -> dict[str, str]:
    return {s.name: s.effective_health for s in env.state().services}


def test_is_an_action_backend(env: SimulatedEnvironment) -> None:
    assert isinstance(env, ActionBackend)


def test_fault_makes_service_unhealthy_and_degrades_callers_transitively(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [("orders-db", "dependency_outage")])
    assert health(env) == {"api": "degraded", "gateway": "degraded", "orders-db": "unhealthy", "search": "healthy", "sessions": "healthy"}
    assert not env.check("service_healthy", {"service": "gateway"}).ok
    assert env.check("fault_cleared", {"service": "gateway"}).ok
    assert env.check("error_rate_below", {"service": "orders-db", "threshold": 0.05}).ok is False


def test_inject_fault_later_and_unknown_service(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY)
    assert env.state().healthy
    env.inject_fault("search", FaultType.cpu_saturation)
    assert health(env)["gateway"] == "degraded"
    with pytest.raises(WorldError, match="unknown service 'nope'"):
        env.inject_fault("nope", "crash_loop")


def test_right_action_on_wrong_service_does_not_cure(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [("api", "crash_loop")])
    out = env.execute("restart_service", {"service": "gateway"}, idempotency_key="k1")
    assert out.status == "ok" and "cleared" not in out.output
    assert env.state().service("api").active_faults == ["crash_loop"]
    out = env.execute("restart_service", {"service": "api"}, idempotency_key="k2")
    assert "cleared crash_loop on api" in out.output
    assert env.state().healthy


def test_wrong_action_on_right_service_does_not_cure(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [("api", "bad_deploy")])
    assert env.execute("restart_service", {"service": "api"}, idempotency_key="a").status == "ok"
    assert env.execute("scale_service", {"service": "api", "delta": 2}, idempotency_key="b").status == "ok"
    assert env.state().service("api").active_faults == ["bad_deploy"]
    assert env.check("has_previous_version", {"service": "api"}).ok
    assert env.execute("rollback_deploy", {"service": "api"}, idempotency_key="c").status == "ok"
    api = env.state().service("api")
    assert api.active_faults == [] and api.version == "1.0.0" and api.previous_version == "1.1.0"


CURING = {
    FaultType.crash_loop: ("api", "restart_service", {"service": "api"}),
    FaultType.memory_pressure: ("api", "restart_service", {"service": "api"}),
    FaultType.cpu_saturation: ("api", "scale_service", {"service": "api", "delta": 2}),
    FaultType.network_delay: ("api", "circuit_break", {"service": "gateway", "dependency": "api"}),
    FaultType.network_loss: ("api", "drain_instance", {"service": "api", "instance": "api-1"}),
    FaultType.error_injection: ("api", "rollback_deploy", {"service": "api", "to_version": "0.9.0"}),
    FaultType.bad_response: ("api", "clear_cache", {"service": "api"}),
    FaultType.config_change: ("api", "revert_config", {"service": "api"}),
    FaultType.bad_deploy: ("api", "rollback_deploy", {"service": "api"}),
    FaultType.dependency_outage: ("orders-db", "failover_database", {"service": "orders-db"}),
    FaultType.resource_exhaustion: ("api", "set_connection_pool", {"service": "api", "size": 80}),
}


@pytest.mark.parametrize("fault", [FaultType(f) for f in FAULT_TYPES])
def test_every_fault_type_has_a_cure(db: Path, fault: FaultType) -> None:
    assert fault in CURES
    service, action, params = CURING[fault]
    with SimulatedEnvironment.open(db, f"w-{fault.value}") as env:
        env.seed(TOPOLOGY, [(service, fault)])
        assert not env.state().healthy
        out = env.execute(action, params, idempotency_key="cure")
        assert out.status == "ok", out.output
        assert env.state().healthy, env.state()
        assert env.state().faults[0].cured_by == f"{action} [cure]"


def test_cure_conditions(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [RootCause(service="api", fault_type="network_loss", instance="api-2"), ("search", "resource_exhaustion"),
                        ("sessions", "cpu_saturation")])
    env.execute("drain_instance", {"service": "api", "instance": "api-1"}, idempotency_key="1")
    env.execute("set_connection_pool", {"service": "search", "size": 5}, idempotency_key="2")  # lowering is no cure
    env.execute("scale_service", {"service": "sessions", "delta": -1}, idempotency_key="3")  # scaling in is no cure
    assert sorted(f.service for f in env.state().faults if f.active) == ["api", "search", "sessions"]
    env.execute("drain_instance", {"service": "api", "instance": "api-2"}, idempotency_key="4")
    env.execute("free_disk", {"service": "search"}, idempotency_key="5")
    env.execute("shed_load", {"service": "sessions", "percent": 20}, idempotency_key="6")
    assert env.state().healthy
    assert env.check("disk_usage_below", {"service": "search", "percent": 85}).ok


def test_open_circuit_stops_propagation_without_curing(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [("sessions", "error_injection")])
    out = env.execute("circuit_break", {"service": "api", "dependency": "sessions"}, idempotency_key="cb")
    assert out.status == "ok" and "cleared" not in out.output
    h = health(env)
    assert h["api"] == "healthy" and h["gateway"] == "healthy" and h["sessions"] == "unhealthy"
    assert env.state().service("api").open_circuits == ["sessions"]


def test_refused_actions_fail_with_a_reason(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY)
    assert "no previous version" in env.execute("rollback_deploy", {"service": "api"}, idempotency_key="1").output
    assert "not a database" in env.execute("failover_database", {"service": "api"}, idempotency_key="2").output
    out = env.execute("circuit_break", {"service": "search", "dependency": "api"}, idempotency_key="3")
    assert out.status == "failed" and "does not call api" in out.output
    out = env.execute("restart_service", {"service": "ghost"}, idempotency_key="4")
    assert out.status == "failed" and "known services: api, gateway" in out.output
    bad = env.execute("restart_service", {"service": "api", "shell": "rm -rf /"}, idempotency_key="5")
    assert bad.status == "failed" and "shell" in bad.output
    assert env.execute("format_disks", {}, idempotency_key="6").status == "failed"
    assert env.check("nope", {}).ok is False


def test_idempotency_key_replays_without_acting_again(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY)
    first = env.execute("scale_service", {"service": "api", "delta": 1}, idempotency_key="inc/scale/1")
    again = env.execute("scale_service", {"service": "api", "delta": 1}, idempotency_key="inc/scale/1")
    assert first.replayed is False and again.replayed is True
    assert again.output == first.output and again.status == first.status
    assert env.state().service("api").replicas == 3
    conflict = env.execute("restart_service", {"service": "api"}, idempotency_key="inc/scale/1")
    assert conflict.status == "failed" and "already used" in conflict.output
    assert [o.idempotency_key for o in env.history()] == ["inc/scale/1"]


def test_dry_run_changes_nothing_and_records_nothing(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY, [("api", "crash_loop")])
    out = env.execute("restart_service", {"service": "api"}, idempotency_key="k", dry_run=True)
    assert out.status == "dry_run" and "would run restart_service" in out.output
    assert env.state().service("api").restarts == 0 and env.history() == []
    assert env.execute("restart_service", {"service": "api"}, idempotency_key="k").replayed is False


def test_world_persists_across_instances_and_worlds_are_separate(db: Path) -> None:
    with SimulatedEnvironment.open(db, "inc-a") as a:
        a.seed(TOPOLOGY, [("api", "bad_deploy")])
        a.execute("scale_service", {"service": "api", "replicas": 5}, idempotency_key="s")
    with SimulatedEnvironment.open(db, "inc-b") as b:
        b.seed(TOPOLOGY)
        assert b.state().service("api").replicas == 2
    with SimulatedEnvironment.open(db, "inc-a") as again:
        assert again.exists
        assert again.state().service("api").replicas == 5
        assert again.execute("scale_service", {"service": "api", "replicas": 5}, idempotency_key="s").replayed
        again.execute("rollback_deploy", {"service": "api"}, idempotency_key="r")
        assert again.state().healthy


def test_resume_in_a_new_process_does_not_repeat(db: Path) -> None:
    with SimulatedEnvironment.open(db, "inc-p") as env:
        env.seed(TOPOLOGY, [("api", "crash_loop")])
    code = (
        "import sys; from lumos.tools.actions import SimulatedEnvironment as S\n"
        "e = S.open(sys.argv[1], 'inc-p'); o = e.execute('restart_service', {'service': 'api'}, idempotency_key='inc-p/restart/1')\n"
        "print(o.replayed, e.state().service('api').restarts)"
    )
    runs = [subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs == [["False", "1"], ["True", "1"]]


def test_failed_transaction_leaves_no_trace(env: SimulatedEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    env.seed(TOPOLOGY, [("api", "crash_loop")])
    import lumos.tools.actions.simenv as simenv

    def boom(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(simenv, "apply_action", boom)
    with pytest.raises(sqlite3.OperationalError):
        env.execute("restart_service", {"service": "api"}, idempotency_key="k")
    monkeypatch.undo()
    assert env.history() == []
    assert env.execute("restart_service", {"service": "api"}, idempotency_key="k").replayed is False
    assert env.state().healthy


def test_seed_twice_needs_replace_and_versions_from_changes(env: SimulatedEnvironment) -> None:
    env.seed(TOPOLOGY)
    with pytest.raises(WorldError, match="already exists"):
        env.seed(TOPOLOGY)
    changes = [
        Change(ts="2024-01-01T00:00:00Z", service="api", kind="deploy", version="2.4.0", previous_version="2.3.9"),
        Change(ts="2024-01-01T00:01:00Z", service="search", kind="config", version="cfg-9", previous_version="cfg-8"),
    ]
    state = env.seed(TOPOLOGY, [("api", "bad_deploy")], changes=changes, versions={"gateway": ("3.0", "2.9")}, replace=True)
    api, search, gw = state.service("api"), state.service("search"), state.service("gateway")
    assert (api.version, api.previous_version) == ("2.4.0", "2.3.9")
    assert (search.config_version, search.previous_config_version) == ("cfg-9", "cfg-8")
    assert (gw.version, gw.previous_version) == ("3.0", "2.9")
    assert env.check("version_is", {"service": "api", "version": "2.4.0"}).ok


def test_unseeded_world_fails_without_raising(env: SimulatedEnvironment) -> None:
    out = env.execute("restart_service", {"service": "api"}, idempotency_key="k")
    assert out.status == "failed" and "not been seeded" in out.output
    assert env.history() == [] and not env.check("service_healthy", {"service": "api"}).ok
