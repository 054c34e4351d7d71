"""Missing expected events: what a service's operation usually does and stopped doing after the onset.

When a service throws and the request is cut short, the service often logs no error at all: the
child spans and log lines that normally come inside its operation simply never come, while
everything before continues. Counting lines per service hides this; comparing, per operation, the
events its calls contain before and after the onset shows it (the fault-free vs faulty event
patterns of Nezha, taken per parent operation). Sets of events per call, not their order within a
trace, are compared, so concurrent work does not read as missing steps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from lumos.tools.diagnosis_model import DEFAULT_MODEL, MissingEventWeights
from lumos.tools.domain import LogRecord
from lumos.tools.traces.columns import SpanColumns
from lumos.tools.traces.spans import SpanIndex, span_columns

_MASK_RE = re.compile(r"[0-9a-f]{6,}|\d+", re.IGNORECASE)


@dataclass(frozen=True)
class MissingEvents:
    """A service's operation whose calls stopped containing an expected event, incident vs baseline."""

    service: str
    calls_inc: int  # calls of the operation after the onset
    missing_inc: int  # ... without the event
    calls_base: int
    missing_base: int
    strength: float  # -log10 p (hypergeometric: this few calls with the event by chance)
    example: str  # "service operation -> missing event"


def _log_key(message: str) -> str:
    """A cheap template key: numbers and ids masked, the first eight words."""
    return " ".join(_MASK_RE.sub("#", message).split()[:8])


def missing_events(
    index: SpanIndex,
    logs: Sequence[LogRecord],
    onset: datetime,
    *,
    data_end: datetime | None = None,
    w: MissingEventWeights = DEFAULT_MODEL.missing,
) -> dict[str, MissingEvents]:
    """Per service, the strongest expected child event of one of its operations that stopped coming
    after `onset` (fewer calls of that operation had it than before, hypergeometric test); {} without
    a fault-free baseline.

    The events of a span are its child spans (by service and operation) and the log lines that name
    it (`attrs.span_id`, by template). A child is *expected* when at least `min_baseline_share` of the
    operation's calls before the onset had it. Spans that had not finished when the data ends are
    left out: the recording, not the fault, cut them short. Counting calls of one operation, not
    event orders within traces, keeps concurrent work from reading as missing steps.
    """
    cols = span_columns(index)
    n = len(cols.start)
    if n == 0:
        return {}
    t_on = onset.timestamp()
    base = cols.start < t_on
    inc = ~base
    if data_end is not None:
        inc &= cols.start + cols.duration / 1000.0 <= data_end.timestamp()
    ng = len(cols.groups)
    child = np.flatnonzero(cols.parent >= 0)
    parent = cols.parent[child]
    events = [cols.group[child]]
    parents = [parent]
    templates: dict[str, int] = {}
    rows = _log_rows(cols, logs)
    if rows:
        lrow = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        lcode = np.fromiter((ng + templates.setdefault(k, len(templates)) for _, k in rows), dtype=np.int64, count=len(rows))
        events.append(lcode)
        parents.append(lrow)
    event, parent = np.concatenate(events), np.concatenate(parents)
    n_events = ng + len(templates)
    # Distinct (parent span, event) pairs, then per (operation, event, side) how many calls had it.
    pair, _ = _distinct(parent * n_events + event)
    prow, pevent = pair // n_events, pair % n_events
    side = np.where(base[prow], 0, np.where(inc[prow], 1, 2))
    keep = side < 2
    key = (cols.group[prow[keep]] * n_events + pevent[keep]) * 2 + side[keep]
    cell, had = _distinct(key)
    calls = np.bincount(cols.group * 2 + np.where(base, 0, 1), weights=(base | inc).astype(float), minlength=2 * ng)
    op_event, sides = cell // 2, cell % 2
    k_base = np.zeros(len(cell))
    k_base[sides == 0] = had[sides == 0]
    k_inc = np.zeros(len(cell))
    k_inc[sides == 1] = had[sides == 1]
    # One row per (operation, event): sum the two sides.
    uniq, inverse = np.unique(op_event, return_inverse=True)
    kb = np.bincount(inverse, weights=k_base, minlength=len(uniq))
    ki = np.bincount(inverse, weights=k_inc, minlength=len(uniq))
    op = uniq // n_events
    nb, ni = calls[op * 2], calls[op * 2 + 1]
    missing = ni - ki
    ok = ((nb >= w.min_baseline_traces) & (kb >= w.min_baseline_share * nb) & (missing >= w.min_missing)
          & (missing >= w.min_share * ni))
    if not ok.any():
        return {}
    from scipy.stats import hypergeom

    p = hypergeom.cdf(ki[ok], nb[ok] + ni[ok], kb[ok] + ki[ok], ni[ok])
    names = {v: k for k, v in templates.items()}
    out: dict[str, MissingEvents] = {}
    for j, pv in zip(np.flatnonzero(ok).tolist(), p.tolist()):
        strength = -math.log10(max(pv, 1e-300))
        g = int(op[j])
        svc, operation = cols.groups[g]
        e = int(uniq[j] % n_events)
        what = f"{cols.groups[e][0]} {cols.groups[e][1]}" if e < ng else f"log {names[e - ng]}"
        if strength > 0 and (svc not in out or strength > out[svc].strength):
            out[svc] = MissingEvents(service=svc, calls_inc=int(ni[j]), missing_inc=int(missing[j]), calls_base=int(nb[j]),
                                     missing_base=int(nb[j] - kb[j]), strength=round(strength, 3), example=f"{svc} {operation} -> {what}"[:200])
    return out


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ascending distinct values, how often each occurs), by a sort (numpy's hash-based unique is
    several times slower on millions of integers)."""
    if len(values) == 0:
        return values, np.zeros(0, dtype=np.int64)
    ordered = np.sort(values)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, len(ordered)])


def _log_rows(cols: SpanColumns, logs: Sequence[LogRecord]) -> list[tuple[int, str]]:
    """(span row, template key) of the log lines that name their span (`attrs.span_id`)."""
    named = [(r.trace_id, str(r.attrs["span_id"]), r.message) for r in logs if r.trace_id and r.attrs.get("span_id")]
    if not named:
        return []
    wanted = {t for t, _, _ in named}
    codes = np.fromiter((i for i, t in enumerate(cols.traces) if t in wanted), dtype=np.int64)
    rows = np.flatnonzero(np.isin(cols.trace, codes)).tolist()
    row_of = {cols.keys[i]: i for i in rows}
    return [(row_of[(t, sid)], _log_key(m)) for t, sid, m in named if (t, sid) in row_of]
