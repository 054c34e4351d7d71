"""Named metric signals per service on a Prometheus HTTP API, with default PromQL templates.

Signals (LUMOS metric names the anomaly scorers understand): request_rate, error_rate,
latency_p50_ms, latency_p99_ms (HTTP server metrics; OpenTelemetry semantic conventions by
default, or the Prometheus client-library names), cpu_usage_pct, memory_usage_mb, restarts
(cAdvisor and kube-state-metrics). A template's `{service}` becomes the service matcher
(`job=~".+"`), `{label}` the label that names the service in its results; any signal can be
replaced or dropped in `lumos.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lumos.tools.live.config import PrometheusSource, read_secret
from lumos.tools.metrics.prometheus import MetricFetch, PrometheusFailure, PrometheusMetricSource, render_query
from lumos.tools.domain import TimeWindow

_OTEL_COUNT = "http_server_request_duration_seconds_count"
_OTEL_BUCKET = "http_server_request_duration_seconds_bucket"


def _http_signals(count: str, bucket: str, code_matcher: str, rate: str) -> dict[str, str]:
    total = f"sum by ({{label}}) (rate({count}{{{{service}}}}[{rate}]))"
    errors = f"sum by ({{label}}) (rate({count}{{{{service}},{code_matcher}}}[{rate}]))"
    quantile = "1000 * histogram_quantile({q}, sum by ({{label}}, le) (rate(" + bucket + "{{{{service}}}}[" + rate + "])))"
    return {
        "request_rate": total,
        "error_rate": f"({errors} or 0 * {total}) / {total}",
        "latency_p50_ms": quantile.format(q="0.5"),
        "latency_p99_ms": quantile.format(q="0.99"),
    }


def _workload_signals(rate: str) -> dict[str, str]:
    return {
        "cpu_usage_pct": f'100 * sum by ({{label}}) (rate(container_cpu_usage_seconds_total{{{{service}},container!="",container!="POD"}}[{rate}]))',
        "memory_usage_mb": 'sum by ({label}) (container_memory_working_set_bytes{{service},container!="",container!="POD"}) / 1048576',
        "restarts": "sum by ({label}) (increase(kube_pod_container_status_restarts_total{{service}}[5m]))",
    }


def default_signals(conf: PrometheusSource) -> dict[str, tuple[str, str]]:
    """signal -> (PromQL template, service label) before the file's overrides."""
    if conf.preset == "otel":
        http = _http_signals(_OTEL_COUNT, _OTEL_BUCKET, 'http_response_status_code=~"5.."', conf.rate_window)
    else:
        http = _http_signals("http_requests_total", "http_request_duration_seconds_bucket", 'code=~"5.."', conf.rate_window)
        http["request_rate"] = f"sum by ({{label}}) (rate(http_requests_total{{{{service}}}}[{conf.rate_window}]))"
        http["error_rate"] = http["error_rate"].replace(_OTEL_COUNT, "http_requests_total")
    out = {name: (q, conf.service_label) for name, q in http.items()}
    out.update({name: (q, conf.workload_label) for name, q in _workload_signals(conf.rate_window).items()})
    return out


def signals(conf: PrometheusSource) -> dict[str, tuple[str, str]]:
    """signal -> (PromQL template, service label): the defaults with the file's overrides applied."""
    out = default_signals(conf)
    for name, signal in conf.signals.items():
        if signal is None:
            out.pop(name, None)
        else:
            out[name] = (signal.query, signal.service_label or out.get(name, ("", conf.service_label))[1])
    return out


def render(template: str, label: str, services: list[str] | None = None) -> str:
    """The PromQL sent for one signal."""
    return render_query(template.replace("{label}", label), services, label)


@dataclass
class LiveMetrics:
    """Every configured signal over a window, from one Prometheus-API server."""

    conf: PrometheusSource

    def open(self) -> PrometheusMetricSource:
        """A client with the configured auth and headers."""
        headers = dict(self.conf.headers)
        token = read_secret(self.conf.bearer_token_env, "sources.metrics.bearer_token_env")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return PrometheusMetricSource(self.conf.url, timeout_s=self.conf.timeout_s, step_s=self.conf.step_s, headers=headers)

    def fetch(self, window: TimeWindow) -> MetricFetch:
        """Samples of every signal for every service in `window`, plus the queries that failed."""
        out = MetricFetch()
        with self.open() as source:
            for name, (template, label) in signals(self.conf).items():
                got = source.query_range(render(template, label), window, metric=name, service_label=label)
                if isinstance(got, PrometheusFailure):
                    out.failures.append(got)
                    if got.reason in ("unreachable", "timeout"):
                        break  # the server is down: one failure says it, the other signals would wait too
                else:
                    out.samples.extend(got)
        out.samples.sort(key=lambda s: (s.ts, s.service, s.metric, s.instance or ""))
        return out
