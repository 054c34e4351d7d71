"""Bundled runbook library (data)."""
