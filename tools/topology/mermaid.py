"""Mermaid text of the incident neighbourhood: suspected root cause, alerting service, blast radius."""

from __future__ import annotations

import re
from collections.abc import Iterable

import networkx as nx


def _node_id(name: str, ids: dict[str, str]) -> str:
    if name not in ids:
        ids[name] = f"n{len(ids)}"
    return ids[name]


def _label(name: str) -> str:
    """A Mermaid-safe label (quotes and brackets removed)."""
    return re.sub(r'["\[\]{}<>|]', "_", name)


def neighbourhood(
    g: nx.DiGraph,
    *,
    suspects: Iterable[str] = (),
    alert_service: str | None = None,
    blast: Iterable[str] = (),
    max_nodes: int = 40,
) -> list[str]:
    """The services worth drawing: top suspects, the alerting service, the call paths from it to the
    suspects, the blast radius and the top suspect's callees (at most `max_nodes`, in that order).
    """
    suspects = [s for s in suspects if s in g]
    keep: list[str] = []

    def add(n: str) -> None:
        if n in g and n not in keep and len(keep) < max_nodes:
            keep.append(n)

    for s in suspects[:3]:
        add(s)
    if alert_service and alert_service in g:
        add(alert_service)
        for s in suspects[:3]:
            try:
                for n in nx.shortest_path(g, alert_service, s):
                    add(n)
            except nx.NetworkXNoPath:
                pass
    for b in blast:
        add(b)
    for s in suspects[:1]:
        for n in sorted(g.successors(s)):
            add(n)
    return keep


def incident_mermaid(
    g: nx.DiGraph,
    *,
    suspects: Iterable[str] = (),
    alert_service: str | None = None,
    blast: Iterable[str] = (),
    max_nodes: int = 40,
) -> str:
    """Mermaid `graph LR` of the suspects, the alerting service, the blast radius and the call paths
    joining them. Styles: root cause (first suspect) red, other suspects orange, alerting service
    blue, blast radius yellow. Bounded by `max_nodes` so a large graph still renders.
    """
    suspects = [s for s in suspects if s in g]
    blast = [b for b in blast if b in g]
    keep = neighbourhood(g, suspects=suspects, alert_service=alert_service, blast=blast, max_nodes=max_nodes)
    ids: dict[str, str] = {}
    lines = ["graph LR"]
    for n in keep:
        lines.append(f'  {_node_id(n, ids)}["{_label(n)}"]')
    sub = g.subgraph(keep)
    for u, v, d in sorted(sub.edges(data=True)):
        calls = d.get("calls", 0)
        arrow = f" -->|{calls}| " if calls else " --> "
        lines.append(f"  {ids[u]}{arrow}{ids[v]}")
    lines.append("  classDef root fill:#f66,stroke:#900,color:#000")
    lines.append("  classDef suspect fill:#fc9,stroke:#c60,color:#000")
    lines.append("  classDef alert fill:#9cf,stroke:#036,color:#000")
    lines.append("  classDef blast fill:#ffc,stroke:#cc0,color:#000")
    for b in blast:
        if b in ids and b not in suspects[:3] and b != alert_service:
            lines.append(f"  class {ids[b]} blast")
    if alert_service in ids:
        lines.append(f"  class {ids[alert_service]} alert")
    for i, s in enumerate(suspects[:3]):
        if s in ids:
            lines.append(f"  class {ids[s]} {'root' if i == 0 else 'suspect'}")
    return "\n".join(lines) + "\n"
