"""Bundled incident workflows (data)."""
