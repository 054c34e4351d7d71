"""Live sources that fail (unreachable, 5xx, timeout, auth) never stop an investigation; Kubernetes topology
and rollout history from recorded API answers; configured actions and their dry runs."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kubernetes import client as k8s
from typer.testing import CliRunner

from fixtures_live.fakes import Answering
from fixtures_serve.procs import free_port
from lumos.tools.domain import Alert, Span, TimeWindow
from lumos.tools.live.actions import ConfiguredBackends
from lumos.tools.live.collect import Collector
from lumos.tools.live.config import StackConfig
from lumos.tools.live.kube import KubernetesReader
from lumos.tools.live.stack import LiveStack, sqlite_path

RECORDED = json.loads((Path(__file__).parent / "data" / "live_k8s" / "recorded.json").read_text())["routes"]
ALERT_AT = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=60)


def _spans(fault_at: datetime, start: datetime, end: datetime) -> list[Span]:
    """frontend -> checkout -> db every 0.5 s; checkout slow and failing from `fault_at`."""
    rng, out, t, n = random.Random(7), [], start, 0
    while t < end:
        bad = t >= fault_at
        tid = f"{n:032x}"
        ids = [f"{n * 3 + k + 1:016x}" for k in range(3)]
        out += [Span(trace_id=tid, span_id=ids[0], service="frontend", operation="GET /", start=t, duration_ms=30 + (400 if bad else 0) + rng.random(),
                     status="ERROR" if bad else "OK"),
                Span(trace_id=tid, span_id=ids[1], parent_span_id=ids[0], service="checkout", operation="charge",
                     start=t + timedelta(milliseconds=2), duration_ms=20 + (400 if bad else 0) + rng.random(), status="ERROR" if bad else "OK"),
                Span(trace_id=tid, span_id=ids[2], parent_span_id=ids[1], service="db", operation="query",
                     start=t + timedelta(milliseconds=4), duration_ms=3 + rng.random(), status="OK")]
        t += timedelta(milliseconds=500)
        n += 1
    return out


def _alert() -> Alert:
    return Alert(fingerprint="f1", name="FrontendErrors", severity="critical", service="frontend", starts_at=ALERT_AT,
                 summary="errors on the shop front")


def test_kubernetes_topology_and_rollout_history_from_recorded_answers() -> None:
    with Answering(RECORDED) as api:
        configuration = k8s.Configuration()
        configuration.host = api.url
        reader = KubernetesReader(k8s.ApiClient(configuration), "shop")
        topology = reader.topology()
        rollouts = reader.rollouts(TimeWindow(start=datetime(2026, 11, 24, tzinfo=timezone.utc), end=datetime(2026, 11, 25, tzinfo=timezone.utc)))
    assert {(s.name, s.kind) for s in topology.services} == {("frontend", "service"), ("checkout", "service"), ("sessions", "cache"),
                                                             ("orders-db", "database"), ("payments-gateway", "external")}
    assert [(c.service, c.version, c.previous_version, c.ts.isoformat()) for c in rollouts] == [
        ("checkout", "2.4.0", "2.3.9", "2026-11-24T02:41:00+00:00")]


@pytest.mark.parametrize("source, mode, reason", [
    ("metrics", "unreachable", "unreachable"),
    ("metrics", "5xx", "HTTP 503"),
    ("metrics", "timeout", "timeout"),
    ("logs", "unreachable", "ConnectionError"),
    ("logs", "5xx", "503"),
    ("logs", "auth", "401"),
    ("topology", "auth", "401"),
])
def test_a_failing_source_is_named_and_the_rest_is_used(tmp_path: Path, source: str, mode: str, reason: str) -> None:
    status = {"5xx": 503, "auth": 401, "timeout": 200}.get(mode, 200)
    with Answering(status=status, body={"status": "error", "error": "down"} if status >= 500 else {"error": "no"},
                   delay_s=3.0 if mode == "timeout" else 0.0) as fake:
        url = f"http://127.0.0.1:{free_port()}" if mode == "unreachable" else fake.url
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
                              "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
        conf = {"metrics": {"sources": {"metrics": {"url": url, "timeout_s": 1.0}}},
                "logs": {"sources": {"logs": {"url": url, "timeout_s": 1.0, "type": "opensearch"}}},
                "topology": {"sources": {"topology": {"type": "kubernetes", "kubernetes": {"namespace": "shop", "kubeconfig": str(kubeconfig)}}}}}[source]
        conf["sources"] = {**conf["sources"], "traces": {"type": "otlp"}}
        stack = LiveStack.open(StackConfig.model_validate(conf), tmp_path)
        stack.spans.add(_spans(ALERT_AT - timedelta(seconds=90), ALERT_AT - timedelta(seconds=900), ALERT_AT + timedelta(seconds=30)))
        collected = Collector(stack, onset_lookback_s=120).collect(_alert(), tmp_path / "snap", case_id="c1")
        stack.close()
    failed = {s.source: s.detail for s in collected.statuses if not s.ok}
    assert list(failed) == [source], collected.statuses
    assert reason.lower() in failed[source].lower(), failed
    traces = next(s for s in collected.statuses if s.source == "traces")
    assert traces.ok and traces.items > 1000
    assert (tmp_path / "snap" / "spans.jsonl").is_file() and "failed" in (tmp_path / "snap" / "case.yaml").read_text()


def test_investigate_cli_names_failed_sources_in_console_report_and_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumos.app.cli.main import app
    from lumos.tools.sqldb import open_database
    from lumos.tools.live.spanstore import SpanStore

    home = tmp_path / "home"
    home.mkdir()
    store = SpanStore(open_database(None, sqlite_path(home)))
    store.add(_spans(ALERT_AT - timedelta(seconds=90), ALERT_AT - timedelta(seconds=900), ALERT_AT + timedelta(seconds=30)))
    store.db.close()
    dead = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "lumos.yaml"
    config.write_text(f"sources:\n  metrics: {{url: '{dead}', timeout_s: 1}}\n  traces: {{type: otlp}}\n  topology: {{type: spans}}\n")
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps({"version": "1", "alerts": [{"name": "FrontendErrors", "service": "frontend", "severity": "critical",
                                                              "starts_at": ALERT_AT.isoformat()}]}))
    monkeypatch.setenv("LUMOS_HOME", str(home))
    result = CliRunner().invoke(app, ["investigate", "--config", str(config), "--alert", str(alert), "--json"])
    assert result.exit_code in (0, 1) and "{" in result.output, (result.output, result.exception)
    out = json.loads(result.output[result.output.index("{"):])
    assert any(line.startswith("source metrics failed (") and "unreachable" in line for line in out["sources"])
    assert out["hypotheses"][0]["service"] == "checkout"
    assert "source metrics failed" in Path(out["report"]).read_text()
    from lumos.graph.audit import AuditTrail

    events = AuditTrail(home / "audit.sqlite").events(out["incident_id"])
    collected = next(e for e in events if e.kind == "sources.collected")
    assert any("source metrics failed" in n for n in collected.data["notes"])


def test_configured_actions_route_and_describe_dry_runs(tmp_path: Path) -> None:
    conf = StackConfig.model_validate({"actions": {
        "default": {"backend": "command", "dry_run": False},
        "per_action": {"restart_service": {"backend": "http", "dry_run": True}, "scale_service": {"backend": "kubernetes", "dry_run": True}},
        "command": {"actions": {"notify": ["true"], "collect_diagnostics": ["echo", "{service}"]}, "checks": {"service_exists": ["true"]}},
        "http": {"url": "https://hooks.example/lumos", "secret_env": "LUMOS_HOOK"},
        "kubernetes": {"namespace": "shop", "deployments": {"cart": "cart-v2"}}}}).actions
    backends = ConfiguredBackends(conf, tmp_path)
    routed = backends.for_incident(lambda: pytest.fail("no route is simulated"))
    try:
        restart = routed.execute("restart_service", {"service": "cart"}, idempotency_key="i/1")
        assert restart.status == "dry_run"
        assert restart.output.startswith('would run on http: POST https://hooks.example/lumos/actions {"action":"restart_service"')
        scale = routed.execute("scale_service", {"service": "cart", "replicas": 4}, idempotency_key="i/2")
        assert scale.output == ('would run on kubernetes: PATCH /apis/apps/v1/namespaces/shop/deployments/cart-v2/scale '
                                '(application/strategic-merge-patch+json) {"spec":{"replicas":4}}')
        ran = routed.execute("collect_diagnostics", {"service": "cart", "kinds": ["logs"]}, idempotency_key="i/3")
        assert ran.status == "ok" and "cart" in ran.output, "not a dry run: the allowlisted command really ran"
        bad = routed.execute("scale_service", {"service": "cart", "replicas": -1}, idempotency_key="i/4")
        assert bad.status == "failed" and bad.output.startswith("rejected:")
        assert routed.check("service_exists", {"service": "cart"}).ok
    finally:
        backends.close()


def test_config_check_probe_says_which_sources_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumos.app.cli.main import app

    routes = {"GET /api/v1/query": [200, {"status": "success", "data": {"resultType": "vector", "result": []}}]}
    with Answering(routes) as prom:
        config = tmp_path / "lumos.yaml"
        config.write_text(f"sources:\n  metrics: {{url: '{prom.url}'}}\n  logs: {{url: 'http://127.0.0.1:{free_port()}', timeout_s: 1}}\n"
                          "  traces: {type: otlp}\n")
        result = CliRunner().invoke(app, ["config", "check", str(config), "--probe", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.strip().startswith("ok") and "metrics:" in line and "answers PromQL" in line for line in lines), lines
    assert any("FAILED logs:" in line and "ConnectionError" in line for line in lines), lines
    assert any(line.strip().startswith("ok") and "traces: span store holds 0 span(s)" in line for line in lines), lines


def test_notify_targets_read_their_url_from_the_named_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumos.graph.live import Live
    from lumos.tools.errors import InputError
    from lumos.tools.settings import Settings

    config = StackConfig.model_validate({"notify": {"targets": [{"kind": "slack", "url_env": "LUMOS_TEST_SLACK"}]}})
    live = Live.open(Settings(home=tmp_path), config=config)
    try:
        monkeypatch.setenv("LUMOS_TEST_SLACK", "https://hooks.slack.example/T0/B0/x")
        assert [(t.kind, t.url) for t in live.notifiers()] == [("slack", "https://hooks.slack.example/T0/B0/x")]
        monkeypatch.setenv("LUMOS_TEST_SLACK", "not a url")
        with pytest.raises(InputError, match="notify.targets.0.url_env: environment variable LUMOS_TEST_SLACK must hold an http"):
            live.notifiers()
    finally:
        live.close()
