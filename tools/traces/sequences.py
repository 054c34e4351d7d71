"""Missing expected events: what usually follows an event in a trace and stopped after the onset.

When a service throws and the request is cut short, the service often logs no error at all:
within the trace, the lines and spans that normally follow its last step simply never come, while
everything before continues. Counting lines per service hides this; comparing event sequences
per trace shows it (the idea of Nezha's fault-free vs faulty event patterns). An event is a span's
operation or a log line's template, keyed by service; B is *expected* after A when it followed A
in most fault-free traces that had A. In a faulty trace the service of the last event whose
expected successor never came is where the request stopped.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from lumos.tools.diagnosis_model import DEFAULT_MODEL, MissingEventWeights
from lumos.tools.domain import LogRecord
from lumos.tools.logs.stats import increase_strength
from lumos.tools.traces.spans import SpanIndex, span_columns

MAX_TRACES = 200  # per side: a few hundred requests decide the test (p far below 1e-3 for a real cut); bounds the work
NEXT_EVENTS = 8  # successors that count as 'following' an event: the steps right after it
_MASK_RE = re.compile(r"[0-9a-f]{6,}|\d+", re.IGNORECASE)


@dataclass(frozen=True)
class MissingEvents:
    """A service where requests stopped: the traces cut short after its events, incident vs baseline."""

    service: str
    incident_traces: int
    blamed: int
    baseline_traces: int
    baseline_blamed: int
    strength: float  # -log10 p of the increase
    example: str  # "A -> B" of the most common missing transition


def _log_key(message: str) -> str:
    """A cheap template key: numbers and ids masked, the first eight words."""
    return " ".join(_MASK_RE.sub("#", message).split()[:8])


def trace_events(index: SpanIndex, logs: Iterable[LogRecord] = (), traces: set[str] | None = None) -> dict[str, list[tuple[float, str, str]]]:
    """{trace_id: [(epoch, service, event key)] in time order} from span starts and log lines that
    carry a trace id (only the traces in `traces` when given)."""
    out: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    cols = span_columns(index)
    if traces is None:
        rows = np.arange(len(cols.trace))
    else:
        wanted = np.fromiter((i for i, t in enumerate(cols.traces) if t in traces), dtype=np.int64)
        rows = np.flatnonzero(np.isin(cols.trace, wanted))
    names, groups, tnames = cols.services, cols.groups, cols.traces
    for tr, t, svc, g in zip(cols.trace[rows].tolist(), cols.start[rows].tolist(), cols.service[rows].tolist(), cols.group[rows].tolist()):
        out[tnames[tr]].append((t, names[svc], f"span {groups[g][1]}"))
    for r in logs:
        if r.trace_id and (traces is None or r.trace_id in traces):
            out[r.trace_id].append((r.ts.timestamp(), r.service, f"log {_log_key(r.message)}"))
    for events in out.values():
        events.sort()
    return out


def _trace_starts(index: SpanIndex, logs: Iterable[LogRecord]) -> dict[str, float]:
    """When each trace starts (its earliest span or line)."""
    cols = span_columns(index)
    first: dict[str, float] = {}
    if len(cols.trace):
        earliest = np.full(len(cols.traces), np.inf)
        np.minimum.at(earliest, cols.trace, cols.start)
        first = {t: v for t, v in zip(cols.traces, earliest.tolist()) if v != np.inf}
    for r in logs:
        if r.trace_id:
            t = r.ts.timestamp()
            if t < first.get(r.trace_id, float("inf")):
                first[r.trace_id] = t
    return first


def _sample(traces: list[str]) -> list[str]:
    if len(traces) <= MAX_TRACES:
        return traces
    return sorted(traces, key=lambda t: hashlib.blake2b(t.encode(), digest_size=8).digest())[:MAX_TRACES]


def _follows(events: Sequence[tuple[float, str, str]]) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    """For each event (service, key), the next NEXT_EVENTS distinct events after its first occurrence
    in the trace (what 'follows' it: a cut request loses exactly these)."""
    ids = [(svc, key) for _, svc, key in events]
    out: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
    for i, a in enumerate(ids):
        if a in out:
            continue
        nxt: dict[tuple[str, str], None] = {}
        for b in ids[i + 1:]:
            if b != a:
                nxt[b] = None
                if len(nxt) >= NEXT_EVENTS:
                    break
        out[a] = frozenset(nxt)
    return out


def missing_events(
    index: SpanIndex,
    logs: Sequence[LogRecord],
    onset: datetime,
    *,
    data_end: datetime | None = None,
    w: MissingEventWeights = DEFAULT_MODEL.missing,
) -> dict[str, MissingEvents]:
    """Per service, how often requests stopped right after its events (an expected successor never
    came) in traces starting after `onset`, against traces before it; {} without enough baseline.

    Traces that start too close to the end of the data (within the 90th percentile of fault-free
    trace durations) are left out: the recording, not the fault, cut them short.
    """
    starts = _trace_starts(index, logs)
    t_on = onset.timestamp()
    base_ids = _sample(sorted(t for t, t0 in starts.items() if t0 < t_on))
    if len(base_ids) < w.min_baseline_traces:
        return {}
    inc_all = _sample(sorted(t for t, t0 in starts.items() if t0 >= t_on))
    traces = trace_events(index, logs, set(base_ids) | set(inc_all))
    durations = sorted(traces[t][-1][0] - traces[t][0][0] for t in base_ids)
    horizon = durations[int(0.9 * (len(durations) - 1))]
    end = data_end.timestamp() if data_end is not None else max(ev[-1][0] for ev in traces.values())
    inc_ids = [t for t in inc_all if traces[t][0][0] <= end - horizon]
    if not inc_ids:
        return {}
    has: Counter = Counter()
    after: Counter = Counter()
    base_follow = {t: _follows(traces[t]) for t in base_ids}
    for follow in base_follow.values():
        for a, later in follow.items():
            has[a] += 1
            for b in later:
                after[(a, b)] += 1
    expected: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    # For a fault-free trace judged against the others (leave one out): a successor it lacks was
    # seen after A in `after` of the other `has - 1` traces.
    expected_loo: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for (a, b), n in after.items():
        if has[a] >= w.min_baseline_traces and n >= w.min_baseline_share * has[a]:
            expected[a].append(b)
        if has[a] - 1 >= w.min_baseline_traces and n >= w.min_baseline_share * (has[a] - 1):
            expected_loo[a].append(b)

    def cut(events: Sequence[tuple[float, str, str]], follow: dict, table: dict) -> tuple[str, str, str] | None:
        """(service, A, B): the last event whose expected successor B never came after it."""
        for _, svc, key in reversed(events):
            a = (svc, key)
            missing = [b for b in table.get(a, ()) if b not in follow.get(a, ())]
            if missing:
                return svc, key, f"{missing[0][0]} {missing[0][1]}"
        return None

    base_blamed: Counter = Counter()
    for t in base_ids:
        hit = cut(traces[t], base_follow[t], expected_loo)
        if hit:
            base_blamed[hit[0]] += 1
    inc_blamed: Counter = Counter()
    examples: dict[str, Counter] = defaultdict(Counter)
    for t in inc_ids:
        hit = cut(traces[t], _follows(traces[t]), expected)
        if hit:
            inc_blamed[hit[0]] += 1
            examples[hit[0]][f"{hit[0]} {hit[1]} -> {hit[2]}"] += 1
    out: dict[str, MissingEvents] = {}
    n_base, n_inc = len(base_ids), len(inc_ids)
    for svc, k in inc_blamed.items():
        if k < w.min_missing or k < w.min_share * n_inc:
            continue
        rate = (base_blamed[svc] + 0.5) / (n_base + 1.0)
        strength = increase_strength(k, rate * n_inc)
        if strength > 0:
            out[svc] = MissingEvents(service=svc, incident_traces=n_inc, blamed=k, baseline_traces=n_base,
                                     baseline_blamed=base_blamed[svc], strength=round(strength, 3),
                                     example=examples[svc].most_common(1)[0][0][:200])
    return out
