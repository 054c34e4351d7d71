"""SVG picture of the incident neighbourhood (the same nodes and colours as the Mermaid text).

Rendered with matplotlib's SVG backend, laid out in layers by call depth from the alerting
service (callers on the left, callees on the right), so the picture is deterministic.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import networkx as nx

from lumos.tools.topology.mermaid import neighbourhood

_COLOURS = {"root": "#ff6666", "suspect": "#ffcc99", "alert": "#99ccff", "blast": "#ffffcc", "other": "#eeeeee"}


def _layers(sub: nx.DiGraph, start: str | None) -> dict[str, tuple[float, float]]:
    """x = call depth from `start` (or from the graph's sources), y = position within the layer."""
    roots = [start] if start in sub else [n for n in sub if sub.in_degree(n) == 0] or list(sub)[:1]
    depth: dict[str, int] = {}
    for r in roots:
        for n, d in nx.single_source_shortest_path_length(sub, r).items():
            depth[n] = min(d, depth.get(n, d))
    for n in sub:
        depth.setdefault(n, max(depth.values(), default=0) + 1)
    by_layer: dict[int, list[str]] = {}
    for n in sorted(sub, key=lambda n: (depth[n], n)):
        by_layer.setdefault(depth[n], []).append(n)
    pos = {}
    for d, nodes in by_layer.items():
        for i, n in enumerate(nodes):
            pos[n] = (float(d), -(i - (len(nodes) - 1) / 2.0))
    return pos


def incident_svg(
    g: nx.DiGraph,
    *,
    suspects: Iterable[str] = (),
    alert_service: str | None = None,
    blast: Iterable[str] = (),
    max_nodes: int = 40,
) -> str:
    """SVG text of the incident neighbourhood: root cause red, other suspects orange, alerting
    service blue, blast radius yellow. Returns a small placeholder SVG when there is nothing to draw.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    suspects = [s for s in suspects if s in g]
    blast = [b for b in blast if b in g]
    keep = neighbourhood(g, suspects=suspects, alert_service=alert_service, blast=blast, max_nodes=max_nodes)
    if not keep:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="10" y="25">no services to draw</text></svg>\n'
    sub = g.subgraph(keep).copy()
    pos = _layers(sub, alert_service)
    role = {n: "other" for n in keep}
    for b in blast:
        role[b] = "blast"
    if alert_service in role:
        role[alert_service] = "alert"
    for i, s in enumerate(suspects[:3]):
        role[s] = "root" if i == 0 else "suspect"
    width = 2.5 + 2.2 * (max(x for x, _ in pos.values()) + 1)
    height = 1.0 + 0.7 * max(1, max(sum(1 for p in pos.values() if p[0] == x) for x, _ in pos.values()))
    fig, ax = plt.subplots(figsize=(width, height))
    try:
        ax.set_axis_off()
        nx.draw_networkx_edges(sub, pos, ax=ax, arrows=True, arrowstyle="-|>", edge_color="#777777", node_size=1800)
        nx.draw_networkx_nodes(sub, pos, ax=ax, node_color=[_COLOURS[role[n]] for n in sub], node_size=1800, edgecolors="#333333")
        nx.draw_networkx_labels(sub, pos, ax=ax, labels={n: n if len(n) <= 24 else n[:22] + "…" for n in sub}, font_size=7)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()
