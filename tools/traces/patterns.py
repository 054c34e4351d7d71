"""Call-pattern comparison: requests that stop early point at the service they called last.

When a service throws or returns something its caller cannot use, the caller's request ends
earlier than usual: its sequence of outgoing calls becomes a strict prefix of a sequence seen
before the onset. The last callee in that prefix is the one whose answer ended the request
(the fault-free vs faulty pattern comparison of Nezha, reduced to call sequences).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from lumos.tools.traces.columns import segment_bounds
from lumos.tools.traces.spans import SpanIndex, entry_calls, span_columns


@dataclass(frozen=True)
class TruncationBlame:
    """How often requests ended right after calling a service, incident vs baseline."""

    service: str
    blamed: int
    calls: int
    callers: tuple[str, ...]


def truncation_blame(index: SpanIndex, onset: datetime) -> dict[str, TruncationBlame]:
    """Services blamed for requests that ended early after the onset; {} without a baseline.

    A request (entry span of service S, operation O) is *truncated* when its call sequence is
    new after the onset and a strict prefix of a baseline sequence of (S, O). The last callee of
    the prefix is blamed; an empty prefix blames S itself (it failed before calling anyone).
    Sequences are compared as ids of the nodes of a trie rooted at (S, O): equal ids, equal
    sequences; an id among the inner nodes of baseline sequences, a strict prefix of one.
    """
    cols = span_columns(index)
    ec = entry_calls(index)
    rows = ec.rows
    m = len(rows)
    if m == 0:
        return {}
    slot = np.full(len(cols.entry), -1, dtype=np.int64)
    slot[rows] = np.arange(m)
    call_slot = slot[ec.entry]
    length = np.bincount(call_slot, minlength=m)
    first_call, _ = segment_bounds(ec.entry)
    begin = np.zeros(m, dtype=np.int64)
    begin[call_slot[first_call]] = first_call
    depth = np.arange(len(call_slot)) - begin[call_slot]
    # Walk the trie one call deep at a time; `inner` is the node each call leaves from.
    node = cols.group[rows].copy()
    next_id = len(cols.groups)
    width = len(cols.services) + 1
    inner = np.empty(len(call_slot), dtype=np.int64)
    by_depth = np.argsort(depth, kind="stable")
    cuts = np.searchsorted(depth[by_depth], np.arange(int(depth.max(initial=-1)) + 2))
    for j in range(len(cuts) - 1):
        calls = by_depth[cuts[j]:cuts[j + 1]]
        at = call_slot[calls]
        inner[calls] = node[at]
        uniq, inv = np.unique(node[at] * width + ec.callee[calls], return_inverse=True)
        node[at] = next_id + inv
        next_id += len(uniq)
    before = cols.start[rows] < onset.timestamp()
    ops = cols.group[rows]
    truncated = (
        ~before
        & np.isin(ops, ops[before])
        & ~np.isin(node, node[before])
        & np.isin(node, inner[before[call_slot]])
    )
    names = cols.services
    incident_calls = np.bincount(ec.callee[~before[call_slot]], minlength=len(names))
    blamed: Counter[str] = Counter()
    callers: dict[str, set[str]] = defaultdict(set)
    for k in np.flatnonzero(truncated).tolist():
        n_calls = int(length[k])
        culprit = names[int(ec.callee[begin[k] + n_calls - 1])] if n_calls else names[int(cols.service[rows[k]])]
        blamed[culprit] += 1
        callers[culprit].add(names[int(cols.service[rows[k]])])
    code = {name: i for i, name in enumerate(names)}
    return {
        svc: TruncationBlame(service=svc, blamed=n, calls=int(incident_calls[code[svc]]), callers=tuple(sorted(callers[svc])))
        for svc, n in blamed.items()
    }
