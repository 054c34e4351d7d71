"""Prompt templates (data)."""
