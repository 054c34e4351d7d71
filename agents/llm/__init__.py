"""lumos.agents.llm: model-backed agent loops over the typed tools."""
