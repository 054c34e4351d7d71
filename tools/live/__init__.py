"""Live data sources and actions declared in `lumos.yaml`: Prometheus-API metrics,
Elasticsearch/OpenSearch logs, spans received over OTLP/HTTP, topology, changes, and the
per-action backends. Everything here sits behind the same interfaces as a recorded case."""
