"""Typed topology tools: who calls a service, whom it calls, paths between two services, blast radius.

These are plain functions over a call graph (networkx DiGraph, edges caller -> callee, as built
by `lumos.tools.topology.graph.build_call_graph`). Each is written to be offered to a model
as a tool: arguments are names and small integers, results are pydantic models.
"""

from __future__ import annotations

from collections import deque

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.topology.graph import call_index


class Neighbour(BaseModel):
    """A service reached from another one, and how many calls away it is."""

    model_config = ConfigDict(frozen=True)

    service: str
    distance: int = Field(ge=1)


class BlastRadius(BaseModel):
    """Who is hurt when a service fails: every transitive caller, and the user-facing ones among them."""

    model_config = ConfigDict(frozen=True)

    service: str
    affected: list[str] = Field(default_factory=list, description="All services that call the service directly or indirectly, nearest first.")
    user_facing: list[str] = Field(default_factory=list, description="Affected entry/edge services (what users notice).")
    impact: float = Field(ge=0.0, le=1.0, description="Share of the graph's call volume that passes through the service (0-1).")
    found: bool = True


def _bfs(g: nx.DiGraph, start: str, depth: int, reverse: bool) -> list[Neighbour]:
    if start not in g or depth < 1:
        return []
    seen = {start: 0}
    queue = deque([start])
    out: list[Neighbour] = []
    while queue:
        node = queue.popleft()
        d = seen[node]
        if d >= depth:
            continue
        nbrs = g.predecessors(node) if reverse else g.successors(node)
        for n in sorted(nbrs):
            if n not in seen:
                seen[n] = d + 1
                out.append(Neighbour(service=n, distance=d + 1))
                queue.append(n)
    return out


def upstream(g: nx.DiGraph, service: str, depth: int = 1) -> list[Neighbour]:
    """Services that call `service` (its callers), up to `depth` calls away, nearest first.

    A fault in `service` shows up in these services, so use it to explain symptoms seen
    upstream. Returns [] for an unknown service or depth < 1.
    """
    return _bfs(g, service, depth, reverse=True)


def downstream(g: nx.DiGraph, service: str, depth: int = 1) -> list[Neighbour]:
    """Services that `service` calls (its dependencies), up to `depth` calls away, nearest first.

    Where a symptom is seen, the root cause is often here. Returns [] for an unknown service
    or depth < 1.
    """
    return _bfs(g, service, depth, reverse=False)


def call_paths(g: nx.DiGraph, source: str, target: str, max_paths: int = 5, max_len: int = 8) -> list[list[str]]:
    """Up to `max_paths` simple call paths from `source` to `target` (shortest first), each a list of
    service names starting with `source`. Use it to see how a fault in `target` reaches `source`.
    Returns [] when either service is unknown or there is no path within `max_len` calls.
    """
    if source not in g or target not in g:
        return []
    if source == target:
        return [[source]]
    paths: list[list[str]] = []
    try:
        for p in nx.shortest_simple_paths(g, source, target):
            if len(p) - 1 > max_len:
                break
            paths.append(list(p))
            if len(paths) >= max_paths:
                break
    except nx.NetworkXNoPath:
        return []
    return paths


def blast_radius(g: nx.DiGraph, service: str, max_depth: int = 10) -> BlastRadius:
    """Which services are affected if `service` fails: its transitive callers, the user-facing ones
    among them, and an impact estimate (share of observed call volume into `service` and its callers;
    without call counts, the share of services affected). `found` is False for an unknown service.
    """
    if service not in g:
        return BlastRadius(service=service, impact=0.0, found=False)
    index = call_index(g)  # cached per graph: large graphs pay the O(edges) part once
    affected = _callers(index.callers, service, max_depth)
    entries = index.entries
    user_facing = [s for s in affected if s in entries]
    if service in entries:
        user_facing.insert(0, service)
    if index.total_calls > 0:
        inbound = index.inbound
        through = inbound.get(service, 0) + sum(inbound.get(s, 0) for s in affected)
        impact = min(1.0, through / index.total_calls)
    else:
        impact = min(1.0, (len(affected) + 1) / max(1, g.number_of_nodes()))
    return BlastRadius(service=service, affected=affected, user_facing=user_facing, impact=impact)


def _callers(callers: dict[str, list[str]], service: str, depth: int) -> list[str]:
    """Transitive callers of `service` up to `depth` calls away, in the same order as `upstream()`
    (breadth first, each node's callers sorted), as plain names, from `CallIndex.callers`."""
    seen = {service}
    frontier = [service]
    out: list[str] = []
    for _ in range(max(0, depth)):
        nxt: list[str] = []
        for node in frontier:
            for n in callers.get(node, ()):
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        if not nxt:
            break
        out.extend(nxt)
        frontier = nxt
    return out
