"""Span-tree analysis: self time, network gaps, call edges and error origin, per trace.

A span's *self time* is its duration minus the time covered by its children. When a span's
children run in another service (a client span calling a server span), the uncovered time is
the *gap* of that call (network and queueing), which belongs to the call edge, not to the
caller's own code. Keeping the two apart stops network delay from being blamed on the caller.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lumos.tools.domain import Span


@dataclass(frozen=True)
class SpanFacts:
    """What one span tells about its service: own time, gap to remote children, errors."""

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
    it does not match `facts` (an index built by hand).
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


def _covered_ms(parent: Span, children: Sequence[Span]) -> float:
    """Milliseconds of `parent` covered by the union of its children's intervals (clipped to the parent)."""
    if not children:
        return 0.0
    p0 = parent.start.timestamp() * 1000.0
    return _covered(p0, p0 + parent.duration_ms, [(c.start.timestamp() * 1000.0, c.duration_ms) for c in children])


def _covered(p0: float, p1: float, kids: Sequence[tuple[float, float]]) -> float:
    """Union length of the (start_ms, duration_ms) intervals clipped to [p0, p1]; `kids` is not empty."""
    if len(kids) == 1:
        c0, d = kids[0]
        a, b = max(p0, c0), min(p1, c0 + d)
        return b - a if b > a else 0.0
    intervals = sorted((max(p0, c0), min(p1, c0 + d)) for c0, d in kids)
    total = 0.0
    cur0, cur1 = None, None
    for a, b in intervals:
        if b <= a:
            continue
        if cur1 is None or a > cur1:
            if cur1 is not None:
                total += cur1 - cur0
            cur0, cur1 = a, b
        else:
            cur1 = max(cur1, b)
    if cur1 is not None:
        total += cur1 - cur0
    return total


def index_spans(spans: Iterable[Span]) -> SpanIndex:
    """Link spans into trees and compute per-span facts and caller->callee edge counts.

    Bad input never raises: spans whose parent is missing are treated as roots, duplicate
    span ids keep the first span, and both are reported in `notes`. The cyclic garbage
    collector is paused while the (acyclic) per-span objects are built, and restored after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _index_spans(spans)
    finally:
        if was_enabled:
            gc.enable()


def _index_spans(spans: Iterable[Span]) -> SpanIndex:
    by_id: dict[tuple[str, str], Span] = {}
    duplicates = 0
    for s in spans:
        key = (s.trace_id, s.span_id)
        if key in by_id:
            duplicates += 1
            continue
        by_id[key] = s
    # Epoch seconds of every span start, computed once; each child as (start_ms, duration_ms, service, status).
    secs: dict[tuple[str, str], float] = {}
    children: dict[tuple[str, str], list[tuple[float, float, str, str | None]]] = {}
    missing_parent = 0
    for key, s in by_id.items():
        t = s.start.timestamp()
        secs[key] = t
        psid = s.parent_span_id
        if psid is None:
            continue
        if psid == key[1]:
            missing_parent += 1
            continue
        pkey = (key[0], psid)
        if pkey in by_id:
            item = (t * 1000.0, s.duration_ms, s.service, s.status)
            kids = children.get(pkey)
            if kids is None:
                children[pkey] = [item]
            else:
                kids.append(item)
        else:
            missing_parent += 1
    index = SpanIndex()
    facts = index.facts
    starts = index.starts
    edges: dict[tuple[str, str], int] = defaultdict(int)
    by_key: dict[tuple[str, str], SpanFacts] = {}
    # SpanFacts(...) without the frozen dataclass __init__ (one object.__setattr__ per field):
    # the same object, built at half the cost.
    new_fact, set_attr = object.__new__, object.__setattr__
    get_parent = by_id.get
    get_kids = children.get
    for key, s in by_id.items():
        t = secs[key]
        psid = s.parent_span_id
        parent = get_parent((key[0], psid)) if psid else None
        if parent is not None and parent.span_id == s.span_id:
            parent = None
        svc = s.service
        dur = s.duration_ms
        kids = get_kids(key)
        if kids is None:
            own = max(0.0, dur - 0.0)
            gap = 0.0
            remote = ()
            kid_error = False
        else:
            p0 = t * 1000.0
            p1 = p0 + dur
            if len(kids) == 1:
                c0, d, csvc, cstatus = kids[0]
                a, b = max(p0, c0), min(p1, c0 + d)
                covered = b - a if b > a else 0.0
                remote = (csvc,) if csvc != svc else ()
                has_local = not remote
                kid_error = cstatus == "ERROR"
            else:
                covered = _covered(p0, p1, [(k[0], k[1]) for k in kids])
                remote = tuple([k[2] for k in kids if k[2] != svc])
                has_local = len(remote) < len(kids)
                kid_error = any([k[3] == "ERROR" for k in kids])
            own = max(0.0, dur - covered)
            # Time not covered by children in a span whose children are all remote is the call gap.
            gap = own if remote and not has_local else 0.0
        self_ms = 0.0 if gap else own
        if parent is None:
            pservice = None
            is_entry = True
        else:
            pservice = parent.service
            is_entry = pservice != svc
            if is_entry:
                edges[(pservice, svc)] += 1
        error_origin = s.status == "ERROR" and not kid_error
        fact = new_fact(SpanFacts)
        set_attr(fact, "__dict__", {
            "span": s, "parent_service": pservice, "self_ms": self_ms, "gap_ms": gap,
            "is_entry": is_entry, "remote_children": remote, "error_origin": error_origin,
        })
        facts.append(fact)
        starts.append(t)
        by_key[key] = fact
    index.edges = dict(edges)
    index._cache["by_key"] = ((id(facts), len(facts)), by_key)
    if duplicates:
        index.notes.append(f"{duplicates} spans repeat a span id already seen in their trace; the first one is kept")
    if missing_parent:
        index.notes.append(f"{missing_parent} spans name a parent span that is not in the data (or themselves); they are treated as roots")
    return index


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


def _entry_call_sequences(index: SpanIndex) -> dict[tuple[str, str], tuple[str, ...]]:
    by_key = facts_by_key(index)
    starts = fact_starts(index)
    if len(by_key) == len(index.facts):
        # Keys are unique: by_key holds exactly the facts, in their order.
        rows = (((f.span.trace_id, f.span.span_id), f, t) for f, t in zip(index.facts, starts))
    else:
        start_of = {(f.span.trace_id, f.span.span_id): t for f, t in zip(index.facts, starts)}
        rows = ((key, f, start_of[key]) for key, f in by_key.items())
    entry_of: dict[tuple[str, str], tuple[str, str]] = {}

    def find_entry(key: tuple[str, str]) -> tuple[str, str]:
        path: list[tuple[str, str]] = []
        cur = key
        while cur not in entry_of:
            f = by_key[cur]
            parent = (f.span.trace_id, f.span.parent_span_id) if f.span.parent_span_id else None
            if f.is_entry or parent is None or parent not in by_key or parent == cur:
                entry_of[cur] = cur
                break
            path.append(cur)
            cur = parent
        root = entry_of[cur]
        for p in path:
            entry_of[p] = root
        return root

    calls: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for key, f, t in rows:
        if f.is_entry:
            if key not in calls:
                calls[key] = []
            if not f.remote_children:
                continue
            entry = key  # what find_entry returns for an entry span
        elif f.remote_children:
            entry = find_entry(key)
        else:
            continue
        lst = calls.get(entry)
        if lst is None:
            lst = calls[entry] = []
        lst.extend([(t, callee) for callee in f.remote_children])
    return {k: tuple([c for _, c in sorted(v)]) if len(v) > 1 else tuple([c for _, c in v]) for k, v in calls.items()}
