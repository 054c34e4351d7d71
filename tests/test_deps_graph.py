"""Call graph building and the typed topology tools."""

from lumos.tools.domain import CallEdge, Service, Topology
from lumos.tools.topology.graph import build_call_graph, entry_services
from lumos.tools.topology.mermaid import incident_mermaid
from lumos.tools.topology.queries import blast_radius, call_paths, downstream, upstream


def _topo() -> Topology:
    return Topology(
        services=[Service(name="web", tier="edge"), Service(name="api"), Service(name="db", kind="database")],
        calls=[CallEdge(caller="web", callee="api"), CallEdge(caller="api", callee="db"), CallEdge(caller="api", callee="api")],
    )


def test_merge_topology_and_span_edges_with_notes():
    g, notes = build_call_graph(_topo(), {("api", "cache"): 5, ("web", "api"): 7, ("db", "web"): 1})
    assert g.edges["web", "api"]["calls"] == 7 and g.edges["web", "api"]["source"] == "both"
    assert g.nodes["cache"]["in_topology"] is False
    assert not g.has_edge("api", "api")
    text = " ".join(notes)
    assert "self-calls" in text and "not in the topology" in text and "cycles" in text


def test_upstream_downstream_depth_and_unknown():
    g, _ = build_call_graph(_topo())
    assert [n.service for n in downstream(g, "web", depth=1)] == ["api"]
    assert [(n.service, n.distance) for n in downstream(g, "web", depth=2)] == [("api", 1), ("db", 2)]
    assert [n.service for n in upstream(g, "db", depth=5)] == ["api", "web"]
    assert upstream(g, "nope") == [] and downstream(g, "web", depth=0) == []


def test_call_paths_and_blast_radius():
    g, _ = build_call_graph(_topo(), {("web", "db"): 1})
    paths = call_paths(g, "web", "db")
    assert paths[0] == ["web", "db"] and ["web", "api", "db"] in paths
    assert call_paths(g, "db", "web") == []
    br = blast_radius(g, "db")
    assert br.found and set(br.affected) == {"api", "web"} and br.user_facing == ["web"]
    assert 0 < br.impact <= 1
    assert not blast_radius(g, "ghost").found
    assert entry_services(g) == ["web"]


def test_mermaid_marks_root_alert_and_blast():
    g, _ = build_call_graph(_topo())
    text = incident_mermaid(g, suspects=["db", "api"], alert_service="web", blast=["api", "web"])
    assert text.startswith("graph LR")
    assert "class n" in text and " root" in text and " alert" in text
    assert '"db"' in text and "-->" in text


def test_svg_render_is_deterministic_svg():
    from lumos.tools.topology.render import incident_svg

    g, _ = build_call_graph(_topo())
    svg = incident_svg(g, suspects=["db"], alert_service="web", blast=["api", "web"])
    assert "<svg" in svg and "</svg>" in svg
    assert "<svg" in incident_svg(g, suspects=["ghost"])
