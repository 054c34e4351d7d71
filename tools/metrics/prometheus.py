"""A metric source on the Prometheus HTTP API: the same `samples()` as the metrics.csv source.

What it does: for each LUMOS metric name asked for (cpu_usage_pct, memory_usage_mb,
latency_p90_ms, error_rate, request_rate, ...) it fills a PromQL template with a matcher on the
service label and runs one range query (`POST /api/v1/query_range`) over the window. Every
returned series becomes `MetricSample`s (ts, service, metric, value, instance) in the same long
format as `CsvMetricSource`, so the anomaly scorers cannot tell the two sources apart.

Templates: the token `{service}` in a template is replaced by a label matcher such as
`service=~"cart|checkout"`, so write it inside the selector's braces: `up{{service}}` becomes
`up{service=~"cart|checkout"}`, and `http_requests_total{{service},code=~"5.."}` keeps the extra
matcher. Aggregate `by (service)` (the configured `service_label`) so every result series
names its service; an `instance` label, when kept, goes to `MetricSample.instance`.

Errors never escape as a crash: `fetch()` returns a `MetricFetch` with the samples it got and
one `PrometheusFailure` per failed query (reason: unreachable, timeout, http_status,
bad_response, query_error, unknown_metric). `samples()` returns just the samples and keeps the
failures in `last_failures`; `MetricFetch.raise_for_failures()` turns them into a
`PrometheusError` for callers that prefer an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import MetricSample, TimeWindow

SERVICE_PLACEHOLDER = "{service}"
MAX_POINTS = 11_000  # Prometheus refuses range queries of more points per series than this

# LUMOS metric name -> PromQL template. These assume the conventions of the official client
# libraries (process_* collectors, http_requests_total with a `code` label, an
# http_request_duration_seconds histogram) and a `service` target label; override any of them.
DEFAULT_QUERIES: dict[str, str] = {
    "cpu_usage_pct": "100 * sum by (service) (rate(process_cpu_seconds_total{{service}}[1m]))",
    "memory_usage_mb": "sum by (service) (process_resident_memory_bytes{{service}}) / 1048576",
    "request_rate": "sum by (service) (rate(http_requests_total{{service}}[1m]))",
    "error_rate": (
        "(sum by (service) (rate(http_requests_total{{service},code=~\"5..\"}[1m]))"
        " or 0 * sum by (service) (rate(http_requests_total{{service}}[1m])))"
        " / sum by (service) (rate(http_requests_total{{service}}[1m]))"
    ),
    "latency_p50_ms": "1000 * histogram_quantile(0.5, sum by (service, le) (rate(http_request_duration_seconds_bucket{{service}}[1m])))",
    "latency_p90_ms": "1000 * histogram_quantile(0.9, sum by (service, le) (rate(http_request_duration_seconds_bucket{{service}}[1m])))",
    "latency_p99_ms": "1000 * histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{{service}}[1m])))",
    "latency_avg_ms": (
        "1000 * sum by (service) (rate(http_request_duration_seconds_sum{{service}}[1m]))"
        " / sum by (service) (rate(http_request_duration_seconds_count{{service}}[1m]))"
    ),
    "restarts": "sum by (service) (changes(process_start_time_seconds{{service}}[5m]))",
}

FailureReason = Literal["unreachable", "timeout", "http_status", "bad_response", "query_error", "unknown_metric"]


class PrometheusFailure(BaseModel):
    """Why one range query gave no samples: `reason` (a fixed word), `detail` (human text),
    the LUMOS `metric`, the PromQL `query` sent and the HTTP `status` code when one came back."""

    model_config = ConfigDict(frozen=True)

    reason: FailureReason
    detail: str
    metric: str | None = None
    query: str | None = None
    status: int | None = None

    def __str__(self) -> str:
        where = f" [{self.metric}]" if self.metric else ""
        code = f" HTTP {self.status}" if self.status is not None else ""
        return f"prometheus {self.reason}{code}{where}: {self.detail}"


class PrometheusError(Exception):
    """Raised only by `MetricFetch.raise_for_failures()`; `failures` lists every failed query."""

    def __init__(self, failures: Sequence[PrometheusFailure]):
        self.failures = list(failures)
        super().__init__("; ".join(str(f) for f in self.failures) or "prometheus error")


class MetricFetch(BaseModel):
    """The outcome of `PrometheusMetricSource.fetch`: samples (sorted by ts) plus failed queries."""

    samples: list[MetricSample] = Field(default_factory=list)
    failures: list[PrometheusFailure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every query succeeded (an empty result is still a success)."""
        return not self.failures

    def notes(self) -> list[str]:
        """One line per failure, for a report's notes."""
        return [str(f) for f in self.failures]

    def raise_for_failures(self) -> "MetricFetch":
        """Raise `PrometheusError` if any query failed, else return self."""
        if self.failures:
            raise PrometheusError(self.failures)
        return self


def _regex_literal(name: str) -> str:
    """`name` as an exact-match RE2 alternative, escaped for a double-quoted PromQL string."""
    escaped = "".join("\\" + ch if ch in ".^$*+?()[]{}|\\" else ch for ch in name)
    return escaped.replace("\\", "\\\\").replace('"', '\\"')


def service_matcher(services: Sequence[str] | None, label: str = "service") -> str:
    """The label matcher put in place of `{service}`: `label=~"a|b"`, or `label=~".+"` for all."""
    if not services:
        return f'{label}=~".+"'
    return f'{label}=~"' + "|".join(_regex_literal(s) for s in sorted(set(services))) + '"'


def render_query(template: str, services: Sequence[str] | None, label: str = "service") -> str:
    """A PromQL template with every `{service}` replaced by the matcher for `services`."""
    return template.replace(SERVICE_PLACEHOLDER, service_matcher(services, label))


class PrometheusMetricSource:
    """Metric samples from a Prometheus server's range-query API, shaped like `CsvMetricSource`.

    base_url: the server root, e.g. "http://127.0.0.1:9090" (a path prefix is kept).
    timeout_s: per-request timeout (connect and read) in seconds.
    queries: LUMOS metric name -> PromQL template with `{service}` (see the module docstring);
        defaults to DEFAULT_QUERIES. Pass `{**DEFAULT_QUERIES, "x": "..."}` to extend.
    step_s: resolution of the range queries; raised automatically so a window never needs
        more than 11,000 points per series.
    service_label: the Prometheus label that names the service (default "service").
    headers: extra HTTP headers (e.g. Authorization); client: an httpx.Client to use instead of
        one of our own (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10,
        queries: Mapping[str, str] | None = None,
        step_s: float = 15.0,
        service_label: str = "service",
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.queries: dict[str, str] = dict(DEFAULT_QUERIES if queries is None else queries)
        self.step_s = float(step_s)
        self.service_label = service_label
        self._client = client or httpx.Client(timeout=self.timeout_s, headers=dict(headers or {}))
        self._own_client = client is None
        self.last_failures: list[PrometheusFailure] = []

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> "PrometheusMetricSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step_for(self, window: TimeWindow) -> float:
        """The step (seconds) used for `window`: `step_s`, coarser if the window would exceed MAX_POINTS."""
        return max(self.step_s, math.ceil(window.seconds / (MAX_POINTS - 1)) if window.seconds > 0 else 0.0)

    def samples(self, window: TimeWindow, *, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[MetricSample]:
        """Samples with ts in [window.start, window.end), optionally only some services and metric names.

        Never raises for server or network trouble: failed queries are left out and described
        in `self.last_failures` (use `fetch()` to get them with the samples).
        """
        result = self.fetch(window, services=services, metrics=metrics)
        self.last_failures = result.failures
        return result.samples

    def fetch(self, window: TimeWindow, *, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> MetricFetch:
        """Run one range query per metric name (all configured names when `metrics` is None).

        Unknown metric names give an `unknown_metric` failure; an empty window gives no samples
        and no failures. Samples are sorted by ts, then service, metric, instance.
        """
        out = MetricFetch()
        names = list(dict.fromkeys(metrics)) if metrics else list(self.queries)
        if window.seconds <= 0:
            return out
        for name in names:
            template = self.queries.get(name)
            if template is None:
                out.failures.append(PrometheusFailure(reason="unknown_metric", metric=name, detail=f"no PromQL template for {name!r}; known: {', '.join(sorted(self.queries))}"))
                continue
            query = render_query(template, services, self.service_label)
            got = self.query_range(query, window, metric=name, services=services)
            if isinstance(got, PrometheusFailure):
                out.failures.append(got)
            else:
                out.samples.extend(got)
        out.samples.sort(key=lambda s: (s.ts, s.service, s.metric, s.instance or ""))
        return out

    def query_range(self, query: str, window: TimeWindow, *, metric: str, services: Sequence[str] | None = None,
                    service_label: str | None = None) -> list[MetricSample] | PrometheusFailure:
        """Run one PromQL range query over `window`; its series become samples named `metric`.

        Returns the samples, or a PrometheusFailure saying why there are none. Points at
        window.end are dropped (the window is closed-open), as are NaN/Inf values and series
        without the service label (`service_label`, default the source's; unless exactly one
        service was asked for).
        """
        step = self.step_for(window)
        form = {"query": query, "start": f"{window.start.timestamp():.3f}", "end": f"{window.end.timestamp():.3f}", "step": f"{step:g}"}

        def fail(reason: FailureReason, detail: str, status: int | None = None) -> PrometheusFailure:
            return PrometheusFailure(reason=reason, detail=detail, metric=metric, query=query, status=status)

        try:
            resp = self._client.post(f"{self.base_url}/api/v1/query_range", data=form, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            return fail("timeout", f"no answer within {self.timeout_s:g}s from {self.base_url} ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return fail("unreachable", f"{self.base_url}: {type(exc).__name__}: {exc}")
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("status") == "error":
            # Prometheus explains bad queries (400 bad_data), timeouts (503) and the like in the body.
            return fail("query_error", f"{body.get('errorType', 'error')}: {body.get('error', '')}".strip(), resp.status_code)
        if resp.status_code >= 400:
            return fail("http_status", f"HTTP {resp.status_code} from {resp.request.url}: {resp.text[:200]!r}", resp.status_code)
        if not isinstance(body, dict):
            return fail("bad_response", f"not a JSON object: {resp.text[:200]!r}", resp.status_code)
        parsed = self._parse(body, window, metric, services, service_label or self.service_label)
        if parsed is None:
            return fail("bad_response", f"unexpected answer shape: {str(body)[:200]}", resp.status_code)
        return parsed

    def _parse(self, body: dict[str, Any], window: TimeWindow, metric: str, services: Sequence[str] | None,
               service_label: str) -> list[MetricSample] | None:
        """Samples from a successful query_range answer; None when its shape is not a matrix."""
        data = body.get("data")
        if body.get("status") != "success" or not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            return None
        only = services[0] if services and len(set(services)) == 1 else None
        wanted = set(services or [])
        out: list[MetricSample] = []
        for series in data["result"]:
            if not isinstance(series, dict) or not isinstance(series.get("values", []), list):
                return None
            labels = series.get("metric") or {}
            service = labels.get(service_label) or only
            if not service or (wanted and service not in wanted):
                continue
            instance = labels.get("instance")
            for point in series.get("values", []):
                try:
                    ts_f, raw = float(point[0]), float(point[1])
                except (TypeError, ValueError, IndexError):
                    return None
                ts = datetime.fromtimestamp(ts_f, tz=UTC)
                if math.isfinite(raw) and window.contains(ts):
                    out.append(MetricSample(ts=ts, service=service, metric=metric, value=raw, instance=instance))
        return out
