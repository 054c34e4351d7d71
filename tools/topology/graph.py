"""The service call graph: topology.yaml merged with caller->callee edges seen in spans.

Nodes carry `kind`, `tier`, `criticality` and `in_topology`; edges carry `calls` (span count,
0 when only the catalog knows the edge) and `source` ('topology', 'spans' or 'both').
Edges point from caller to callee, so a fault propagates *against* the edge direction.
The graph attributes `total_calls` and `inbound_calls` cache the call volume (blast-radius impact
on large graphs); read them with `call_volume(g)`, and call `refresh_call_volume(g)` after adding
edges or editing `calls` once a graph has been built (subgraph views and copies recompute it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
    refresh_call_volume(g)
    cycles = _some_cycles(g, limit=3)
    if cycles:
        shown = "; ".join(" -> ".join(c + [c[0]]) for c in cycles)
        notes.append(f"the call graph has cycles (ranking still works): {shown}")
    return g, notes


def refresh_call_volume(g: nx.DiGraph) -> int:
    """Recompute and cache the call volume of `g` (total `calls` over all edges, and the calls
    into each node); returns the total."""
    inbound: dict[str, int] = {}
    for v, callers in g._pred.items():  # the raw adjacency: the public views cost a wrapper per node
        n = sum((d.get("calls") or 0) for d in callers.values())
        if n:
            inbound[v] = n
    total = sum(inbound.values())
    g.graph["total_calls"] = total
    g.graph["inbound_calls"] = inbound
    g.graph["total_calls_owner"] = id(g._adj)  # a view or copy has its own adjacency: no stale reuse
    return total


def call_volume(g: nx.DiGraph) -> tuple[int, dict[str, int]]:
    """(total `calls` over all edges, calls into each node) - O(1) from the cache that
    `refresh_call_volume` left on this very graph object (build_call_graph does), else
    recomputed and cached (O(edges)). Nodes without incoming calls are absent from the dict."""
    if g.graph.get("total_calls_owner") != id(g._adj) or "inbound_calls" not in g.graph:
        refresh_call_volume(g)
    return g.graph["total_calls"], g.graph["inbound_calls"]


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
