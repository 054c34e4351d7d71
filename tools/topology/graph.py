"""The service call graph: topology.yaml merged with caller->callee edges seen in spans.

Nodes carry `kind`, `tier`, `criticality` and `in_topology`; edges carry `calls` (span count,
0 when only the catalog knows the edge) and `source` ('topology', 'spans' or 'both').
Edges point from caller to callee, so a fault propagates *against* the edge direction.
The graph attribute `_call_index` caches a `CallIndex` (call volumes, sorted callers, entry
services) for fast blast radius on large graphs; read it with `call_index(g)`. It is rebuilt when
nodes or edges are added or removed; call `refresh_call_index(g)` after editing `calls` or `tier`
in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

from lumos.tools.domain import Topology


def build_call_graph(
    topology: Topology,
    span_edges: Mapping[tuple[str, str], int] | None = None,
    span_services: Iterable[str] = (),
) -> tuple[nx.DiGraph, list[str]]:
    """Merge the catalog topology and span-derived edges into one DiGraph; returns (graph, notes).

    Self-calls are dropped (a service calling itself says nothing about where a fault is),
    services seen only in spans (as edge ends or in `span_services`) are added with
    `in_topology=False`, and cycles are reported.
    """
    g = nx.DiGraph()
    notes: list[str] = []
    for svc in topology.services:
        g.add_node(svc.name, kind=svc.kind, tier=svc.tier, criticality=svc.criticality, in_topology=True)
    self_calls: set[str] = set()
    for edge in topology.calls:
        if edge.caller == edge.callee:
            self_calls.add(edge.caller)
            continue
        for name in (edge.caller, edge.callee):
            if name not in g:
                g.add_node(name, kind="service", tier=None, criticality=None, in_topology=True)
        g.add_edge(edge.caller, edge.callee, calls=0, source="topology")
    unknown: set[str] = set()
    known = set(g.nodes) if topology.services or topology.calls else None
    for (caller, callee), count in (span_edges or {}).items():
        if caller == callee:
            self_calls.add(caller)
            continue
        for name in (caller, callee):
            if name not in g:
                g.add_node(name, kind="service", tier=None, criticality=None, in_topology=False)
                if known is not None:
                    unknown.add(name)
        if g.has_edge(caller, callee):
            data = g.edges[caller, callee]
            data["calls"] = data.get("calls", 0) + count
            if data.get("source") == "topology":
                data["source"] = "both"
        else:
            g.add_edge(caller, callee, calls=count, source="spans")
    for name in span_services:
        if name not in g:
            g.add_node(name, kind="service", tier=None, criticality=None, in_topology=False)
            if known is not None:
                unknown.add(name)
    if self_calls:
        notes.append(f"self-calls ignored for: {', '.join(sorted(self_calls)[:10])}")
    if unknown:
        notes.append(f"services seen in spans but not in the topology: {', '.join(sorted(unknown)[:10])}")
    refresh_call_index(g)
    cycles = _some_cycles(g, limit=3)
    if cycles:
        shown = "; ".join(" -> ".join(c + [c[0]]) for c in cycles)
        notes.append(f"the call graph has cycles (ranking still works): {shown}")
    return g, notes


@dataclass(frozen=True)
class CallIndex:
    """Facts about a call graph that large-graph queries (blast radius) need again and again:
    `total_calls` (sum of edge `calls`), `inbound` (calls into each node; nodes without any are
    absent), `callers` (each called node's callers, sorted) and `entries` (`entry_services`)."""

    total_calls: int
    inbound: dict[str, int]
    callers: dict[str, list[str]]
    entries: frozenset[str]


def _fingerprint(g: nx.DiGraph) -> tuple[int, int, int]:
    """Cheap identity of a graph's shape: its adjacency object (a view or copy has its own), node
    and edge counts. Edits of edge/node *attributes* in place do not change it."""
    return id(g._adj), len(g), sum(map(len, g._succ.values()))


def refresh_call_index(g: nx.DiGraph) -> CallIndex:
    """Rebuild and cache the CallIndex of `g` (O(edges)); call it after editing `calls` or `tier`
    in place (adding or removing nodes or edges is noticed without it)."""
    callers: dict[str, list[str]] = {}
    inbound: dict[str, int] = {}
    for v, preds in g._pred.items():  # the raw adjacency: the public views cost a wrapper per node
        if preds:
            callers[v] = sorted(preds)
            n = sum((d.get("calls") or 0) for d in preds.values())
            if n:
                inbound[v] = n
    index = CallIndex(total_calls=sum(inbound.values()), inbound=inbound, callers=callers, entries=frozenset(entry_services(g)))
    g.graph["_call_index"] = (_fingerprint(g), index)
    return index


def call_index(g: nx.DiGraph) -> CallIndex:
    """The cached CallIndex of `g`, rebuilt when nodes or edges were added or removed since."""
    cached = g.graph.get("_call_index")
    if cached is not None and cached[0] == _fingerprint(g):
        return cached[1]
    return refresh_call_index(g)


def _some_cycles(g: nx.DiGraph, limit: int) -> list[list[str]]:
    """Up to `limit` simple cycles, cheaply (one per strongly connected component)."""
    found: list[list[str]] = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) < 2:
            continue
        try:
            cycle = nx.find_cycle(g.subgraph(comp))
        except nx.NetworkXNoCycle:
            continue
        found.append([u for u, _ in cycle])
        if len(found) >= limit:
            break
    return found


def entry_services(g: nx.DiGraph) -> list[str]:
    """User-facing services: tier 'edge', else nodes nobody calls (sorted)."""
    edge = sorted(n for n, d in g.nodes(data=True) if d.get("tier") == "edge")
    if edge:
        return edge
    return sorted(n for n in g.nodes if g.in_degree(n) == 0 and g.out_degree(n) > 0)
