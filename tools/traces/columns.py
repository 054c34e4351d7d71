"""Column arrays (numpy) of a span index, so that the analyses run vectorised, not per span object.

The arithmetic mirrors the per-span code it replaces operation for operation (same IEEE
operations in the same order, sequential sums where Python summed sequentially), so the
results are bit-identical to computing span by span.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

_EMPTY_I = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class SpanColumns:
    """Per-fact arrays (aligned with `SpanIndex.facts`) plus the remote calls made by each fact.

    Codes index `services` / `groups` (first-appearance order). `calls_*` list every remote call
    (with repeats, in child order); `pairs_*` the distinct callees per fact, sorted by name.
    `entry` is the fact whose request-serving a fact belongs to (-1 for facts not counted:
    repeated keys of a hand-built index); `parent` the fact of the parent span (-1: a root, or a
    parent not in the data); `trace` codes index `traces`. `keys` are the (trace_id, span_id) of
    the facts, spelled out on access only.
    """

    start: np.ndarray
    duration: np.ndarray
    service: np.ndarray
    services: list[str]
    group: np.ndarray
    groups: list[tuple[str, str]]
    status_set: np.ndarray
    error: np.ndarray
    self_ms: np.ndarray
    gap_ms: np.ndarray
    is_entry: np.ndarray
    error_origin: np.ndarray
    has_remote: np.ndarray
    calls_fact: np.ndarray
    calls_callee: np.ndarray
    pairs_fact: np.ndarray
    pairs_callee: np.ndarray
    entry: np.ndarray
    keys: Sequence[tuple[str, str]]
    key_fact: np.ndarray
    parent: np.ndarray
    trace: np.ndarray
    traces: list[str]


class SpanKeys(Sequence):
    """(trace_id, span_id) per fact, built from codes when asked (a million tuples cost ~150 MB)."""

    def __init__(self, trace: np.ndarray, traces: list[str], span_ids: list[str]):
        self._trace, self._traces, self._span_ids = trace, traces, span_ids

    def __len__(self) -> int:
        return len(self._trace)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self._traces[int(self._trace[i])], self._span_ids[i]


def codes_of(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(int64 code per value, distinct values in first-appearance order)."""
    names = list(dict.fromkeys(values))
    code = {v: i for i, v in enumerate(names)}
    return np.fromiter(map(code.__getitem__, values), dtype=np.int64, count=len(values)), names


def bool_array(values: Any, n: int) -> np.ndarray:
    """A bool array from an iterable of n truth values."""
    return np.fromiter(values, dtype=bool, count=n)


def log1p_list(values: np.ndarray) -> np.ndarray:
    """math.log1p(max(v, 0.0)) per value (libm's log1p, as the per-span code used, not numpy's)."""
    clipped = np.where(0.0 > values, 0.0, values)
    return np.fromiter(map(math.log1p, clipped.tolist()), dtype=float, count=len(values))


def segment_bounds(sorted_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of equal values in a sorted code array."""
    n = len(sorted_codes)
    if n == 0:
        return _EMPTY_I, _EMPTY_I
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return starts, np.r_[starts[1:], n]


def covered_ms(parent: np.ndarray, p0: np.ndarray, p1: np.ndarray, c0: np.ndarray, c1: np.ndarray, n: int) -> np.ndarray:
    """Per fact, the union length of its children's intervals clipped to its own [p0, p1].

    `parent` (sorted, stable) names each child's parent; unions are summed block by block in
    start order, exactly as the sequential merge does.
    """
    covered = np.zeros(n)
    a = np.where(c0 > p0, c0, p0)
    b = np.where(c1 < p1, c1, p1)
    ok = b > a
    gp, a, b = parent[ok], a[ok], b[ok]
    m = len(gp)
    if m == 0:
        return covered
    order = np.lexsort((b, a, gp))
    gp, a, b = gp[order], a[order], b[order]
    # Running max of b within each parent, exactly: on ranks of b offset by the parent.
    by_rank = np.argsort(b, kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[by_rank] = np.arange(m)
    base = gp.astype(np.int64) * m
    run = b[by_rank[np.maximum.accumulate(base + rank) - base]]
    first = np.r_[True, gp[1:] != gp[:-1]]
    new_block = first.copy()
    new_block[1:] |= a[1:] > run[:-1]
    bstart = np.flatnonzero(new_block)
    bend = np.r_[bstart[1:], m] - 1
    length = run[bend] - a[bstart]
    bparent = gp[bstart]
    # Sequential sum per parent: add the j-th block of every parent at step j.
    gstart = np.flatnonzero(first)
    block_of_gstart = np.searchsorted(bstart, gstart)
    brank = np.arange(len(bstart)) - np.repeat(block_of_gstart, np.diff(np.r_[block_of_gstart, len(bstart)]))
    by_brank = np.argsort(brank, kind="stable")
    cuts = np.searchsorted(brank[by_brank], np.arange(int(brank.max()) + 2))
    for j in range(len(cuts) - 1):
        sel = by_brank[cuts[j]:cuts[j + 1]]
        covered[bparent[sel]] += length[sel]
    return covered


def distinct_pairs(calls_fact: np.ndarray, calls_callee: np.ndarray, services: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (fact, callee) pairs, by fact then callee name."""
    if len(calls_fact) == 0:
        return _EMPTY_I, _EMPTY_I
    order = np.lexsort((name_ranks(services)[calls_callee], calls_fact))
    f, c = calls_fact[order], calls_callee[order]
    keep = np.r_[True, (f[1:] != f[:-1]) | (c[1:] != c[:-1])]
    return f[keep], c[keep]


def resolve_entries(is_entry: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Per fact, the entry fact reached by walking up same-service parents (`parent` -1 = none).

    Pointer jumping; facts on a parent cycle that never reaches an entry are their own entry.
    """
    n = len(is_entry)
    idx = np.arange(n)
    up = np.where(is_entry | (parent < 0), idx, parent)
    for _ in range(max(1, n).bit_length() + 1):
        nxt = up[up]
        if np.array_equal(nxt, up):
            return up
        up = nxt
    stuck = up[up] != up
    up[stuck] = idx[stuck]
    return up


@dataclass(frozen=True, eq=False)
class EntryCalls:
    """The remote calls made while serving each request (entry fact), as arrays.

    `rows`: the entry facts that have a call sequence, in the order a sequential pass over the
    facts first touches them. `entry`/`callee`: every call of a live fact, grouped by entry
    (ascending) and, within one entry, in call order (caller start, then callee name).
    """

    rows: np.ndarray
    entry: np.ndarray
    callee: np.ndarray


def name_ranks(names: list[str]) -> np.ndarray:
    """Rank of each name in sorted order (so that codes sort like the names)."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank


def entry_calls_of(cols: SpanColumns) -> EntryCalls:
    """The per-request call sequences of the columns (see EntryCalls)."""
    n = len(cols.entry)
    live = cols.entry >= 0
    # A request is listed from the first fact that touches it: the entry itself, or a fact of
    # the request that calls out (spans need not come parent first).
    touch = np.full(n, n, dtype=np.int64)
    own = np.flatnonzero(cols.is_entry & live)
    touch[own] = own
    callers = np.flatnonzero(cols.has_remote & live)
    np.minimum.at(touch, cols.entry[callers], callers)
    rows = np.flatnonzero(touch < n)
    rows = rows[np.argsort(touch[rows], kind="stable")]
    ok = live[cols.calls_fact]
    cf, cc = cols.calls_fact[ok], cols.calls_callee[ok]
    ent = cols.entry[cf]
    order = np.lexsort((name_ranks(cols.services)[cc], cols.start[cf], ent))
    return EntryCalls(rows=rows, entry=ent[order], callee=cc[order])


def columns_from_facts(facts: Sequence[Any], starts: Sequence[float]) -> SpanColumns:
    """Columns of a hand-built index (facts not made by `index_spans`); slower but general."""
    n = len(facts)
    spans = [f.span for f in facts]
    keys = [(s.trace_id, s.span_id) for s in spans]
    last = {k: i for i, k in enumerate(keys)}  # a later fact wins a repeated key
    key_fact = np.fromiter(map(last.__getitem__, keys), dtype=np.int64, count=n)
    trace, traces = codes_of([k[0] for k in keys])
    service, services = codes_of([s.service for s in spans])
    group, groups = codes_of([(s.service, s.operation) for s in spans])
    remote = [f.remote_children for f in facts]
    code = {v: i for i, v in enumerate(services)}
    for rc in remote:
        for c in rc:
            if c not in code:
                code[c] = len(services)
                services.append(c)
    lens = np.fromiter(map(len, remote), dtype=np.int64, count=n)
    calls_fact = np.repeat(np.arange(n), lens)
    calls_callee = np.fromiter((code[c] for rc in remote for c in rc), dtype=np.int64, count=int(lens.sum()))
    is_entry = bool_array((f.is_entry for f in facts), n)
    parent = np.fromiter(
        (last.get((s.trace_id, s.parent_span_id), -1) if s.parent_span_id else -1 for s in spans), dtype=np.int64, count=n
    )
    parent = np.where(parent == key_fact, -1, parent)
    live = key_fact == np.arange(n)
    entry = np.where(live, resolve_entries(is_entry, parent), -1)
    pf, pc = distinct_pairs(calls_fact, calls_callee, services)
    stats = [s.status for s in spans]
    return SpanColumns(
        start=np.asarray(starts, dtype=float),
        duration=np.fromiter((s.duration_ms for s in spans), dtype=float, count=n),
        service=service, services=services, group=group, groups=groups,
        status_set=bool_array(map(operator.is_not, stats, repeat(None)), n),
        error=bool_array(map(operator.eq, stats, repeat("ERROR")), n),
        self_ms=np.fromiter((f.self_ms for f in facts), dtype=float, count=n),
        gap_ms=np.fromiter((f.gap_ms for f in facts), dtype=float, count=n),
        is_entry=is_entry,
        error_origin=bool_array((bool(f.error_origin) for f in facts), n),
        has_remote=lens > 0,
        calls_fact=calls_fact, calls_callee=calls_callee, pairs_fact=pf, pairs_callee=pc,
        entry=entry, keys=keys, key_fact=key_fact, parent=parent, trace=trace, traces=traces,
    )
