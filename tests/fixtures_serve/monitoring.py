"""A real Prometheus + Alertmanager pair on loopback, alerting on a metric the test controls."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from fixtures_serve.procs import free_port, wait_until

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager")

RULES = """groups:
- name: lumos-test
  interval: 1s
  rules:
  - alert: HTTP5xxRatioHigh
    expr: lumos_test_error_ratio > 0.02
    labels: {severity: critical, service: frontend}
    annotations: {summary: "Elevated error ratio on user-facing requests"}
"""


class Gauge:
    """A /metrics endpoint exposing one gauge the test sets."""

    def __init__(self) -> None:
        self.value = 0.0
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                body = f"# TYPE lumos_test_error_ratio gauge\nlumos_test_error_ratio {gauge.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Gauge":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Monitoring:
    """URLs of the running pair and the gauge that drives the alert."""

    prometheus: str
    alertmanager: str
    gauge: Gauge


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextmanager
def monitoring(base: Path, webhook_url: str, token: str, *, rules: str = RULES, target: str | None = None) -> Iterator[Monitoring]:
    """Start Alertmanager (webhook to `webhook_url` with a bearer token) and Prometheus; stop both after.

    Prometheus scrapes the test's gauge, or `target` (host:port, its labels kept: honor_labels) with `rules`.
    """
    base.mkdir(parents=True, exist_ok=True)
    am_port, prom_port = free_port(), free_port()
    (base / "alertmanager.yml").write_text(
        "route: {receiver: lumos, group_by: [alertname, service], group_wait: 1s, group_interval: 2s, repeat_interval: 1h}\n"
        "receivers:\n- name: lumos\n  webhook_configs:\n"
        f"  - url: {webhook_url}\n    send_resolved: true\n"
        f"    http_config: {{authorization: {{type: Bearer, credentials: {token}}}}}\n"
    )
    (base / "rules.yml").write_text(rules)
    with Gauge() as gauge:
        (base / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
            f"scrape_configs: [{{job_name: app, honor_labels: true, static_configs: [{{targets: ['{target or f'127.0.0.1:{gauge.port}'}']}}]}}]\n"
        )
        am = _spawn([ALERTMANAGER or "prometheus-alertmanager", f"--config.file={base / 'alertmanager.yml'}",
                     f"--storage.path={base / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                     "--cluster.listen-address=", f"--web.external-url=http://127.0.0.1:{am_port}/"], base / "alertmanager.log")
        prom = None
        try:
            prom = _spawn([PROMETHEUS or "prometheus", f"--config.file={base / 'prometheus.yml'}",
                           f"--storage.tsdb.path={base / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                           f"--web.external-url=http://127.0.0.1:{prom_port}/", "--rules.alert.resend-delay=1s"],
                          base / "prometheus.log")
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{am_port}/-/ready", timeout=2).status_code == 200, 30, what="alertmanager")
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{prom_port}/-/ready", timeout=2).status_code == 200, 30, what="prometheus")
            yield Monitoring(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", gauge)
        finally:
            if prom is not None:
                _stop(prom)
            _stop(am)
