"""Helpers for the `lumos serve` tests: free ports, server subprocesses, a private Postgres."""
