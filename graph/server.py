"""The compiled incident graph for LangGraph Server / `langgraph dev` (see langgraph.json).

The server supplies its own checkpointer, so the graph is compiled without one here.
"""

from __future__ import annotations

from lumos.graph.builder import build_graph
from lumos.graph.resources import Resources
from lumos.tools.settings import Settings

graph = build_graph(Resources.from_settings(Settings.from_env()))
