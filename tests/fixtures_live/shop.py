"""A small instrumented "shop" the live tests drive: a Prometheus exporter of OpenTelemetry HTTP server
metrics, spans sent with the OpenTelemetry SDK over OTLP/HTTP, and ECS log documents, all with one
planted fault (a bad deploy of `checkout`: errors and latency there, relayed errors at `frontend`)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICES = ("frontend", "checkout", "payment")
CALLS = (("frontend", "checkout"), ("checkout", "payment"))
FAULTY = "checkout"
PLANTED_ERROR = "charge failed: PricingEngineV2 returned NaN for cart total"
BUCKETS = (0.05, 0.1, 0.5, 1.0)
RULES = """groups:
- name: lumos-live
  interval: 1s
  rules:
  - alert: FrontendErrorRatio
    expr: sum(rate(http_server_request_duration_seconds_count{job="frontend",http_response_status_code=~"5.."}[5s])) / sum(rate(http_server_request_duration_seconds_count{job="frontend"}[5s])) > 0.1
    labels: {severity: critical, service: frontend}
    annotations: {summary: "Elevated error ratio on user-facing requests"}
"""


class ShopExporter:
    """/metrics with per-service request counters and latency histograms; `fault` flips checkout (and frontend)."""

    def __init__(self) -> None:
        self.fault = False
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._counts: dict[tuple[str, str], float] = {}
        self._buckets: dict[tuple[str, str, float], float] = {}
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                body = shop.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _rates(self, service: str) -> dict[str, tuple[float, float]]:
        """status code -> (requests/s, latency in seconds)."""
        if self.fault and service in ("frontend", FAULTY):
            return {"200": (10.0, 0.6 if service == FAULTY else 0.7), "500" if service == FAULTY else "502": (10.0, 0.6)}
        return {"200": (20.0, 0.03)}

    def render(self) -> str:
        with self._lock:
            now = time.monotonic()
            dt, self._last = now - self._last, now
            for service in SERVICES:
                for code, (rate, latency) in self._rates(service).items():
                    self._counts[(service, code)] = self._counts.get((service, code), 0.0) + rate * dt
                    for le in BUCKETS:
                        if latency <= le:
                            self._buckets[(service, code, le)] = self._buckets.get((service, code, le), 0.0) + rate * dt
            lines = ["# TYPE http_server_request_duration_seconds histogram"]
            for (service, code), count in sorted(self._counts.items()):
                labels = f'job="{service}",http_response_status_code="{code}"'
                for le in BUCKETS:
                    lines.append(f'http_server_request_duration_seconds_bucket{{{labels},le="{le}"}} {self._buckets.get((service, code, le), 0.0):.3f}')
                lines.append(f'http_server_request_duration_seconds_bucket{{{labels},le="+Inf"}} {count:.3f}')
                lines.append(f"http_server_request_duration_seconds_count{{{labels}}} {count:.3f}")
                lines.append(f"http_server_request_duration_seconds_sum{{{labels}}} {count * 0.05:.3f}")
            return "\n".join(lines) + "\n"

    def __enter__(self) -> "ShopExporter":
        self.render()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def send_spans(endpoint: str, token: str, start: datetime, end: datetime, fault_at: datetime, *, every_s: float = 0.5) -> int:
    """Traces frontend -> checkout -> payment every `every_s` in [start, end), sent with the OpenTelemetry SDK
    (one TracerProvider per service, OTLP/HTTP protobuf exporter); checkout is slow and failing from `fault_at`."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    providers = {}
    for service in SERVICES:
        provider = TracerProvider(resource=Resource.create({"service.name": service, "service.instance.id": f"{service}-0"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, headers={"Authorization": f"Bearer {token}"}),
                                                       max_export_batch_size=512))
        providers[service] = provider
    tracers = {s: p.get_tracer("lumos-test") for s, p in providers.items()}
    sent, t = 0, start
    while t < end:
        bad = t >= fault_at
        ns = int(t.timestamp() * 1e9)
        ms = 1_000_000
        front = tracers["frontend"].start_span("GET /checkout", start_time=ns, kind=trace.SpanKind.SERVER)
        ctx = trace.set_span_in_context(front)
        co = tracers["checkout"].start_span("POST /charge", context=ctx, start_time=ns + 2 * ms, kind=trace.SpanKind.SERVER)
        pay = tracers["payment"].start_span("authorize", context=trace.set_span_in_context(co), start_time=ns + 4 * ms)
        pay.end(end_time=ns + 10 * ms)
        if bad:
            co.set_status(Status(StatusCode.ERROR, "PricingEngineV2 NaN"))
            front.set_status(Status(StatusCode.ERROR, "upstream 500"))
        co.end(end_time=ns + (600 if bad else 20) * ms)
        front.end(end_time=ns + (610 if bad else 25) * ms)
        sent += 3
        t += timedelta(seconds=every_s)
    for provider in providers.values():
        provider.force_flush()
        provider.shutdown()
    return sent


def log_documents(index: str, start: datetime, end: datetime, fault_at: datetime, *, every_s: float = 0.5) -> list[dict]:
    """ECS documents for the bulk helper: ordinary lines everywhere, the planted error at checkout from `fault_at`."""
    docs, t, n = [], start, 0
    while t < end:
        for service in SERVICES:
            n += 1
            bad = t >= fault_at and service == FAULTY
            message = PLANTED_ERROR + f" order={n}" if bad else f"handled request id={n} in {3 + n % 7}ms"
            docs.append({"_index": index, "_id": f"d{n}", "_source": {
                "@timestamp": t.astimezone(timezone.utc).isoformat(), "service": {"name": service},
                "log": {"level": "ERROR" if bad else "INFO"}, "host": {"name": f"{service}-0"}, "message": message}})
        t += timedelta(seconds=every_s)
    return docs
