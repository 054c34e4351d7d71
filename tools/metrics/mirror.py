"""Telemetry-less nodes that only mirror an instrumented service.

Remote, client, load-balancer and other external nodes are seen from their callers' side only
(a client span, an X-Ray remote segment, a load balancer's latency): whatever they show is what
the service behind them does. When such a node's symptom series moves with an instrumented
service's, the node is a view of that service, and blame belongs to the service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np

from lumos.tools.domain import MetricSample
from lumos.tools.metrics.anomaly import metric_kind

MIN_POINTS = 4
TELEMETRY_LESS = frozenset({"external"})


def _latency_series(samples: Iterable[MetricSample]) -> dict[str, dict[str, dict[float, float]]]:
    """{service: {metric: {epoch: value}}} of the latency series of whole services (no per-edge series)."""
    out: dict[str, dict[str, dict[float, float]]] = defaultdict(lambda: defaultdict(dict))
    for s in samples:
        if s.instance and "->" in s.instance:
            continue
        if metric_kind(s.metric)[0] == "latency":
            out[s.service][s.metric][s.ts.timestamp()] = s.value
    return out


def series_correlation(a: Mapping[str, Mapping[float, float]], b: Mapping[str, Mapping[float, float]]) -> float | None:
    """Mean Pearson correlation over the latency metrics both services have (on their common
    timestamps, MIN_POINTS or more); None when they share no such metric."""
    values = []
    for metric in sorted(set(a) & set(b)):
        ts = sorted(set(a[metric]) & set(b[metric]))
        if len(ts) < MIN_POINTS:
            continue
        x = np.array([a[metric][t] for t in ts])
        y = np.array([b[metric][t] for t in ts])
        if x.std() <= 1e-12 or y.std() <= 1e-12:
            continue
        values.append(float(np.corrcoef(x, y)[0, 1]))
    return sum(values) / len(values) if values else None


def _candidates(graph: nx.DiGraph, node: str) -> list[str]:
    """Instrumented services that may stand behind `node`: its callees, else the other callees of
    its callers (a load balancer in front of a service is often drawn beside it, not above it)."""
    def instrumented(n: str) -> bool:
        return (graph.nodes[n].get("kind") or "service") not in TELEMETRY_LESS

    direct = [n for n in graph.successors(node) if instrumented(n)]
    if direct:
        return sorted(direct)
    callers = set(graph.predecessors(node))
    siblings = {c for p in callers for c in graph.successors(p)} - callers - {node}
    return sorted(n for n in siblings if instrumented(n))


def mirror_targets(
    graph: nx.DiGraph,
    metrics: Iterable[MetricSample],
    symptom: Mapping[str, float],
    *,
    min_corr: float = 0.6,
    min_symptom: float = 0.05,
) -> dict[str, tuple[str, float]]:
    """{telemetry-less node: (instrumented service it mirrors, correlation)} for every anomalous
    external node whose latency moves with an anomalous instrumented service's (correlation at
    least `min_corr`); the best match by correlation times the service's own symptom strength."""
    series = _latency_series(metrics)
    out: dict[str, tuple[str, float]] = {}
    for node in sorted(graph.nodes):
        if (graph.nodes[node].get("kind") or "service") not in TELEMETRY_LESS or symptom.get(node, 0.0) < min_symptom:
            continue
        if node not in series:
            continue
        best: tuple[float, str, float] | None = None
        for cand in _candidates(graph, node):
            if symptom.get(cand, 0.0) < min_symptom or cand not in series:
                continue
            corr = series_correlation(series[node], series[cand])
            if corr is None or corr < min_corr:
                continue
            key = corr * (0.5 + 0.5 * min(1.0, symptom[cand]))
            if best is None or key > best[0]:
                best = (key, cand, corr)
        if best is not None:
            out[node] = (best[1], round(best[2], 4))
    return out
