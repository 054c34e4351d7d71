"""PrometheusMetricSource against a real Prometheus (Debian's `prometheus` package) and against
misbehaving HTTP servers.

The Prometheus test is deterministic and offline: it writes an OpenMetrics file of per-service
series at fixed timestamps (2026-01-01, 15 s apart), backfills a private TSDB with
`promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on a free loopback port with
that TSDB (retention 100y so the old blocks are kept), queries it through the source and stops it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lumos.tools.domain import TimeWindow
from lumos.tools.metrics.anomaly import metric_anomalies
from lumos.tools.metrics.prometheus import DEFAULT_QUERIES, PrometheusError, PrometheusMetricSource, render_query

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = 15  # seconds between backfilled samples
POINTS = 81  # 20 minutes
FAULT_AT = 600  # checkout's CPU triples from T0 + 10 min
BUCKETS = ("0.05", "0.1", "0.25", "+Inf")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openmetrics() -> str:
    """Per-service series in the client-library conventions the default queries expect.

    cart: CPU 0.2 cores, 256 MiB, 9 ok + 1 failed request/s, every request in (0.05, 0.1] s.
    checkout: CPU 0.3 cores then 0.9 from FAULT_AT, 512 MiB, 20 ok request/s in (0.1, 0.25] s.
    """
    ts = [T0.timestamp() + STEP * i for i in range(POINTS)]
    lines: list[str] = []

    def series(name: str, labels: str, value) -> None:
        for t in ts:
            lines.append(f"{name}{{{labels}}} {value(t - T0.timestamp()):g} {t:.0f}")

    def cpu_checkout(s: float) -> float:
        return 0.3 * s if s <= FAULT_AT else 0.3 * FAULT_AT + 0.9 * (s - FAULT_AT)

    lines.append("# TYPE process_cpu_seconds counter")
    series("process_cpu_seconds_total", 'service="cart",instance="cart-1"', lambda s: 0.2 * s)
    series("process_cpu_seconds_total", 'service="checkout",instance="checkout-1"', cpu_checkout)
    lines.append("# TYPE process_resident_memory_bytes gauge")
    series("process_resident_memory_bytes", 'service="cart",instance="cart-1"', lambda s: 256 * 1048576)
    series("process_resident_memory_bytes", 'service="checkout",instance="checkout-1"', lambda s: 512 * 1048576)
    lines.append("# TYPE http_requests counter")
    series("http_requests_total", 'service="cart",code="200"', lambda s: 9 * s)
    series("http_requests_total", 'service="cart",code="500"', lambda s: 1 * s)
    series("http_requests_total", 'service="checkout",code="200"', lambda s: 20 * s)
    lines.append("# TYPE http_request_duration_seconds_bucket unknown")
    for le, cart, checkout in zip(BUCKETS, (0, 10, 10, 10), (0, 0, 20, 20)):
        series("http_request_duration_seconds_bucket", f'service="cart",le="{le}"', lambda s, r=cart: r * s)
        series("http_request_duration_seconds_bucket", f'service="checkout",le="{le}"', lambda s, r=checkout: r * s)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Prometheus on a backfilled TSDB; yields its URL, then stops it."""
    if not PROMETHEUS or not PROMTOOL:
        pytest.skip("Debian's prometheus package is not installed (no prometheus/promtool on PATH): apt-get install -y prometheus")
    base = tmp_path_factory.mktemp("prom")
    (base / "series.om").write_text(_openmetrics())
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(base / "series.om"), str(base / "tsdb")], check=True, capture_output=True, timeout=30)
    (base / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
    port = _free_port()
    log = open(base / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={base / 'tsdb'}", "--storage.tsdb.retention.time=100y",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {proc.returncode}: {(base / 'prometheus.log').read_text()[-2000:]}")
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("prometheus not ready after 20 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _window(start_s: float, end_s: float) -> TimeWindow:
    return TimeWindow(start=T0 + timedelta(seconds=start_s), end=T0 + timedelta(seconds=end_s))


def _values(samples, service: str, metric: str) -> dict[float, float]:
    return {(s.ts - T0).total_seconds(): s.value for s in samples if s.service == service and s.metric == metric}


def test_default_queries_read_every_metric_per_service(prometheus_url: str) -> None:
    with PrometheusMetricSource(prometheus_url, timeout_s=5) as src:
        result = src.fetch(_window(120, 1080))
        assert result.ok, result.notes()
        got = result.samples
    assert {s.service for s in got} == {"cart", "checkout"}
    assert {s.metric for s in got} >= {"cpu_usage_pct", "memory_usage_mb", "request_rate", "error_rate", "latency_p90_ms", "latency_p50_ms"}
    cart_cpu = _values(got, "cart", "cpu_usage_pct")
    assert min(cart_cpu) == 120 and max(cart_cpu) == 1065  # window is [start, end): 1080 left out
    assert all(v == pytest.approx(20.0) for v in cart_cpu.values())
    co_cpu = _values(got, "checkout", "cpu_usage_pct")
    assert co_cpu[300] == pytest.approx(30.0) and co_cpu[900] == pytest.approx(90.0)
    assert _values(got, "checkout", "memory_usage_mb")[600] == pytest.approx(512.0)
    assert _values(got, "cart", "request_rate")[600] == pytest.approx(10.0)
    assert _values(got, "cart", "error_rate")[600] == pytest.approx(0.1)
    assert _values(got, "checkout", "error_rate")[600] == pytest.approx(0.0)  # no 5xx series at all
    assert _values(got, "cart", "latency_p90_ms")[600] == pytest.approx(95.0)  # 0.05 + 0.9 * 0.05 s
    assert _values(got, "checkout", "latency_p90_ms")[600] == pytest.approx(235.0)  # 0.1 + 0.9 * 0.15 s
    assert got == sorted(got, key=lambda s: (s.ts, s.service, s.metric, s.instance or ""))


def test_filters_and_anomaly_scoring_like_the_csv_source(prometheus_url: str) -> None:
    with PrometheusMetricSource(prometheus_url, timeout_s=5, step_s=30) as src:
        only = src.samples(_window(120, 1080), services=["checkout"], metrics=["cpu_usage_pct", "memory_usage_mb"])
        assert src.last_failures == []
        assert {(s.service, s.metric) for s in only} == {("checkout", "cpu_usage_pct"), ("checkout", "memory_usage_mb")}
        assert len(_values(only, "checkout", "cpu_usage_pct")) == 32  # 960 s at a 30 s step
        both = src.samples(_window(60, 1200), metrics=["cpu_usage_pct", "request_rate"])
    anomalies, _ = metric_anomalies(both, incident=_window(FAULT_AT, 1200), baseline=_window(60, FAULT_AT))
    top = max(anomalies, key=lambda a: a.score)
    assert (top.service, top.metric, top.kind) == ("checkout", "cpu_usage_pct", "cpu")
    assert top.incident > 2 * top.baseline


def test_query_problems_are_reported_not_raised(prometheus_url: str) -> None:
    queries = {**DEFAULT_QUERIES, "broken": "sum by (service) (rate(process_cpu_seconds_total{{service}}))"}
    with PrometheusMetricSource(prometheus_url, timeout_s=5, queries=queries) as src:
        result = src.fetch(_window(120, 600), metrics=["broken", "no_such_metric", "memory_usage_mb"])
        assert {f.reason for f in result.failures} == {"query_error", "unknown_metric"}
        bad = next(f for f in result.failures if f.reason == "query_error")
        assert bad.status == 400 and "bad_data" in bad.detail and bad.metric == "broken"
        assert {s.metric for s in result.samples} == {"memory_usage_mb"}  # the good query still answered
        with pytest.raises(PrometheusError, match="unknown_metric"):
            result.raise_for_failures()
        assert src.samples(_window(120, 600), services=["nobody"], metrics=["cpu_usage_pct"]) == [] and src.last_failures == []
        assert src.samples(_window(120, 120)) == []  # empty window


# --- servers that misbehave (no Prometheus needed) ---


class _Bad(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "sleep":
            time.sleep(2)
        status, body = {"500": (500, b"upstream exploded"), "json": (200, b"<html>not json"), "shape": (200, b'{"status":"success","data":{"resultType":"vector","result":[]}}'),
                        "sleep": (200, b"{}")}[mode]
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bad_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bad)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "reason", "status"), [("500", "http_status", 500), ("json", "bad_response", 200), ("shape", "bad_response", 200), ("sleep", "timeout", None)])
def test_server_errors_become_typed_failures(bad_server: ThreadingHTTPServer, mode: str, reason: str, status: int | None) -> None:
    bad_server.mode = mode  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{bad_server.server_address[1]}"
    with PrometheusMetricSource(url, timeout_s=0.3) as src:
        assert src.samples(_window(0, 600), metrics=["cpu_usage_pct"]) == []
        [failure] = src.last_failures
    assert (failure.reason, failure.status, failure.metric) == (reason, status, "cpu_usage_pct")
    assert failure.query and 'service=~".+"' in failure.query


def test_unreachable_server() -> None:
    with PrometheusMetricSource(f"http://127.0.0.1:{_free_port()}", timeout_s=1) as src:
        result = src.fetch(_window(0, 600), metrics=["cpu_usage_pct", "error_rate"])
    assert [f.reason for f in result.failures] == ["unreachable", "unreachable"] and result.samples == []


def test_service_names_are_matched_exactly() -> None:
    q = render_query("up{{service}}", ["a.b", 'we"ird'])
    assert q == 'up{service=~"a\\\\.b|we\\"ird"}'
    assert render_query("up{{service}}", None) == 'up{service=~".+"}'
