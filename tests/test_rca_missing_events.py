"""Missing expected events per trace: the exception that logs nothing."""

from datetime import datetime, timedelta, timezone

from lumos.tools.domain import LogRecord, Span
from lumos.tools.topology.fault_types import infer_fault_type
from lumos.tools.traces.features import ServiceFeatures
from lumos.tools.traces.sequences import missing_events
from lumos.tools.traces.spans import index_spans

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ONSET = T0 + timedelta(minutes=10)


def _request(i: int, start: datetime, *, cut: bool) -> tuple[list[Span], list[LogRecord]]:
    """gateway -> orders (logs 'validate', calls pricing, logs 'priced', 'saved'); a cut request
    stops inside orders after 'validate': no error line, no pricing call, no later lines."""
    tid = f"t{i:04d}"
    ms = lambda k: start + timedelta(milliseconds=k)  # noqa: E731
    spans = [Span(trace_id=tid, span_id="a", parent_span_id=None, service="gateway", operation="POST /order", start=ms(0), duration_ms=50),
             Span(trace_id=tid, span_id="b", parent_span_id="a", service="orders", operation="create", start=ms(2), duration_ms=40)]
    logs = [LogRecord(ts=ms(3), service="orders", level="INFO", message=f"validate order {i}", trace_id=tid)]
    if not cut:
        spans.append(Span(trace_id=tid, span_id="c", parent_span_id="b", service="pricing", operation="quote", start=ms(5), duration_ms=10))
        logs += [LogRecord(ts=ms(20), service="orders", level="INFO", message=f"priced order {i} at 12.50", trace_id=tid),
                 LogRecord(ts=ms(30), service="orders", level="INFO", message=f"saved order {i}", trace_id=tid)]
    logs.append(LogRecord(ts=ms(45), service="gateway", level="INFO", message="responded", trace_id=tid))
    return spans, logs


def _data(cut_share: float) -> tuple[list[Span], list[LogRecord]]:
    spans: list[Span] = []
    logs: list[LogRecord] = []
    for i in range(120):
        start = T0 + timedelta(seconds=10 * i)
        after = start >= ONSET
        s, lg = _request(i, start, cut=after and (i % 10) < 10 * cut_share)
        spans += s
        logs += lg
    return spans, logs


def test_requests_cut_short_without_an_error_line_point_at_the_service_where_events_stop():
    spans, logs = _data(cut_share=0.6)
    found = missing_events(index_spans(spans), logs, ONSET)
    assert set(found) == {"orders"}
    miss = found["orders"]
    assert miss.missing_inc >= 0.5 * miss.calls_inc and miss.missing_base == 0 and miss.strength > 3
    assert "pricing quote" in miss.example
    # The evidence names the fault type: requests thrown out of, not slowed.
    f = ServiceFeatures(service="orders")
    f.put("missing_events", miss.strength / (miss.strength + 3.0), "x", "spans:missing_events")
    assert max(infer_fault_type(f), key=infer_fault_type(f).get) == "error_injection"


def test_unchanged_sequences_and_too_little_baseline_find_nothing():
    spans, logs = _data(cut_share=0.0)
    assert missing_events(index_spans(spans), logs, ONSET) == {}
    assert missing_events(index_spans(spans), logs, T0 + timedelta(seconds=15)) == {}  # two fault-free traces cannot make anything expected


def test_lines_that_name_their_span_count_and_concurrent_order_does_not():
    spans, logs = [], []
    for i in range(120):
        start = T0 + timedelta(seconds=10 * i)
        tid = f"t{i:04d}"
        ms = lambda k: start + timedelta(milliseconds=k)  # noqa: E731
        # Two concurrent calls in either order: order never matters, only what the call contained.
        first, second = ("pricing", "stock") if i % 2 else ("stock", "pricing")
        spans += [Span(trace_id=tid, span_id="a", service="gateway", operation="POST /order", start=ms(0), duration_ms=50),
                  Span(trace_id=tid, span_id="b", parent_span_id="a", service="orders", operation="create", start=ms(2), duration_ms=40),
                  Span(trace_id=tid, span_id="c", parent_span_id="b", service=first, operation="get", start=ms(5), duration_ms=10),
                  Span(trace_id=tid, span_id="d", parent_span_id="b", service=second, operation="get", start=ms(5), duration_ms=10)]
        logs.append(LogRecord(ts=ms(3), service="orders", message=f"validate order {i}", trace_id=tid, attrs={"span_id": "b"}))
        if start < ONSET or i % 3:  # after the onset a third of the calls stop before saving, logging nothing
            logs.append(LogRecord(ts=ms(30), service="orders", message=f"saved order {i}", trace_id=tid, attrs={"span_id": "b"}))
    found = missing_events(index_spans(spans), logs, ONSET)
    assert set(found) == {"orders"} and "log saved order #" in found["orders"].example
    assert missing_events(index_spans(spans), [r for r in logs if "saved" not in r.message], ONSET) == {}
