"""Graph-based root-cause ranking over per-service evidence features.

Two ideas from the literature, kept simple and deterministic:
* *local vs propagated evidence* (trace self-time analysis, MicroRank/TraceRCA): CPU, own span
  time, network gaps and changed call patterns point at the service itself, while latency and
  errors also appear in every caller of the faulty service;
* *explained-away symptoms* on the call graph (the deepest anomalous service on a path is the
  likeliest cause, as in random-walk/PageRank methods on anomaly-weighted graphs): a service's
  symptoms count less when one of its callees is anomalous too, and a service gains when its
  callers' anomalies are consistent with it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel, RankWeights
from lumos.tools.domain import Evidence, FaultType, Hypothesis
from lumos.tools.topology.fault_types import infer_fault_type
from lumos.tools.traces.features import ServiceFeatures, evidence_source

# The weights live in the diagnosis model (`lumos.tools.diagnosis_model`), each with its reasoning.


@dataclass
class RankedService:
    """One ranked service with its score, component scores and fault-type support."""

    service: str
    score: float
    local: float
    symptom: float
    fault_hints: dict[str, float] = field(default_factory=dict)
    mirrored_by: tuple[str, float] | None = None  # (telemetry-less node whose symptoms are this service's, closeness)

    def to_hypothesis(self, feats: ServiceFeatures | None) -> Hypothesis:
        """A Hypothesis with the strongest evidence lines of this service."""
        fault = max(self.fault_hints, key=self.fault_hints.get) if self.fault_hints else FaultType.unknown.value
        evidence: list[Evidence] = []
        if feats is not None:
            for k in sorted(feats.scores, key=lambda k: -feats.scores[k])[:5]:
                if feats.scores[k] <= 0.05:
                    continue
                ref = feats.refs[k]
                evidence.append(Evidence(source=evidence_source(ref), summary=feats.lines[k], ref=ref, service=self.service, weight=round(feats.scores[k], 4)))
        rationale = f"local evidence {self.local:.2f}, symptoms {self.symptom:.2f}"
        if self.mirrored_by:
            node, closeness = self.mirrored_by
            evidence.insert(0, Evidence(source="topology", service=self.service, ref=f"mirror:{node}", weight=round(closeness, 4),
                                        summary=f"{node} (no telemetry of its own) mirrors this service's symptoms (correlation {closeness:.2f})"))
            rationale += f"; symptoms seen through {node}"
        return Hypothesis(service=self.service, fault_type=FaultType(fault), confidence=max(0.0, min(1.0, self.score)), evidence=evidence, rationale=rationale)


def noisy_or(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """1 - prod(1 - w_k * s_k): the chance that at least one weighted piece of evidence is right."""
    p = 1.0
    for k, w in weights.items():
        p *= 1.0 - w * max(0.0, min(1.0, scores.get(k, 0.0)))
    return 1.0 - p


def _local_weights(w: RankWeights) -> dict[str, float]:
    weights = w.local.model_dump()
    weights.pop("change")
    return weights


def local_score(f: ServiceFeatures, w: RankWeights = DEFAULT_MODEL.rank) -> float:
    """Evidence that points at the service itself (resource use, own time, edges, changes).

    A delay on a service's own network slows its calls in both directions, so slow outgoing
    calls while its incoming calls are measured and healthy point at the callee instead, unless
    its other edges show the slowdown is its own (`ServiceFeatures.net_out_own`).
    """
    weights = _local_weights(w)
    for k in f.scores:
        if k.startswith("change_"):
            weights[k] = w.local.change
    scores = dict(f.scores)
    if "net_in" in f.observed and "net_out" in scores:
        own = max(scores.get("net_in", 0.0), f.net_out_own)
        scores["net_out"] *= w.net_out_guard + (1.0 - w.net_out_guard) * own
    return noisy_or(scores, weights)


def symptom_score(f: ServiceFeatures, w: RankWeights = DEFAULT_MODEL.rank) -> float:
    """Evidence that the service is affected (latency, errors), wherever the cause is."""
    return noisy_or(f.scores, w.symptom.model_dump())


def path_support(graph: nx.DiGraph, anomaly: Mapping[str, float], alert_service: str | None) -> dict[str, float]:
    """How well a fault at each service explains the alert: the widest path from the alerting service
    down to it, where a path is as strong as its least anomalous intermediate service (1.0 for the
    alerting service itself; 1.0 everywhere when the alert names no known service).
    """
    if not alert_service or alert_service not in graph:
        return {n: 1.0 for n in graph.nodes}
    best: dict[str, float] = {alert_service: 1.0}
    heap: list[tuple[float, str]] = [(-1.0, alert_service)]
    while heap:
        neg, node = heapq.heappop(heap)
        width = -neg
        if width < best.get(node, 0.0):
            continue
        # Passing *through* a node needs that node to be anomalous; the alerting service always is.
        through = width if node == alert_service else min(width, anomaly.get(node, 0.0))
        for nxt in graph.successors(node):
            if through > best.get(nxt, 0.0):
                best[nxt] = through
                heapq.heappush(heap, (-through, nxt))
    return best


def rank_services(
    graph: nx.DiGraph,
    features: Mapping[str, ServiceFeatures],
    *,
    alert_service: str | None = None,
    mirrors: Mapping[str, tuple[str, float]] | None = None,
    model: DiagnosisModel = DEFAULT_MODEL,
) -> list[RankedService]:
    """Rank every service of the graph (and any service with features), best candidate first.

    `mirrors` maps a telemetry-less node (external: a remote, client or load-balancer node seen
    only from its callers) to the instrumented service it mirrors and how closely (0-1): such a
    node only reflects what the service behind it does, so most of its score passes to that service.
    """
    w = model.rank
    nodes = sorted(set(graph.nodes) | set(features))
    local = {n: local_score(features[n], w) if n in features else 0.0 for n in nodes}
    symptom = {n: symptom_score(features[n], w) if n in features else 0.0 for n in nodes}
    anomaly = {n: max(local[n], symptom[n]) for n in nodes}
    support = path_support(graph, anomaly, alert_service)
    raw: dict[str, float] = {}
    scores: dict[str, float] = {}
    for n in nodes:
        callees = list(graph.successors(n)) if n in graph else []
        explained = max((anomaly[c] for c in callees), default=0.0)
        score = (local[n] + w.symptom_share * symptom[n] * (1.0 - explained)) / (1.0 + w.symptom_share)
        score *= (1.0 - w.path_floor) + w.path_floor * support.get(n, 0.0)
        raw[n] = score
        kind = graph.nodes[n].get("kind") if n in graph else None
        scores[n] = score * (w.external_prior if kind == "external" else 1.0)
    # A mirroring node's evidence is the service's: the service takes it over (as strong as the
    # match), and the node keeps what the match leaves unexplained.
    handed: dict[str, tuple[str, float]] = {}
    for node, (target, closeness) in sorted((mirrors or {}).items()):
        if node in scores and target in scores and closeness > 0:
            scores[target] = max(scores[target], closeness * raw[node])
            scores[node] *= 1.0 - w.mirror_transfer * closeness
            handed[target] = (node, closeness)
    out: list[RankedService] = []
    for n in nodes:
        kind = (graph.nodes[n].get("kind") or "service") if n in graph else "service"
        hints = infer_fault_type(features.get(n), kind, model.fault_types)
        out.append(RankedService(service=n, score=scores[n], local=local[n], symptom=symptom[n], fault_hints=hints,
                                 mirrored_by=handed.get(n)))
    out.sort(key=lambda r: (-r.score, r.service))
    return out
