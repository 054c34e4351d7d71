"""Span-tree analysis: self time, network gaps, call edges and error origin, per trace.

A span's *self time* is its duration minus the time covered by its children. When a span's
children run in another service (a client span calling a server span), the uncovered time is
the *gap* of that call (network and queueing), which belongs to the call edge, not to the
caller's own code. Keeping the two apart stops network delay from being blamed on the caller.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import NamedTuple

import numpy as np

from lumos.tools.domain import Span
from lumos.tools.traces.columns import (
    EntryCalls,
    SpanColumns,
    bool_array,
    codes_of,
    columns_from_facts,
    covered_ms,
    distinct_pairs,
    entry_calls_of,
    resolve_entries,
    segment_bounds,
)


class SpanFacts(NamedTuple):
    """What one span tells about its service: own time, gap to remote children, errors.

    A named tuple (immutable, like the frozen dataclass it replaces) so that a million of them
    can be built at C speed from the index columns.
    """

    span: Span
    parent_service: str | None
    self_ms: float
    gap_ms: float
    is_entry: bool
    remote_children: tuple[str, ...]
    error_origin: bool


@dataclass
class SpanIndex:
    """Spans of many traces, linked to their parents and children, with anomalies of the input noted.

    `starts` holds each fact's span start as epoch seconds (same order as `facts`), so that the
    analyses need not convert datetimes again; it is filled by `index_spans` and recomputed when
    it does not match `facts` (an index built by hand). The analyses run on numpy columns of the
    facts (`span_columns`), built by `index_spans` or derived from the facts, cached in `_cache`.
    """

    facts: list[SpanFacts] = field(default_factory=list)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)


def fact_starts(index: SpanIndex) -> list[float]:
    """Epoch seconds of each fact's span start, aligned with `index.facts`."""
    if len(index.starts) != len(index.facts):
        index.starts = [f.span.start.timestamp() for f in index.facts]
    return index.starts


def index_spans(spans: Iterable[Span]) -> SpanIndex:
    """Link spans into trees and compute per-span facts, caller->callee edge counts and columns.

    Bad input never raises: spans whose parent is missing are treated as roots, duplicate
    span ids keep the first span, and both are reported in `notes`. The cyclic garbage
    collector is paused while the (acyclic) per-span objects are built, and restored after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _index_spans(list(spans))
    finally:
        if was_enabled:
            gc.enable()


_FIELDS = operator.attrgetter("trace_id", "span_id", "parent_span_id", "service", "operation", "start", "duration_ms", "status")


def _index_spans(spans: list[Span]) -> SpanIndex:
    index = SpanIndex()
    n = len(spans)
    cols = list(zip(*map(_FIELDS, spans))) if n else [()] * 8
    tids, sids = cols[0], cols[1]
    keys = list(zip(tids, sids))
    first = dict(zip(reversed(keys), range(n - 1, -1, -1)))  # key -> first position
    duplicates = n - len(first)
    if duplicates:
        kept = sorted(first.values())
        spans = [spans[i] for i in kept]
        cols = [[c[i] for i in kept] for c in cols]
        keys = [keys[i] for i in kept]
        n = len(kept)
        first = dict(zip(keys, range(n)))
    tids, _sids, psids, svcs, ops, starts, durs, stats = cols
    t = np.fromiter(map(datetime.timestamp, starts), dtype=float, count=n)
    dur = np.fromiter(durs, dtype=float, count=n)
    service, services = codes_of(svcs)
    group, groups = codes_of(list(zip(svcs, ops)))
    error = bool_array(map(operator.eq, stats, repeat("ERROR")), n)
    has_psid = bool_array(map(operator.is_not, psids, repeat(None)), n)
    linked = np.fromiter(map(first.get, zip(tids, psids), repeat(-1)), dtype=np.int64, count=n)
    idx = np.arange(n)
    own = linked == idx
    missing_parent = int(np.count_nonzero(has_psid & (own | (linked < 0))))
    linked[own] = -1
    # Children (of any service), grouped by parent in input order.
    kid = np.flatnonzero(linked >= 0)
    kid = kid[np.argsort(linked[kid], kind="stable")]
    kp = linked[kid]
    p0 = t[kp] * 1000.0
    c0 = t[kid] * 1000.0
    covered = covered_ms(kp, p0, p0 + dur[kp], c0, c0 + dur[kid], n)
    remote_kid = service[kid] != service[kp]
    n_kids = np.bincount(kp, minlength=n)
    n_remote = np.bincount(kp[remote_kid], minlength=n)
    kid_error = np.bincount(kp[error[kid]], minlength=n) > 0
    x = dur - covered
    own_ms = np.where(x > 0.0, x, 0.0)
    gap = np.where((n_remote > 0) & (n_remote == n_kids), own_ms, 0.0)
    self_ms = np.where(gap != 0.0, 0.0, own_ms)
    # The parent for entry/edge purposes (a parent id that is empty does not count).
    parent = np.where(bool_array(map(bool, psids), n), linked, -1)
    has_parent = parent >= 0
    psvc = np.where(has_parent, service[parent], -1)
    is_entry = ~has_parent | (psvc != service)
    error_origin = error & ~kid_error
    calls_fact, calls_callee = kp[remote_kid], service[kid[remote_kid]]
    pairs_fact, pairs_callee = distinct_pairs(calls_fact, calls_callee, services)
    index.edges = _edge_counts(psvc[has_parent & is_entry], service[has_parent & is_entry], services)
    columns = SpanColumns(
        start=t, duration=dur, service=service, services=services, group=group, groups=groups,
        status_set=bool_array(map(operator.is_not, stats, repeat(None)), n), error=error,
        self_ms=self_ms, gap_ms=gap, is_entry=is_entry, error_origin=error_origin, has_remote=n_remote > 0,
        calls_fact=calls_fact, calls_callee=calls_callee, pairs_fact=pairs_fact, pairs_callee=pairs_callee,
        entry=resolve_entries(is_entry, parent), keys=keys, key_fact=idx,
    )
    _build_facts(index, spans, columns, psvc)
    index.starts = t.tolist()
    index._cache["columns"] = ((id(index.facts), len(index.facts)), columns)
    if duplicates:
        index.notes.append(f"{duplicates} spans repeat a span id already seen in their trace; the first one is kept")
    if missing_parent:
        index.notes.append(f"{missing_parent} spans name a parent span that is not in the data (or themselves); they are treated as roots")
    return index


def _edge_counts(callers: np.ndarray, callees: np.ndarray, services: list[str]) -> dict[tuple[str, str], int]:
    """{(caller, callee): count} in order of first occurrence."""
    if len(callers) == 0:
        return {}
    code = callers * len(services) + callees
    uniq, first, counts = np.unique(code, return_index=True, return_counts=True)
    order = np.argsort(first)
    ns = len(services)
    return {(services[int(c) // ns], services[int(c) % ns]): int(k) for c, k in zip(uniq[order].tolist(), counts[order].tolist())}


def _build_facts(index: SpanIndex, spans: list[Span], cols: SpanColumns, psvc: np.ndarray) -> None:
    """Fill `index.facts` with one SpanFacts per span from the columns."""
    n = len(spans)
    names = cols.services
    remote: list[tuple[str, ...]] = [()] * n
    if len(cols.calls_fact):
        flat = [names[c] for c in cols.calls_callee.tolist()]
        starts, ends = segment_bounds(cols.calls_fact)
        for p, a, b in zip(cols.calls_fact[starts].tolist(), starts.tolist(), ends.tolist()):
            remote[p] = tuple(flat[a:b])
    pnames = [None if c < 0 else names[c] for c in psvc.tolist()]
    rows = zip(spans, pnames, cols.self_ms.tolist(), cols.gap_ms.tolist(), cols.is_entry.tolist(), remote, cols.error_origin.tolist())
    index.facts.extend(map(tuple.__new__, repeat(SpanFacts), rows))


def span_columns(index: SpanIndex) -> SpanColumns:
    """The index as numpy columns (built by `index_spans`, else derived from the facts); cached."""
    return _cached(index, "columns", lambda: columns_from_facts(index.facts, fact_starts(index)))


def facts_by_key(index: SpanIndex) -> dict[tuple[str, str], SpanFacts]:
    """{(trace_id, span_id): facts} of the index (a later fact wins a repeated key); cached on the index."""
    return _cached(index, "by_key", lambda: {(f.span.trace_id, f.span.span_id): f for f in index.facts})


def _cached(index: SpanIndex, name: str, build):
    """A value derived from `index.facts`, rebuilt when the facts list is replaced or changes length."""
    stamp = (id(index.facts), len(index.facts))
    hit = index._cache.get(name)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    value = build()
    index._cache[name] = (stamp, value)
    return value


def entry_call_sequences(index: SpanIndex) -> dict[tuple[str, str], tuple[str, ...]]:
    """For every entry span (the first span of a service in a request), the remote services it
    called while serving that request, in call order: {(trace_id, span_id): (callee, ...)}.

    The result is cached on the index and shared between callers: do not modify it.
    """
    return _cached(index, "entry_calls", lambda: _entry_call_sequences(index))


def entry_calls(index: SpanIndex) -> EntryCalls:
    """The requests' remote calls as arrays (what `entry_call_sequences` spells out); cached."""
    return _cached(index, "entry_call_arrays", lambda: entry_calls_of(span_columns(index)))


def _entry_call_sequences(index: SpanIndex) -> dict[tuple[str, str], tuple[str, ...]]:
    ec = entry_calls(index)
    cols = span_columns(index)
    keys = cols.keys
    out = dict.fromkeys([keys[i] for i in ec.rows.tolist()], ())
    names = cols.services
    flat = [names[c] for c in ec.callee.tolist()]
    starts, ends = segment_bounds(ec.entry)
    for e, a, b in zip(ec.entry[starts].tolist(), starts.tolist(), ends.tolist()):
        out[keys[e]] = tuple(flat[a:b])
    return out


def span_index_of(sources: object) -> SpanIndex:
    """The span index of a data source: its own `span_index` when it keeps one (a case folder
    indexes its spans once for every agent), else built from its `spans`."""
    own = getattr(sources, "span_index", None)
    if isinstance(own, SpanIndex):
        return own
    return index_spans(getattr(sources, "spans", None) or [])
