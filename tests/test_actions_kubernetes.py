"""Kubernetes backend against recorded API answers: a loopback HTTP server serves them for the exact API
paths and records each request; the real `kubernetes` client is configured to talk to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client as k8s

from lumos.tools.actions.kubernetes import RESTARTED_AT, KubernetesBackend, image_tag

RECORDED = json.loads((Path(__file__).parent / "data" / "actions_k8s" / "recorded.json").read_text())["routes"]
BASE = "/apis/apps/v1/namespaces/shop"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


class FakeApiServer:
    """Serves the recorded answers and remembers every request (method, path, query, content type, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                outer.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                       "content_type": self.headers.get("Content-Type"), "body": json.loads(raw) if raw else None})
                status, body = RECORDED.get(f"{self.command} {url.path}", [404, {"kind": "Status", "code": 404, "reason": "NotFound",
                                                                                   "message": f"no recorded answer for {url.path}"}])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] != "GET"]


@pytest.fixture()
def server() -> Iterator[FakeApiServer]:
    srv = FakeApiServer()
    yield srv
    srv.stop()


@pytest.fixture()
def backend(server: FakeApiServer, tmp_path: Path) -> Iterator[KubernetesBackend]:
    configuration = k8s.Configuration()
    configuration.host = server.url
    b = KubernetesBackend(k8s.ApiClient(configuration), namespace="shop", ledger_db=tmp_path / "ledger.sqlite", clock=lambda: NOW)
    yield b
    b.close()


def test_rolling_restart_patches_the_pod_template_annotation(backend: KubernetesBackend, server: FakeApiServer) -> None:
    out = backend.execute("restart_service", {"service": "api"}, idempotency_key="inc-1/restart/1")
    assert out.status == "ok" and "rolling restart of deployment shop/api" in out.output
    (req,) = server.writes()
    assert (req["method"], req["path"]) == ("PATCH", f"{BASE}/deployments/api")
    assert req["content_type"] == "application/strategic-merge-patch+json"
    assert req["body"] == {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2026-11-24T03:00:00Z"}}}}}
    assert req["query"] == {"fieldManager": ["lumos"]}


def test_an_idempotency_key_reaches_the_api_once(backend: KubernetesBackend, server: FakeApiServer, tmp_path: Path) -> None:
    first = backend.execute("restart_service", {"service": "api"}, idempotency_key="inc-1/restart/1")
    again = backend.execute("restart_service", {"service": "api"}, idempotency_key="inc-1/restart/1")
    assert not first.replayed and again.replayed and again.output == first.output
    assert len(server.writes()) == 1
    configuration = k8s.Configuration()
    configuration.host = server.url  # a new process (e.g. resumed after a crash) shares the ledger file
    resumed = KubernetesBackend(k8s.ApiClient(configuration), namespace="shop", ledger_db=tmp_path / "ledger.sqlite")
    assert resumed.execute("restart_service", {"service": "api"}, idempotency_key="inc-1/restart/1").replayed
    resumed.close()
    assert len(server.writes()) == 1
    other = backend.execute("restart_service", {"service": "web"}, idempotency_key="inc-1/restart/1")
    assert other.status == "failed" and "other parameters" in other.output and len(server.writes()) == 1


def test_restart_one_instance_deletes_that_pod(backend: KubernetesBackend, server: FakeApiServer) -> None:
    out = backend.execute("restart_service", {"service": "api", "instance": "api-7c9f6b5d48-x2k9p"}, idempotency_key="k")
    assert out.status == "ok" and "deleted pod shop/api-7c9f6b5d48-x2k9p" in out.output
    assert [(r["method"], r["path"]) for r in server.writes()] == [("DELETE", "/api/v1/namespaces/shop/pods/api-7c9f6b5d48-x2k9p")]


def test_scale_absolute_and_relative(backend: KubernetesBackend, server: FakeApiServer) -> None:
    assert backend.execute("scale_service", {"service": "api", "replicas": 5}, idempotency_key="a").status == "ok"
    relative = backend.execute("scale_service", {"service": "api", "delta": 2}, idempotency_key="b")
    assert relative.status == "ok" and relative.output == "scaled deployment shop/api to 5 replicas (was 3)"
    patches = server.writes()
    assert [(r["path"], r["body"], r["content_type"]) for r in patches] == [
        (f"{BASE}/deployments/api/scale", {"spec": {"replicas": 5}}, "application/strategic-merge-patch+json")] * 2
    assert ("GET", f"{BASE}/deployments/api/scale") in [(r["method"], r["path"]) for r in server.requests]
    too_low = backend.execute("scale_service", {"service": "api", "delta": -5}, idempotency_key="c")
    assert too_low.status == "failed" and "(< 1)" in too_low.output and len(server.writes()) == 2


def test_rollout_undo_restores_the_previous_replicaset_template(backend: KubernetesBackend, server: FakeApiServer) -> None:
    out = backend.execute("rollback_deploy", {"service": "api"}, idempotency_key="inc-1/rollback/1")
    assert out.status == "ok", out.output
    assert "from revision 3 to revision 2 (registry.example/shop/api:2.3.0)" in out.output
    lists = [r for r in server.requests if r["path"] == f"{BASE}/replicasets"]
    assert lists and lists[0]["query"] == {"labelSelector": ["app=api"]}
    (patch,) = server.writes()
    assert patch["content_type"] == "application/json-patch+json"
    (op,) = patch["body"]
    assert (op["op"], op["path"]) == ("replace", "/spec/template")
    assert op["value"]["metadata"]["labels"] == {"app": "api"}  # pod-template-hash removed, like kubectl rollout undo
    assert op["value"]["spec"]["containers"][0]["image"] == "registry.example/shop/api:2.3.0"
    named = backend.execute("rollback_deploy", {"service": "api", "to_version": "2.2.9"}, idempotency_key="inc-1/rollback/2")
    assert named.status == "ok" and "to revision 1" in named.output
    foreign = backend.execute("rollback_deploy", {"service": "api", "to_version": "9.9.9-canary"}, idempotency_key="x")
    assert foreign.status == "failed" and "no earlier ReplicaSet" in foreign.output  # owned by another Deployment


def test_dry_run_uses_server_side_dry_run_and_records_nothing(backend: KubernetesBackend, server: FakeApiServer) -> None:
    dry = backend.execute("rollback_deploy", {"service": "api"}, idempotency_key="k", dry_run=True)
    assert dry.status == "dry_run" and server.writes()[0]["query"]["dryRun"] == ["All"]
    real = backend.execute("rollback_deploy", {"service": "api"}, idempotency_key="k")
    assert real.status == "ok" and not real.replayed and "dryRun" not in server.writes()[1]["query"]


def test_api_errors_and_unsupported_actions_are_failed_outcomes(backend: KubernetesBackend, server: FakeApiServer) -> None:
    missing = backend.execute("restart_service", {"service": "ghost"}, idempotency_key="g")
    assert missing.status == "failed" and missing.output == 'Kubernetes API 404 Not Found: deployments.apps "ghost" not found'
    assert backend.execute("restart_service", {"service": "ghost"}, idempotency_key="g").replayed  # the API's answer is recorded
    unsupported = backend.execute("free_disk", {"service": "api"}, idempotency_key="f")
    assert unsupported.status == "failed" and "supported: restart_service, scale_service, rollback_deploy" in unsupported.output
    rejected = backend.execute("scale_service", {"service": "api", "replicas": 0}, idempotency_key="r")
    assert rejected.status == "failed" and rejected.output.startswith("rejected: scale_service: replicas")
    assert len(server.writes()) == 1


def test_unreachable_api_is_not_recorded(tmp_path: Path) -> None:
    configuration = k8s.Configuration()
    configuration.host = "http://127.0.0.1:9"  # discard port: nothing listens
    configuration.retries = 0
    b = KubernetesBackend(k8s.ApiClient(configuration), namespace="shop", ledger_db=tmp_path / "l.sqlite")
    first = b.execute("restart_service", {"service": "api"}, idempotency_key="u")
    assert first.status == "failed" and "unreachable" in first.output
    assert not b.execute("restart_service", {"service": "api"}, idempotency_key="u").replayed
    b.close()


def test_checks_read_the_deployment(backend: KubernetesBackend) -> None:
    assert backend.check("service_exists", {"service": "api"}).ok
    assert backend.check("service_healthy", {"service": "api"}).ok
    assert backend.check("replicas_at_least", {"service": "api", "replicas": 3}).ok
    assert not backend.check("replicas_at_least", {"service": "api", "replicas": 4}).ok
    assert backend.check("version_is", {"service": "api", "version": "2.3.1"}).ok
    assert not backend.check("version_is", {"service": "api", "version": "2.3.0"}).ok
    assert backend.check("has_previous_version", {"service": "api"}).ok
    assert not backend.check("service_exists", {"service": "ghost"}).ok
    unsupported = backend.check("disk_usage_below", {"service": "api"})
    assert not unsupported.ok and "not supported" in unsupported.detail


def test_image_tag() -> None:
    assert image_tag("registry.example:5000/shop/api:2.3.1") == "2.3.1"
    assert image_tag("registry.example:5000/shop/api") == "latest"
    assert image_tag("api:1.0@sha256:abc") == "1.0"
