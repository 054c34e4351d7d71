"""A topology derived from what was observed, for incidents that come without a catalog export.

The case format makes topology.yaml optional ("else derive from spans"): services are every
name seen in spans, logs, metrics, changes or the alert, and call edges are the cross-service
parent -> child pairs of the spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lumos.tools.domain import CallEdge, Service, Span, Topology


def derive_topology(spans: Sequence[Span], services: Iterable[str] = ()) -> Topology:
    """Services from spans plus `services`, and caller -> callee edges from span parentage
    (self-calls and spans whose parent is missing add no edge)."""
    owner: dict[tuple[str, str], str] = {}
    for s in spans:  # the first span of a repeated id wins, as in the span index
        owner.setdefault((s.trace_id, s.span_id), s.service)
    edges: set[tuple[str, str]] = set()
    for s in spans:
        if s.parent_span_id is None:
            continue
        caller = owner.get((s.trace_id, s.parent_span_id))
        if caller is not None and caller != s.service:
            edges.add((caller, s.service))
    names = {s.service for s in spans} | {n for n in services if n}
    return Topology(
        services=[Service(name=n) for n in sorted(names)],
        calls=[CallEdge(caller=a, callee=b) for a, b in sorted(edges)],
    )


def with_services(topology: Topology, names: Iterable[str]) -> Topology:
    """`topology` plus a plain service node for each of `names` it does not know yet."""
    known = set(topology.service_names())
    extra = sorted({n for n in names if n and n not in known})
    if not extra:
        return topology
    return topology.model_copy(update={"services": [*topology.services, *(Service(name=n) for n in extra)]})
