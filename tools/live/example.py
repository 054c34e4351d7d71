"""The commented example `lumos.yaml` printed by `lumos config example` (valid as it stands)."""

from __future__ import annotations

EXAMPLE = """\
# lumos.yaml: connect LUMOS to a running system. `lumos config check lumos.yaml --probe` tests it.
# Secrets are never written here: every *_env field names the environment variable holding one.
version: 1

sources:
  # What an investigation reads around the alert's startsAt: the span where the fault may have
  # started (the onset is looked for up to ~15 min before startsAt), a fault-free baseline of
  # baseline_s before that, and the incident up to after_s after startsAt.
  window: {baseline_s: 1800, after_s: 300}

  # Any Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).
  metrics:
    type: prometheus
    url: http://127.0.0.1:9090
    # OpenTelemetry HTTP server metrics (http_server_request_duration_seconds) name the service
    # in `job` when they come through the Collector's Prometheus exporter; cAdvisor and
    # kube-state-metrics name it in `container`.
    service_label: job
    workload_label: container
    preset: otel                 # or prometheus-client (http_requests_total, process_*)
    # bearer_token_env: PROMETHEUS_TOKEN
    # Override any signal's PromQL ({service} = the service matcher, {label} = the label name),
    # or set it to null to skip it:
    # signals:
    #   error_rate:
    #     query: sum by ({label}) (rate(http_errors_total{{service}}[1m])) / sum by ({label}) (rate(http_requests_total{{service}}[1m]))

  # Elasticsearch or OpenSearch; ECS field names by default.
  logs:
    type: elasticsearch          # or opensearch
    url: http://127.0.0.1:9200
    index: logs-*
    max_lines: 20000             # raw lines fetched per investigation; the report says when the cap is hit
    # api_key_env: ES_API_KEY    # or username + password_env
    # fields: {timestamp: "@timestamp", service: service.name, level: log.level, message: message}

  # Spans sent by OpenTelemetry SDKs or a Collector to `lumos serve` (POST /v1/traces).
  traces:
    type: otlp

  # The service graph: static (a topology.yaml), spans (edges seen in stored spans) or
  # kubernetes (Services and Deployments of a namespace, plus span edges).
  topology:
    type: spans
    # type: kubernetes
    # kubernetes: {namespace: shop, context: prod}

  # Deploy and config events: POST /webhooks/changes (generic JSON, Argo CD notifications,
  # GitHub deployment_status), plus Kubernetes rollout history when `kubernetes` is set.
  changes:
    webhook: true
    # kubernetes: {namespace: shop}

# Where each remediation action runs. dry_run: true approves, audits and reports the step as
# "would run ..." with the exact request, and sends nothing. The approval gate is unchanged.
actions:
  default: {backend: simulated, dry_run: true}
  # per_action:
  #   restart_service: {backend: kubernetes, dry_run: true}
  #   rollback_deploy: {backend: kubernetes, dry_run: true}
  # kubernetes: {namespace: shop, deployments: {checkout: checkout-v2}}
  # http: {url: https://hooks.example.internal/lumos, secret_env: LUMOS_HOOK_SECRET}
  # command: {actions: {restart_service: [systemctl, restart, "{service}"]}}

notify:
  targets: []
  # targets:
  #   - {kind: slack, url_env: LUMOS_SLACK_WEBHOOK}
  #   - {kind: webhook, url_env: LUMOS_NOTIFY_URL}

server:
  host: 127.0.0.1
  port: 8080
  # database_url_env: LUMOS_DATABASE_URL   # postgresql://... for fleet mode (SQLite by default)
  otlp: {retention_s: 21600, max_spans: 2000000}
"""
