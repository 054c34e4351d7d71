"""The OTLP/HTTP receiver and the changes webhook of `lumos serve --config`, in process: protobuf and
JSON decode to the same spans, bad bodies are 4xx, 10,000 services stay bounded, changes need auth."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import tracemalloc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings, parse_tokens
from lumos.tools.live.otlp import decode_json, decode_protobuf

pytest.importorskip("opentelemetry.proto")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

TOKEN = "responder-token-0123456789"
VIEWER = "viewer-token-0123456789abc"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = """
sources:
  traces: {type: otlp}
  changes: {webhook: true, github_secret_env: LUMOS_TEST_GH_SECRET}
server:
  otlp: {max_spans: 5000, max_body_bytes: 2000000}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("recv")
    (base / "lumos.yaml").write_text(CONFIG)
    cfg = ServerSettings(home=base / "home", config=base / "lumos.yaml", poll_s=0.1,
                         api_tokens=parse_tokens(f"am:responder:{TOKEN},v:viewer:{VIEWER}"))
    with TestClient(create_app(cfg)) as c:
        yield c


def _request(services: int = 1, spans: int = 2, offset: int = 0) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for s in range(services):
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", f"svc-{offset + s}"
        ss = rs.scope_spans.add()
        for i in range(spans):
            sp = ss.spans.add()
            sp.trace_id = hashlib.md5(f"{offset + s}".encode()).digest()
            sp.span_id = (offset * 1000 + s * 10 + i + 1).to_bytes(8, "big")
            if i:
                sp.parent_span_id = (offset * 1000 + s * 10 + 1).to_bytes(8, "big")
            sp.name = f"op{i}"
            sp.start_time_unix_nano = 1_800_000_000_000_000_000 + i * 1_000_000
            sp.end_time_unix_nano = sp.start_time_unix_nano + 5_000_000
            sp.status.code = 2 if i else 0
    return req


def _as_json(req: ExportTraceServiceRequest) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [{"key": kv.key, "value": {"stringValue": kv.value.string_value}}
                                                           for kv in rs.resource.attributes]},
                               "scopeSpans": [{"spans": [{"traceId": sp.trace_id.hex(), "spanId": sp.span_id.hex(),
                                                          "parentSpanId": sp.parent_span_id.hex(), "name": sp.name,
                                                          "startTimeUnixNano": str(sp.start_time_unix_nano),
                                                          "endTimeUnixNano": str(sp.end_time_unix_nano), "status": {"code": sp.status.code}}
                                                         for sp in ss.spans]} for ss in rs.scope_spans]}
                              for rs in req.resource_spans]}


def test_protobuf_and_json_are_the_same_spans_and_stored(client: TestClient) -> None:
    req = _request(services=2)
    from_pb = decode_protobuf(req.SerializeToString()).spans
    assert from_pb == decode_json(json.dumps(_as_json(req)).encode()).spans
    assert [(s.service, s.status, s.duration_ms, s.parent_span_id is None) for s in from_pb[:2]] == [
        ("svc-0", None, 5.0, True), ("svc-0", "ERROR", 5.0, False)]
    r = client.post("/v1/traces", content=req.SerializeToString(), headers={**AUTH, "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    r = client.post("/v1/traces", content=gzip.compress(json.dumps(_as_json(_request(offset=50))).encode()),
                    headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}
    assert client.app.state.runtime.resources.live.stack.spans.count() >= 6


@pytest.mark.parametrize("body, ctype, status, words", [
    (b"\xff\x00garbage-not-protobuf", "application/x-protobuf", 400, "not an OTLP trace export request"),
    (b"[1, 2]", "application/json", 400, "body must be an object"),
    (b'{"resourceSpans": {"a": 1}}', "application/json", 400, "resourceSpans must be an array"),
    (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "AAECAwQFBgcICQoLDA0ODw==", "spanId": "x"}]}]}]}).encode(),
     "application/json", 400, "hex"),
    (b"not json", "application/json", 400, "not JSON"),
    (b"{}", "text/plain", 415, "content type"),
])
def test_bodies_that_are_not_otlp_are_client_errors(client: TestClient, body: bytes, ctype: str, status: int, words: str) -> None:
    r = client.post("/v1/traces", content=body, headers={**AUTH, "Content-Type": ctype})
    assert r.status_code == status and words in r.text


def test_receiver_needs_a_token_and_bounds_the_body(client: TestClient) -> None:
    body = _request().SerializeToString()
    assert client.post("/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    big = b"\x00" * 2_000_001
    assert client.post("/v1/traces", content=big, headers={**AUTH, "Content-Type": "application/x-protobuf"}).status_code == 413
    bomb = gzip.compress(b" " * 3_000_000)
    r = client.post("/v1/traces", content=bomb, headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 413


def test_spans_of_10000_services_keep_store_and_memory_bounded(client: TestClient) -> None:
    store = client.app.state.runtime.resources.live.stack.spans
    tracemalloc.start()
    try:
        for batch in range(10):  # 10 requests x 1,000 services x 2 spans = 20,000 spans of 10,000 services
            body = _request(services=1000, spans=2, offset=1000 + batch * 1000).SerializeToString()
            assert client.post("/v1/traces", content=body, headers={**AUTH, "Content-Type": "application/x-protobuf"}).status_code == 200
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.count() <= 5000 * 1.1 + 2000, "retention keeps the store near max_spans"
    assert peak < 60 * 1024 * 1024, f"peak traced memory {peak / 1e6:.1f} MB for one request at a time"


def test_changes_webhook_formats_dedup_and_auth(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timedelta, timezone

    from lumos.tools.domain import TimeWindow

    day = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    at = lambda minutes: (day + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")  # noqa: E731
    change = {"service": "cart", "kind": "deploy", "version": "1.2", "ts": at(0), "summary": "rollout 1.2"}
    assert client.post("/webhooks/changes", json=change).status_code == 401
    assert client.post("/webhooks/changes", json=change, headers={"Authorization": f"Bearer {VIEWER}"}).status_code == 403
    assert client.post("/webhooks/changes", json=change, headers=AUTH).json() == {"received": 1, "stored": 1, "ignored": 0}
    assert client.post("/webhooks/changes", json=change, headers=AUTH).json()["stored"] == 0, "a second delivery is stored once"
    bad = client.post("/webhooks/changes", json={**change, "kind": "deploymnet"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"]["problems"][0]["field"] == "kind"
    argo = {"app": "checkout", "revision": "9f8e7d6c5b4a39281706", "phase": "Succeeded", "finishedAt": at(5),
            "images": ["registry/shop/checkout:2.4.0"]}
    assert client.post("/webhooks/changes?format=argocd", json=argo, headers=AUTH).json()["stored"] == 1
    gh = {"action": "created", "deployment_status": {"id": 7, "state": "success", "created_at": at(6)},
          "deployment": {"id": 3, "sha": "abc123def4567890", "ref": "v3.1.0", "environment": "production", "payload": {"service": "cart"}},
          "repository": {"name": "cart-repo", "full_name": "shop/cart-repo"}}
    body = json.dumps(gh).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "deployment_status"}
    assert client.post("/webhooks/changes", content=body, headers=headers).status_code == 401
    monkeypatch.setenv("LUMOS_TEST_GH_SECRET", "gh-secret")
    signed = {**headers, "X-Hub-Signature-256": "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()}
    assert client.post("/webhooks/changes", content=body, headers=signed).json()["stored"] == 1
    pending = json.dumps({**gh, "deployment_status": {"id": 8, "state": "in_progress"}}).encode()
    signed["X-Hub-Signature-256"] = "sha256=" + hmac.new(b"gh-secret", pending, hashlib.sha256).hexdigest()
    assert client.post("/webhooks/changes", content=pending, headers=signed).json() == {"received": 1, "stored": 0, "ignored": 1}
    got = client.app.state.runtime.resources.live.stack.changes.window(TimeWindow(start=day, end=day + timedelta(hours=1)))
    assert [(c.service, c.version, c.attrs["source"]) for c in got] == [("cart", "1.2", "webhook"), ("checkout", "2.4.0", "argocd"),
                                                                       ("cart", "v3.1.0", "github")]


def test_serve_without_a_source_refuses_to_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lumos.app.cli.main import app

    monkeypatch.delenv("LUMOS_CONFIG", raising=False)
    monkeypatch.delenv("LUMOS_DATA_CASE", raising=False)
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no data source: give --config lumos.yaml (live sources; see `lumos config example`) or --data-case DIR (a recorded case, for demos)"]
