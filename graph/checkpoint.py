"""Checkpointing: every incident is a LangGraph thread persisted in SQLite (Postgres for fleets later)."""

from __future__ import annotations

import enum
import inspect
import sqlite3
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel

import lumos.tools.domain as domain


def state_types() -> list[type]:
    """Every domain type that may appear in incident state (allowed for msgpack deserialisation)."""
    types: set[type] = set()
    for module in (domain.base, domain.alert, domain.telemetry, domain.case, domain.findings, domain.execution):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and (issubclass(obj, BaseModel) or issubclass(obj, enum.Enum)):
                types.add(obj)
    return sorted(types, key=lambda t: (t.__module__, t.__name__))


def make_serializer() -> JsonPlusSerializer:
    """A serializer that round-trips LUMOS's pydantic state without unregistered-type warnings."""
    return JsonPlusSerializer(allowed_msgpack_modules=state_types())


def open_sqlite_checkpointer(path: str | Path) -> SqliteSaver:
    """A SqliteSaver on `path` (created if missing), usable from worker threads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(conn, serde=make_serializer())
