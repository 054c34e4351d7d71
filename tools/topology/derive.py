"""A topology derived from what was observed, for incidents that come without a catalog export.

The case format makes topology.yaml optional ("else derive from spans"): services are every
name seen in spans, logs, metrics, changes or the alert, and call edges are the cross-service
parent -> child pairs of the spans.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lumos.tools.domain import CallEdge, Service, Topology

if TYPE_CHECKING:
    from lumos.tools.traces.spans import SpanIndex


def derive_topology(index: "SpanIndex", services: Iterable[str] = ()) -> Topology:
    """Services from the span index plus `services`, and caller -> callee edges from span parentage
    (self-calls and spans whose parent is missing add no edge; a repeated span id keeps its first span)."""
    from lumos.tools.traces.spans import span_services

    names = set(span_services(index)) | {n for n in services if n}
    return Topology(
        services=[Service(name=n) for n in sorted(names)],
        calls=[CallEdge(caller=a, callee=b) for a, b in sorted(set(index.edges))],
    )


def with_services(topology: Topology, names: Iterable[str]) -> Topology:
    """`topology` plus a plain service node for each of `names` it does not know yet."""
    known = set(topology.service_names())
    extra = sorted({n for n in names if n and n not in known})
    if not extra:
        return topology
    return topology.model_copy(update={"services": [*topology.services, *(Service(name=n) for n in extra)]})
