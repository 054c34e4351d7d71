"""Incident window vs reference (baseline) window, per service and per template.

This is the statistics the log agent works from (and a tool an LLM agent can call): for each
service, line volume, error share, warning share, templates that are new or burst, stated
latencies, error codes and stack frames, which other services its errors name, and how much
of its errors look received from a callee rather than raised locally. Every change is a
Poisson/binomial tail probability with smoothing, never a bare ratio.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel, Field

from lumos.tools.domain import LogRecord, TimeWindow
from lumos.tools.logs import signals
from lumos.tools.logs.miner import TemplateMiner
from lumos.tools.logs.stats import decrease_strength, increase_strength, strength

MIN_REFERENCE_SECONDS = 30.0
MIN_REFERENCE_LINES = 30
SELF_REFERENCE_SHARE = 1.0 / 3.0
PSEUDO_COUNT = 0.5
MAX_TEMPLATES_PER_SERVICE = 8


class TemplateChange(BaseModel):
    """How one template of one service changed between the windows."""

    service: str
    template_id: str
    template: str
    ref_count: int
    cur_count: int
    expected: float
    new: bool
    error: bool
    increase: float = Field(description="-log10 p of the increase (0 = none).")
    decrease: float = Field(description="-log10 p of the decrease (0 = none).")
    example: str
    codes: list[str] = Field(default_factory=list)
    hints: dict[str, float] = Field(default_factory=dict)
    propagated_share: float = 0.0
    mentions: list[str] = Field(default_factory=list)


class ServiceLogStats(BaseModel):
    """One service's log behaviour in the reference and current windows."""

    service: str
    ref_lines: int
    cur_lines: int
    ref_errors: int
    cur_errors: int
    ref_warnings: int
    cur_warnings: int
    volume_increase: float
    volume_decrease: float
    error_increase: float
    warning_increase: float
    latency_ref_ms: float | None = None
    latency_cur_ms: float | None = None
    latency_increase: float = 0.0
    gap_ref_ms: float | None = Field(None, description="Median time from the previous line of the same trace to this service's lines.")
    gap_cur_ms: float | None = None
    gap_increase: float = Field(0.0, description="-log10 p that this service now takes longer to write its lines within a trace.")
    self_gap_increase: float = Field(0.0, description="The same, after its own previous line (work inside the service: CPU).")
    call_gap_increase: float = Field(0.0, description="The same, after another service's line (a call in or a reply: network).")
    propagated_share: float = Field(0.0, description="Share of current error lines that look received from a callee.")
    mentions: dict[str, int] = Field(default_factory=dict, description="Other services named by current error lines.")
    new_codes: dict[str, int] = Field(default_factory=dict, description="Error codes seen now and not in the reference.")
    frames: dict[str, int] = Field(default_factory=dict, description="Top stack frames of current errors.")
    hints: dict[str, float] = Field(default_factory=dict, description="Fault wording in anomalous current lines.")
    templates: list[TemplateChange] = Field(default_factory=list, description="Most changed first.")


class WindowComparison(BaseModel):
    """The result of comparing the current window with the reference window."""

    reference: TimeWindow | None
    current: TimeWindow
    services: list[ServiceLogStats]
    lines_read: int
    lines_ignored: int
    templates: int
    notes: list[str] = Field(default_factory=list)


def choose_windows(
    records: Sequence[LogRecord], incident: TimeWindow, baseline: TimeWindow
) -> tuple[TimeWindow | None, TimeWindow, list[str]]:
    """The (reference, current) windows. When the baseline is too short or has too few lines,
    the first third of the incident window is added to the reference: the incident window
    opens before the expected fault onset, so its beginning is the best fault-free sample left."""
    ref_lines = sum(1 for r in records if baseline.contains(r.ts))
    if baseline.seconds >= MIN_REFERENCE_SECONDS and ref_lines >= MIN_REFERENCE_LINES:
        return baseline, incident, []
    cut = incident.start + timedelta(seconds=incident.seconds * SELF_REFERENCE_SHARE)
    start = baseline.start if baseline.seconds > 0 else incident.start
    reference = TimeWindow(start=start, end=cut)
    current = TimeWindow(start=cut, end=incident.end)
    note = (
        f"baseline too short ({baseline.seconds:.0f}s, {ref_lines} lines): reference = baseline + first third "
        f"of the incident window (until {cut.isoformat()}); changes that began earlier are under-estimated"
    )
    if reference.seconds <= 0 or current.seconds <= 0:
        return None, incident, [note.split(":")[0] + ": no reference, only absolute evidence"]
    return reference, current, [note]


class _Acc:
    """Per-service accumulator (internal)."""

    def __init__(self) -> None:
        self.lines = [0, 0]
        self.errors = [0, 0]
        self.warnings = [0, 0]
        self.latency: tuple[list[float], list[float]] = ([], [])
        self.gaps: tuple[list[float], list[float]] = ([], [])
        self.self_gaps: tuple[list[float], list[float]] = ([], [])
        self.call_gaps: tuple[list[float], list[float]] = ([], [])
        self.templates: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.template_errors: Counter = Counter()
        self.template_example: dict[int, str] = {}
        self.template_propagated: Counter = Counter()
        self.template_mentions: dict[int, Counter] = defaultdict(Counter)
        self.codes: tuple[Counter, Counter] = (Counter(), Counter())
        self.frames: Counter = Counter()
        self.propagated = 0
        self.error_events = 0
        self.mentions: Counter = Counter()


def _mann_whitney_strength(before: list[float], after: list[float]) -> float:
    """-log10 p (one-sided, normal approximation) that `after` values are larger."""
    n1, n2 = len(before), len(after)
    if n1 < 3 or n2 < 3:
        return 0.0
    ranked = sorted([(v, 0) for v in before] + [(v, 1) for v in after])
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    r2 = sum(rank for rank, (_, group) in zip(ranks, ranked) if group == 1)
    u2 = r2 - n2 * (n2 + 1) / 2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u2 - mean) / sd if sd else 0.0
    return strength(0.5 * math.erfc(z / math.sqrt(2))) if z > 0 else 0.0


def _trace_gaps(chosen: list[tuple[int, LogRecord]], accs: dict[str, "_Acc"]) -> None:
    """Per service, the time from the previous line of the same trace (any service) to each
    of its lines: a service that got slow (CPU, network) takes longer to write its next line,
    which lines alone, without spans, can show."""
    traces: dict[str, list[tuple[int, LogRecord]]] = defaultdict(list)
    for side, r in chosen:
        if r.trace_id:
            traces[r.trace_id].append((side, r))
    for lines in traces.values():
        if len(lines) < 2:
            continue
        lines.sort(key=lambda item: item[1].ts)
        for (_, prev), (side, cur) in zip(lines, lines[1:]):
            gap = (cur.ts - prev.ts).total_seconds() * 1000.0
            acc = accs[cur.service]
            acc.gaps[side].append(gap)
            (acc.self_gaps if prev.service == cur.service else acc.call_gaps)[side].append(gap)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _accumulate(chosen: list[tuple[int, LogRecord]], clusters: list[int], services: frozenset[str]) -> dict[str, _Acc]:
    """Count lines, errors, warnings, codes, frames, mentions and latencies per service.

    Events are counted, not lines: the lines one request writes under one trace id are one
    observation (otherwise a single busy request looks like a significant burst)."""
    accs: dict[str, _Acc] = defaultdict(_Acc)
    mention_cache: dict[tuple[str, int, str], list[str]] = {}
    seen: set[tuple] = set()
    for (side, r), cluster in zip(chosen, clusters):
        tid, acc, message = r.trace_id, accs[r.service], r.message
        # Discovery failures ("no instances available for X") are counted as ordinary lines: they
        # burst with registry refreshes and health-check flaps, incident or not.
        error = signals.is_error(r.level, message) and not signals.is_discovery_failure(message)
        if tid:
            first_in_service = (r.service, side, tid) not in seen
            first_in_template = (r.service, side, tid, cluster) not in seen
            first_error = error and (r.service, side, tid, "error") not in seen
            seen.update(((r.service, side, tid), (r.service, side, tid, cluster)))
            if error:
                seen.add((r.service, side, tid, "error"))
        else:
            first_in_service = first_in_template = True
            first_error = error
        acc.lines[side] += first_in_service
        acc.templates[cluster][side] += first_in_template
        acc.template_example.setdefault(cluster, message)
        latency = signals.latency_ms(message)
        if latency is not None:
            acc.latency[side].append(latency)
        if not error:
            if first_in_template and signals.is_warning(r.level):
                acc.warnings[side] += 1
            continue
        acc.errors[side] += first_error
        acc.template_errors[cluster] += first_in_template
        if not first_in_template:
            continue
        for code in signals.error_codes(message):
            acc.codes[side][code] += 1
        if side == 0:
            continue
        acc.error_events += 1
        frame = signals.top_frame(message)
        if frame:
            acc.frames[frame] += 1
        if signals.is_propagated(message):
            acc.propagated += 1
            acc.template_propagated[cluster] += 1
        key = (r.service, cluster, message[:300])
        named = mention_cache.get(key)
        if named is None:
            named = mention_cache[key] = signals.mentioned_services(message, services, r.service)
        for name in named:
            acc.mentions[name] += 1
            acc.template_mentions[cluster][name] += 1
    return accs


def compare_windows(
    records: Sequence[LogRecord],
    incident: TimeWindow,
    baseline: TimeWindow,
    *,
    known_services: Sequence[str] = (),
    miner: TemplateMiner | None = None,
) -> WindowComparison:
    """Compare the incident window with the baseline (records outside both are ignored)."""
    reference, current, notes = choose_windows(records, incident, baseline)
    chosen: list[tuple[int, LogRecord]] = []
    for r in records:
        if current.contains(r.ts):
            chosen.append((1, r))
        elif reference is not None and reference.contains(r.ts):
            chosen.append((0, r))
    miner = miner or TemplateMiner()
    clusters = miner.add_many([r.message for _, r in chosen]) if chosen else []
    services = frozenset({r.service for _, r in chosen} | set(known_services))
    accs = _accumulate(chosen, clusters, services)
    _trace_gaps(chosen, accs)
    ref_s = reference.seconds if reference is not None else 0.0
    all_ref_lines = sum(a.lines[0] for a in accs.values())
    all_cur_lines = sum(a.lines[1] for a in accs.values())
    out = [_service_stats(name, acc, miner, ref_s, all_ref_lines, all_cur_lines) for name, acc in accs.items()]
    out.sort(key=lambda s: s.service)
    ignored = len(records) - len(chosen)
    if reference is not None and all_ref_lines == 0:
        notes.append("no log lines in the reference window: only new-template and absolute evidence")
    return WindowComparison(
        reference=reference, current=current, services=out, lines_read=len(chosen), lines_ignored=ignored,
        templates=len(miner.templates()), notes=notes,
    )


def _service_stats(name: str, acc: _Acc, miner: TemplateMiner, ref_s: float, all_ref: int, all_cur: int) -> ServiceLogStats:
    """Turn one service's counts into changes with their strengths."""
    n_ref, n_cur = acc.lines
    has_ref = ref_s > 0 and all_ref > 0
    share = lambda count, total: (count + PSEUDO_COUNT) / (total + 2 * PSEUDO_COUNT)  # noqa: E731
    if has_ref:
        # the service's share of all log events: a load change that moves every service is not news
        exp_volume = share(n_ref, all_ref) * all_cur
        vol_up = increase_strength(n_cur, exp_volume)
        vol_down = decrease_strength(n_cur, exp_volume)
    else:
        vol_up = vol_down = 0.0
    err_up = increase_strength(acc.errors[1], share(acc.errors[0], n_ref) * n_cur) if has_ref else 0.0
    warn_up = increase_strength(acc.warnings[1], share(acc.warnings[0], n_ref) * n_cur) if has_ref else 0.0
    changes: list[TemplateChange] = []
    hints: dict[str, float] = {}
    for cluster, (c_ref, c_cur) in acc.templates.items():
        expected = share(c_ref, n_ref) * n_cur if has_ref else 0.0
        up = increase_strength(c_cur, expected) if has_ref else 0.0
        down = decrease_strength(c_cur, expected) if has_ref else 0.0
        errors = acc.template_errors[cluster]
        is_err = errors > 0 and errors >= 0.5 * (c_ref + c_cur)
        if not has_ref and is_err:
            up = min(2.0 + math.log2(1 + c_cur), 8.0)  # no reference: errors are evidence on their own
        if up <= 0 and down <= 0:
            continue
        tpl = miner.template(cluster)
        example = acc.template_example[cluster]
        codes = signals.error_codes(example)[:5] if is_err else []
        t_hints = signals.fault_hints(" ".join([example, *codes])) if up > 0 else {}
        for fault, weight in t_hints.items():
            # ordinary lines count too (GC pauses, restarts, pool waits are often INFO/WARN)
            support = weight * min(1.0, up / 4.0) * (1.0 if is_err else 0.7)
            hints[fault] = max(hints.get(fault, 0.0), support)
        prop = acc.template_propagated[cluster] / errors if errors and c_cur else 0.0
        changes.append(TemplateChange(
            service=name, template_id=tpl.id, template=tpl.text[:300], ref_count=c_ref, cur_count=c_cur,
            expected=round(expected, 3), new=(c_ref == 0 and c_cur > 0 and n_ref > 0), error=is_err,
            increase=round(up, 3), decrease=round(down, 3), example=example[:300],
            codes=codes, hints=t_hints, propagated_share=round(prop, 3),
            mentions=sorted(acc.template_mentions[cluster]),
        ))
    changes.sort(key=lambda c: (-(c.increase * (1.0 if c.error else 0.4) + 0.3 * c.decrease), c.template_id))
    lat_ref, lat_cur = acc.latency
    new_codes = {code: n for code, n in acc.codes[1].items() if code not in acc.codes[0]}
    return ServiceLogStats(
        service=name, ref_lines=n_ref, cur_lines=n_cur, ref_errors=acc.errors[0], cur_errors=acc.errors[1],
        ref_warnings=acc.warnings[0], cur_warnings=acc.warnings[1], volume_increase=round(vol_up, 3),
        volume_decrease=round(vol_down, 3), error_increase=round(err_up, 3), warning_increase=round(warn_up, 3),
        latency_ref_ms=_median(lat_ref), latency_cur_ms=_median(lat_cur),
        latency_increase=round(_mann_whitney_strength(lat_ref, lat_cur), 3),
        gap_ref_ms=_median(acc.gaps[0]), gap_cur_ms=_median(acc.gaps[1]),
        gap_increase=round(_mann_whitney_strength(*acc.gaps), 3),
        self_gap_increase=round(_mann_whitney_strength(*acc.self_gaps), 3),
        call_gap_increase=round(_mann_whitney_strength(*acc.call_gaps), 3),
        propagated_share=round(acc.propagated / acc.error_events, 3) if acc.error_events else 0.0,
        mentions=dict(acc.mentions.most_common(10)), new_codes=dict(Counter(new_codes).most_common(10)),
        frames=dict(acc.frames.most_common(5)), hints={k: round(v, 3) for k, v in hints.items()},
        templates=changes[:MAX_TEMPLATES_PER_SERVICE],
    )

