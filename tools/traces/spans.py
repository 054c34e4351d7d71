"""Span-tree analysis: self time, network gaps, call edges and error origin, per trace.

A span's *self time* is its duration minus the time covered by its children. When a span's
children run in another service (a client span calling a server span), the uncovered time is
the *gap* of that call (network and queueing), which belongs to the call edge, not to the
caller's own code. Keeping the two apart stops network delay from being blamed on the caller.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable
from itertools import repeat
from typing import NamedTuple

import numpy as np

from lumos.tools.domain import Span
from lumos.tools.traces.columns import (
    EntryCalls,
    SpanColumns,
    SpanKeys,
    columns_from_facts,
    covered_ms,
    distinct_pairs,
    entry_calls_of,
    resolve_entries,
    segment_bounds,
)
from lumos.tools.traces.table import SpanTable, table_from_spans


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


class SpanIndex:
    """Spans of many traces, linked to their parents and children, with anomalies of the input noted.

    The analyses run on numpy columns (`span_columns`). An index made by `index_spans` or
    `index_table` holds the columns and builds the per-span `facts` only when something asks for
    them; an index built by hand from `facts` derives its columns from them. Derived values are
    cached in `_cache`.
    """

    def __init__(self, facts: list[SpanFacts] | None = None, edges: dict[tuple[str, str], int] | None = None,
                 notes: list[str] | None = None, *, columns: SpanColumns | None = None, table: SpanTable | None = None,
                 spans: list[Span] | None = None):
        self.edges: dict[tuple[str, str], int] = {} if edges is None else edges
        self.notes: list[str] = [] if notes is None else notes
        self._facts = [] if facts is None and columns is None else facts
        self._columns = columns
        self._table = table  # the indexed rows (for facts without span objects)
        self._spans = spans  # or the indexed span objects
        self._cache: dict = {}

    @property
    def facts(self) -> list[SpanFacts]:
        """One SpanFacts per indexed span (built on first use for a column-backed index)."""
        if self._facts is None:
            cols = self._columns
            spans = self._spans if self._spans is not None else self._table.spans() if self._table is not None else []
            self._facts = _facts_of(spans, cols)
        return self._facts

    def __len__(self) -> int:
        return len(self._columns.start) if self._columns is not None else len(self.facts)

    def __repr__(self) -> str:
        return f"SpanIndex({len(self)} spans, {len(self.edges)} edges, notes={self.notes!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpanIndex) and (self.facts, self.edges, self.notes) == (other.facts, other.edges, other.notes)

    __hash__ = None  # type: ignore[assignment]


def index_spans(spans: Iterable[Span]) -> SpanIndex:
    """Link spans into trees and compute per-span facts, caller->callee edge counts and columns.

    Bad input never raises: spans whose parent is missing are treated as roots, duplicate
    span ids keep the first span, and both are reported in `notes`.
    """
    objects = list(spans)
    return index_table(table_from_spans(objects), objects)


def index_table(table: SpanTable, spans: list[Span] | None = None) -> SpanIndex:
    """`index_spans` of a span table (rows in the table's order); `spans`, when given, are the
    same rows as objects (kept for `facts`)."""
    try:
        kept, linked = _link(table, table.key, table.parent_key)
    except _Collision:
        exact: dict = {}
        tids = [table.traces[c] for c in table.trace.tolist()]
        key = np.fromiter(map(exact.setdefault, zip(tids, table.span_id), itertools.count()), dtype=np.int64, count=len(tids))
        pkey = np.fromiter(map(exact.get, zip(tids, table.parent_id), repeat(-1)), dtype=np.int64, count=len(tids))
        kept, linked = _link(table, key, pkey)
    n = len(table)
    duplicates = n - len(kept)
    if duplicates:
        table = table.take(kept)
        if spans is not None:
            spans = [spans[i] for i in kept.tolist()]
        n = len(kept)
    has_psid = table.has_parent
    t, dur = table.start, table.duration
    service, services = _first_appearance(table.service, table.names)
    width = max(len(table.names), 1)
    group, group_keys = _first_appearance(service * width + table.operation, None)
    groups = [(services[k // width], table.names[k % width]) for k in group_keys]
    error = table.status == 2
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
    # An empty parent id links only when some span has an empty id (then it names no parent).
    if "" in table.span_id:
        empty = np.fromiter(map(operator.eq, table.parent_id, repeat("")), dtype=bool, count=n)
        parent = np.where(has_psid & ~empty, linked, -1)
    else:
        parent = linked.copy()
    has_parent = parent >= 0
    psvc = np.where(has_parent, service[parent], -1)
    is_entry = ~has_parent | (psvc != service)
    error_origin = error & ~kid_error
    calls_fact, calls_callee = kp[remote_kid], service[kid[remote_kid]]
    pairs_fact, pairs_callee = distinct_pairs(calls_fact, calls_callee, services)
    columns = SpanColumns(
        start=t, duration=dur, service=service, services=services, group=group, groups=groups,
        status_set=table.status != 0, error=error,
        self_ms=self_ms, gap_ms=gap, is_entry=is_entry, error_origin=error_origin, has_remote=n_remote > 0,
        calls_fact=calls_fact, calls_callee=calls_callee, pairs_fact=pairs_fact, pairs_callee=pairs_callee,
        entry=resolve_entries(is_entry, parent), keys=SpanKeys(table.trace, table.traces, table.span_id), key_fact=idx,
        parent=parent, trace=table.trace, traces=table.traces,
    )
    index = SpanIndex(edges=_edge_counts(psvc[has_parent & is_entry], service[has_parent & is_entry], services), columns=columns,
                      table=table if spans is None else None, spans=spans)
    if duplicates:
        index.notes.append(f"{duplicates} spans repeat a span id already seen in their trace; the first one is kept")
    if missing_parent:
        index.notes.append(f"{missing_parent} spans name a parent span that is not in the data (or themselves); they are treated as roots")
    return index


class _Collision(Exception):
    """Two different (trace, span id) pairs share a hash key."""


def _link(table: SpanTable, key: np.ndarray, pkey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept: the first of each repeated span id, each kept row's parent among the kept rows
    or -1), matching rows by `key`/`pkey`; every match is checked on the strings (_Collision if not)."""
    n = len(key)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    new_run = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    firsts = order[new_run]  # stable: the earliest row of each key
    unique_keys = sorted_key[new_run]
    if len(firsts) < n:
        _check(table, firsts[np.cumsum(new_run)[~new_run] - 1], order[~new_run], table.span_id)
    kept = np.sort(firsts)
    position = np.full(n, -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    pk = pkey[kept]
    at = np.minimum(np.searchsorted(unique_keys, pk), len(unique_keys) - 1)
    linked = np.where(table.has_parent[kept] & (unique_keys[at] == pk), position[firsts[at]], -1)
    child = np.flatnonzero(linked >= 0)
    _check(table, kept[linked[child]], kept[child], table.parent_id)
    return kept, linked


def _check(table: SpanTable, rows: np.ndarray, others: np.ndarray, other_ids: list) -> None:
    """Raise _Collision unless every row in `rows` has the trace and span id of its `others` row
    (span id compared with `other_ids` of the other row)."""
    if len(rows) == 0:
        return
    same = np.array_equal(table.trace[rows], table.trace[others]) and all(
        map(operator.eq, map(table.span_id.__getitem__, rows.tolist()), map(other_ids.__getitem__, others.tolist())))
    if not same:
        raise _Collision


def _first_appearance(codes: np.ndarray, names: list | None) -> tuple[np.ndarray, list]:
    """Codes renumbered in order of first appearance, and the names (or the old codes) in that order."""
    n = len(codes)
    if n == 0:
        return codes.astype(np.int64), []
    size = int(codes.max()) + 1
    if size <= 4 * n + 1024:  # dense codes: a table instead of a sort
        first = np.full(size, n, dtype=np.int64)
        np.minimum.at(first, codes, np.arange(n))
        present = np.flatnonzero(first < n)
        olds = present[np.argsort(first[present])]
        rank = np.empty(size, dtype=np.int64)
        rank[olds] = np.arange(len(olds))
        new = rank[codes]
    else:
        uniq, firsts, inverse = np.unique(codes, return_index=True, return_inverse=True)
        order = np.argsort(firsts)
        rank = np.empty(len(uniq), dtype=np.int64)
        rank[order] = np.arange(len(uniq))
        olds = uniq[order]
        new = rank[inverse.reshape(-1)]
    old_list = olds.tolist()
    return new, [names[c] for c in old_list] if names is not None else old_list


def _edge_counts(callers: np.ndarray, callees: np.ndarray, services: list[str]) -> dict[tuple[str, str], int]:
    """{(caller, callee): count} in order of first occurrence."""
    if len(callers) == 0:
        return {}
    code = callers * len(services) + callees
    uniq, first, counts = np.unique(code, return_index=True, return_counts=True)
    order = np.argsort(first)
    ns = len(services)
    return {(services[int(c) // ns], services[int(c) % ns]): int(k) for c, k in zip(uniq[order].tolist(), counts[order].tolist())}


def _facts_of(spans: list[Span], cols: SpanColumns) -> list[SpanFacts]:
    """One SpanFacts per span from the columns."""
    n = len(spans)
    names = cols.services
    remote: list[tuple[str, ...]] = [()] * n
    if len(cols.calls_fact):
        flat = [names[c] for c in cols.calls_callee.tolist()]
        starts, ends = segment_bounds(cols.calls_fact)
        for p, a, b in zip(cols.calls_fact[starts].tolist(), starts.tolist(), ends.tolist()):
            remote[p] = tuple(flat[a:b])
    has_parent = cols.parent >= 0
    psvc = np.where(has_parent, cols.service[np.where(has_parent, cols.parent, 0)], -1) if n else cols.parent
    pnames = [None if c < 0 else names[c] for c in psvc.tolist()]
    rows = zip(spans, pnames, cols.self_ms.tolist(), cols.gap_ms.tolist(), cols.is_entry.tolist(), remote, cols.error_origin.tolist())
    return list(map(tuple.__new__, repeat(SpanFacts), rows))


def span_columns(index: SpanIndex) -> SpanColumns:
    """The index as numpy columns (built by `index_spans`, else derived from the facts); cached."""
    if index._columns is not None:
        return index._columns
    return _cached(index, "columns", lambda: columns_from_facts(index.facts, [f.span.start.timestamp() for f in index.facts]))


def span_services(index: SpanIndex) -> list[str]:
    """The services that have spans in the index, sorted."""
    cols = span_columns(index)
    return sorted(cols.services[c] for c in np.unique(cols.service).tolist())


def facts_by_key(index: SpanIndex) -> dict[tuple[str, str], SpanFacts]:
    """{(trace_id, span_id): facts} of the index (a later fact wins a repeated key); cached on the index."""
    return _cached(index, "by_key", lambda: {(f.span.trace_id, f.span.span_id): f for f in index.facts})


def _cached(index: SpanIndex, name: str, build):
    """A value derived from the index, rebuilt (for an index built from facts) when the facts list
    is replaced or changes length."""
    stamp = ("columns",) if index._columns is not None else (id(index.facts), len(index.facts))
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
