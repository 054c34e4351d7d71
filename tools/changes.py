"""Change records (deploys, config changes, flags) and their correlation with an incident.

A change is suspicious when it landed shortly before its service's symptoms began and on, or
close to, the services showing symptoms; among concurrent changes, the best such one stands out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.diagnosis_model import DEFAULT_MODEL, ChangeWeights
from lumos.tools.domain import Change, TimeWindow


class ChangeCorrelation(BaseModel):
    """One change, how long before the onset it landed, and how close it is to the symptoms."""

    model_config = ConfigDict(frozen=True)

    change: Change
    seconds_before_onset: float = Field(description="Positive = before the onset; negative = after it.")
    distance: int | None = Field(default=None, description="Fewest calls between the changed service and a symptomatic one (None = unrelated).")
    suspicion: float = Field(ge=0.0, le=1.0)


def load_changes(path: str | Path) -> list[Change]:
    """Read changes.jsonl (one Change per line), sorted by time; [] when the file does not exist."""
    from lumos.tools.casefiles import iter_jsonl

    p = Path(path)
    return sorted(iter_jsonl(p, Change), key=lambda c: c.ts) if p.is_file() else []


def recent_changes(changes: Iterable[Change], services: Sequence[str] | None, window: TimeWindow) -> list[Change]:
    """Changes inside `window` (start inclusive, end exclusive), newest first, for `services`
    (None or empty = all services). Use it to ask "what changed on X just before the incident?".
    """
    wanted = set(services or [])
    out = [c for c in changes if window.contains(c.ts) and (not wanted or c.service in wanted)]
    return sorted(out, key=lambda c: c.ts, reverse=True)


def change_suspicion(seconds_before: float, distance: int | None, *, half_life_s: float = 1800.0) -> float:
    """0-1 suspicion of a change: decays with time before the onset (half-life `half_life_s`) and
    with graph distance to the symptoms (halved per call); changes after the onset score 0.
    """
    if distance is None or seconds_before < -60.0:
        return 0.0
    recency = math.exp(-max(seconds_before, 0.0) * math.log(2) / half_life_s)
    return recency * 0.5 ** max(distance, 0)


def _timing(seconds_before: float, w: ChangeWeights) -> float:
    """How well a change precedes the symptoms it would explain: 1 right before, e^-1 after
    `timing_scale_s`, 0 when the symptoms had already started (beyond the onset's tolerance)."""
    if seconds_before < -w.late_tolerance_s:
        return 0.0
    return math.exp(-max(seconds_before, 0.0) / w.timing_scale_s)


def correlate_changes(
    changes: Iterable[Change],
    onset: datetime,
    symptomatic: Sequence[str],
    graph: nx.DiGraph | None = None,
    *,
    lookback_s: float | None = None,
    until: datetime | None = None,
    uncertain_weight: float = 0.8,
    anomaly: Mapping[str, float] | None = None,
    service_onsets: Mapping[str, datetime] | None = None,
    weights: ChangeWeights | None = None,
) -> list[ChangeCorrelation]:
    """Every change within the look-back before the onset (and up to the alert after it), scored by
    how well it precedes the symptoms and how close its service lies to them; most suspicious first.

    Among several concurrent changes the trigger is the one whose service lies on the symptom
    paths (its own `anomaly`, else calls away from a symptomatic service) and that best precedes
    the onset of *its own service's* symptoms (`service_onsets`, else the incident onset): a change
    that landed after its service was already failing did not start it. Competing changes are
    judged against the best one (a change half as suspicious keeps a quarter of its score), since
    one of them triggered the incident, not all.
    An onset estimated from telemetry can be early; a change that landed after it but before
    `until` (the alert, which it may well have caused) is kept, weighted by `uncertain_weight`.
    """
    w = weights or DEFAULT_MODEL.changes
    lookback = w.lookback_s if lookback_s is None else lookback_s
    anomaly = anomaly or {}
    service_onsets = service_onsets or {}
    undirected = graph.to_undirected(as_view=True) if graph is not None else None
    out: list[ChangeCorrelation] = []
    for c in changes:
        before = (onset - c.ts).total_seconds()
        late = before < -w.late_tolerance_s
        if before > lookback or (late and (until is None or c.ts > until)):
            continue
        dist: int | None = None
        if c.service in symptomatic:
            dist = 0
        elif undirected is not None and c.service in undirected:
            lengths = nx.single_source_shortest_path_length(undirected, c.service, cutoff=4)
            found = [lengths[s] for s in symptomatic if s in lengths]
            dist = min(found) if found else None
        if dist is None:
            place = 0.0
        elif dist == 0:
            place = 1.0  # the changed service shows symptoms itself
        else:
            own = min(1.0, max(0.0, anomaly.get(c.service, 0.0)))
            place = max(own, w.off_path * w.distance_decay ** dist)
        own_onset = service_onsets.get(c.service)
        timing = _timing((own_onset - c.ts).total_seconds(), w) if own_onset is not None else _timing(max(before, 0.0), w)
        suspicion = place * (uncertain_weight if late else 1.0) * timing
        out.append(ChangeCorrelation(change=c, seconds_before_onset=before, distance=dist, suspicion=min(1.0, suspicion)))
    best = max((x.suspicion for x in out), default=0.0)
    if best > 0:
        out = [x.model_copy(update={"suspicion": x.suspicion * x.suspicion / best}) for x in out]
    out.sort(key=lambda x: -x.suspicion)
    return out
