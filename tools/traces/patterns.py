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

from lumos.tools.traces.spans import SpanIndex, entry_call_sequences, facts_by_key


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
    """
    seqs = entry_call_sequences(index)
    facts = facts_by_key(index)
    baseline: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    incident: list[tuple[tuple[str, str], tuple[str, ...]]] = []
    for key, seq in seqs.items():
        span = facts[key].span
        op = (span.service, span.operation)
        if span.start < onset:
            baseline[op].add(seq)
        else:
            incident.append((op, seq))
    blamed: Counter[str] = Counter()
    callers: dict[str, set[str]] = defaultdict(set)
    calls: Counter[str] = Counter()
    for op, seq in incident:
        for callee in seq:
            calls[callee] += 1
        known = baseline.get(op)
        if not known or seq in known:
            continue
        if any(len(b) > len(seq) and b[: len(seq)] == seq for b in known):
            culprit = seq[-1] if seq else op[0]
            blamed[culprit] += 1
            callers[culprit].add(op[0])
    return {
        svc: TruncationBlame(service=svc, blamed=n, calls=calls.get(svc, 0), callers=tuple(sorted(callers[svc])))
        for svc, n in blamed.items()
    }
