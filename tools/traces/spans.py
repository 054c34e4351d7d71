"""Span-tree analysis: self time, network gaps, call edges and error origin, per trace.

A span's *self time* is its duration minus the time covered by its children. When a span's
children run in another service (a client span calling a server span), the uncovered time is
the *gap* of that call (network and queueing), which belongs to the call edge, not to the
caller's own code. Keeping the two apart stops network delay from being blamed on the caller.
"""

from __future__ import annotations

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
    """Spans of many traces, linked to their parents and children, with anomalies of the input noted."""

    facts: list[SpanFacts] = field(default_factory=list)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _covered_ms(parent: Span, children: Sequence[Span]) -> float:
    """Milliseconds of `parent` covered by the union of its children's intervals (clipped to the parent)."""
    if not children:
        return 0.0
    p0 = parent.start.timestamp() * 1000.0
    p1 = p0 + parent.duration_ms
    intervals = sorted(
        (max(p0, c.start.timestamp() * 1000.0), min(p1, c.start.timestamp() * 1000.0 + c.duration_ms)) for c in children
    )
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
    span ids keep the first span, and both are reported in `notes`.
    """
    by_id: dict[tuple[str, str], Span] = {}
    duplicates = 0
    for s in spans:
        key = (s.trace_id, s.span_id)
        if key in by_id:
            duplicates += 1
            continue
        by_id[key] = s
    children: dict[tuple[str, str], list[Span]] = defaultdict(list)
    missing_parent = 0
    for s in by_id.values():
        if s.parent_span_id is None:
            continue
        pkey = (s.trace_id, s.parent_span_id)
        if pkey == (s.trace_id, s.span_id):
            missing_parent += 1
            continue
        if pkey in by_id:
            children[pkey].append(s)
        else:
            missing_parent += 1
    index = SpanIndex()
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for key, s in by_id.items():
        parent = by_id.get((s.trace_id, s.parent_span_id)) if s.parent_span_id else None
        if parent is not None and parent.span_id == s.span_id:
            parent = None
        kids = children.get(key, [])
        local = [c for c in kids if c.service == s.service]
        remote = [c for c in kids if c.service != s.service]
        own = max(0.0, s.duration_ms - _covered_ms(s, kids))
        # Time not covered by children in a span whose children are all remote is the call gap.
        gap = own if remote and not local else 0.0
        self_ms = 0.0 if gap else own
        is_entry = parent is None or parent.service != s.service
        if parent is not None and parent.service != s.service:
            edges[(parent.service, s.service)] += 1
        error_origin = s.status == "ERROR" and not any(c.status == "ERROR" for c in kids)
        index.facts.append(
            SpanFacts(
                span=s,
                parent_service=parent.service if parent is not None else None,
                self_ms=self_ms,
                gap_ms=gap,
                is_entry=is_entry,
                remote_children=tuple(c.service for c in remote),
                error_origin=error_origin,
            )
        )
    index.edges = dict(edges)
    if duplicates:
        index.notes.append(f"{duplicates} spans repeat a span id already seen in their trace; the first one is kept")
    if missing_parent:
        index.notes.append(f"{missing_parent} spans name a parent span that is not in the data (or themselves); they are treated as roots")
    return index


def entry_call_sequences(index: SpanIndex) -> dict[tuple[str, str], tuple[str, ...]]:
    """For every entry span (the first span of a service in a request), the remote services it
    called while serving that request, in call order: {(trace_id, span_id): (callee, ...)}.
    """
    by_key = {(f.span.trace_id, f.span.span_id): f for f in index.facts}
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

    calls: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for key, f in by_key.items():
        if f.is_entry:
            calls.setdefault(key, [])
        if f.remote_children:
            entry = find_entry(key)
            t = f.span.start.timestamp()
            calls[entry].extend((t, callee) for callee in f.remote_children)
    return {k: tuple(c for _, c in sorted(v)) for k, v in calls.items()}
