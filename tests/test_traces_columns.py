"""The vectorised (numpy column) span analyses: exact arithmetic, bad input, hand-built indexes."""

import random
from datetime import datetime, timedelta, timezone

import numpy as np

from lumos.tools.domain import Span
from lumos.tools.traces.columns import covered_ms, log1p_list, resolve_entries
from lumos.tools.traces.compare import _shift_sorted, compare_spans, gap_outliers, robust_shift
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.patterns import truncation_blame
from lumos.tools.traces.spans import SpanIndex, entry_call_sequences, facts_by_key, index_spans

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _span(tid, sid, parent, service, at_s, ms, status="OK", op="op"):
    return Span.model_construct(
        trace_id=tid, span_id=sid, parent_span_id=parent, service=service, operation=op,
        start=T0 + timedelta(seconds=at_s), duration_ms=ms, status=status, instance=None,
    )


def _covered_reference(p0, p1, kids):
    """The sequential interval merge that covered_ms must reproduce bit for bit."""
    intervals = sorted((max(p0, c0), min(p1, c0 + d)) for c0, d in kids)
    total, cur0, cur1 = 0.0, None, None
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


def test_covered_ms_matches_the_sequential_merge_exactly():
    rng = random.Random(5)
    parents, p0s, p1s, c0s, c1s, expected = [], [], [], [], [], []
    for p in range(400):
        p0 = 1.7e12 + rng.random() * 1e6  # epoch milliseconds: rounding matters at this size
        dur = rng.choice([0.0, 5.0, rng.random() * 100])
        kids = []
        for _ in range(rng.choice([0, 1, 2, 3, 8, 30])):
            c0 = p0 + rng.choice([-5.0, 0.0, rng.random() * dur, dur])
            kids.append((c0, rng.choice([0.0, 1.0, rng.random() * dur])))
        kids += kids[:1]  # a repeated interval
        for c0, d in kids:
            parents.append(p)
            p0s.append(p0)
            p1s.append(p0 + dur)
            c0s.append(c0)
            c1s.append(c0 + d)
        expected.append(_covered_reference(p0, p0 + dur, kids) if kids else 0.0)
    got = covered_ms(np.array(parents), np.array(p0s), np.array(p1s), np.array(c0s), np.array(c1s), 400)
    assert got.tolist() == expected


def test_shift_of_sorted_groups_equals_robust_shift():
    rng = random.Random(2)
    for n_base, n_inc in [(1, 2), (3, 5), (4, 4), (50, 7), (200, 333)]:
        base = [rng.lognormvariate(1, 1) for _ in range(n_base)] + [0.0, -1.0][: n_base % 2]
        inc = [rng.lognormvariate(2, 1) for _ in range(n_inc)]
        b, i = np.sort(np.array(base)), np.sort(np.array(inc))
        assert _shift_sorted((b, log1p_list(b)), (i, log1p_list(i))) == robust_shift(base, inc)
    empty = np.zeros(0)
    assert _shift_sorted((empty, empty), (np.ones(3), np.ones(3))) is None


def test_empty_input_everywhere():
    idx = index_spans([])
    assert idx.facts == [] and idx.edges == {} and idx.notes == []
    assert compare_spans(idx, T0) == {}
    assert gap_outliers(idx, T0) == []
    assert truncation_blame(idx, T0) == {}
    assert entry_call_sequences(idx) == {}
    assert detect_onset(idx, earliest=T0, latest=T0 + timedelta(seconds=100)) == (None, 0.0)


def test_single_span_and_empty_windows():
    idx = index_spans([_span("t", "a", None, "A", 10, 7.5, "ERROR")])
    (f,) = idx.facts
    assert f.self_ms == 7.5 and f.gap_ms == 0.0 and f.is_entry and f.error_origin and f.parent_service is None
    assert entry_call_sequences(idx) == {("t", "a"): ()}
    before_all = compare_spans(idx, T0)  # everything is incident
    assert before_all["A"].spans_inc == 1 and before_all["A"].errors_inc == 1 and before_all["A"].self_time is None
    after_all = compare_spans(idx, T0 + timedelta(hours=1))
    assert after_all["A"].spans_base == 1 and after_all["A"].spans_inc == 0
    assert compare_spans(idx, T0, end=T0) == {}  # an empty window
    assert truncation_blame(idx, T0) == {} and gap_outliers(idx, T0) == []


def test_bad_parents_self_calls_and_duplicates():
    spans = [
        _span("t", "a", "a", "A", 1, 10),  # its own parent: a root
        _span("t", "b", "zz", "B", 1, 10),  # parent missing: a root
        _span("t", "c", "b", "B", 1.001, 4),  # self-call (same service): not an entry
        _span("t", "d", "c", "C", 1.002, 2, "ERROR"),
        _span("t", "c", None, "X", 1, 99),  # repeats (t, c): dropped
    ]
    idx = index_spans(spans)
    facts = facts_by_key(idx)
    assert len(idx.facts) == 4 and facts[("t", "c")].span.service == "B"
    assert facts[("t", "a")].is_entry and facts[("t", "b")].is_entry and not facts[("t", "c")].is_entry
    assert facts[("t", "c")].remote_children == ("C",) and facts[("t", "c")].gap_ms == 2.0
    assert not facts[("t", "c")].error_origin and facts[("t", "d")].error_origin
    assert idx.edges == {("B", "C"): 1}
    assert "2 spans name a parent" in " ".join(idx.notes) and "1 spans repeat" in " ".join(idx.notes)
    assert entry_call_sequences(idx) == {("t", "a"): (), ("t", "b"): ("C",), ("t", "d"): ()}


def test_parent_cycles_terminate():
    # a <-> b in the same service, with a remote child: no walk up ever reaches an entry.
    spans = [_span("t", "a", "b", "A", 1, 10), _span("t", "b", "a", "A", 1, 10), _span("t", "c", "a", "C", 1.001, 3)]
    idx = index_spans(spans)
    seqs = entry_call_sequences(idx)
    assert seqs[("t", "c")] == () and ("C",) in seqs.values()
    assert compare_spans(idx, T0)["A"].spans_inc == 2
    assert resolve_entries(np.array([False, False, True]), np.array([1, 0, -1])).tolist() == [0, 1, 2]


def test_call_sequences_follow_first_touch_and_call_order():
    # The non-entry caller (b) comes before its entry (a): the request is listed at b's place.
    spans = [
        _span("t", "b", "a", "A", 2, 5),
        _span("t", "x", None, "X", 0, 1),
        _span("t", "a", None, "A", 1, 10),
        _span("t", "c2", "b", "D", 2.002, 1),
        _span("t", "c1", "b", "C", 2.001, 1),
        _span("t", "c0", "a", "Z", 1.5, 1),
    ]
    seqs = entry_call_sequences(index_spans(spans))
    assert list(seqs) == [("t", "a"), ("t", "x"), ("t", "c2"), ("t", "c1"), ("t", "c0")]
    assert seqs[("t", "a")] == ("Z", "C", "D")


def _traces(seed: int) -> list[Span]:
    rng = random.Random(seed)
    spans = []
    for i in range(400):
        at = i * 0.5
        late = at > 120
        tid = f"t{i}"
        db_ms = rng.uniform(5, 15) * (6 if late else 1)
        failed = late and rng.random() < 0.3
        spans.append(_span(tid, "a", None, "web", at, db_ms + 40, op=rng.choice(["GET /", "POST /"])))
        spans.append(_span(tid, "b", "a", "web", at + 0.001, db_ms + 20, op="client"))
        spans.append(_span(tid, "c", "b", "db", at + 0.002 + (0.05 if late else 0), db_ms, "ERROR" if failed else "OK", op="query"))
        if not failed:
            # Later calls go out through their own client spans, so they come after the db call.
            spans.append(_span(tid, "dc", "a", "web", at + 0.03, 3, op="client"))
            spans.append(_span(tid, "d", "dc", "cache", at + 0.031, 2, rng.choice(["OK", None]), op="get"))
            spans.append(_span(tid, "ec", "a", "web", at + 0.035, 2, op="client"))
            spans.append(_span(tid, "e", "ec", "queue", at + 0.036, 1, op="put"))
    return spans


def test_hand_built_index_matches_index_spans():
    idx = index_spans(_traces(1))
    hand = SpanIndex(facts=list(idx.facts), edges=dict(idx.edges))  # no columns, no starts
    onset = T0 + timedelta(seconds=120)
    assert compare_spans(hand, onset) == compare_spans(idx, onset)
    assert compare_spans(hand, onset, T0 + timedelta(seconds=150)) == compare_spans(idx, onset, T0 + timedelta(seconds=150))
    assert gap_outliers(hand, onset) == gap_outliers(idx, onset)
    assert truncation_blame(hand, onset) == truncation_blame(idx, onset)
    assert truncation_blame(idx, onset)["db"].blamed > 10  # failing db calls end web requests early
    assert entry_call_sequences(hand) == entry_call_sequences(idx)
    kw = {"earliest": T0, "latest": T0 + timedelta(seconds=185)}
    assert detect_onset(hand, **kw) == detect_onset(idx, **kw)


def test_hand_built_index_with_a_repeated_key_uses_the_later_fact():
    idx = index_spans(_traces(2)[:30])
    first = idx.facts[0]
    later = first._replace(remote_children=("elsewhere",), is_entry=True)
    hand = SpanIndex(facts=list(idx.facts) + [later])
    assert facts_by_key(hand)[(first.span.trace_id, first.span.span_id)] is later
    # The request's other calls (made by its same-service children) now belong to the later fact.
    assert entry_call_sequences(hand)[(first.span.trace_id, first.span.span_id)] == ("elsewhere", "db", "cache", "queue")
    assert compare_spans(hand, T0)["web"].spans_inc == compare_spans(idx, T0)["web"].spans_inc + 1
