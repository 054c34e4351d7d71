"""Change records (deploys, config changes, flags) and their correlation with an incident.

A change is suspicious when it landed shortly before the onset and on, or close to, the
services showing symptoms. `change_suspicion` turns both into one 0-1 number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

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


def correlate_changes(
    changes: Iterable[Change],
    onset: datetime,
    symptomatic: Sequence[str],
    graph: nx.DiGraph | None = None,
    *,
    lookback_s: float = 6 * 3600.0,
    until: datetime | None = None,
    uncertain_weight: float = 0.8,
) -> list[ChangeCorrelation]:
    """Every change within `lookback_s` before the onset (and up to a minute after), scored by
    recency and by undirected graph distance to the nearest symptomatic service; most suspicious first.

    An onset estimated from telemetry can be early; a change that landed after it but before
    `until` (the alert, which it may well have caused) is kept, weighted by `uncertain_weight`.
    """
    undirected = graph.to_undirected(as_view=True) if graph is not None else None
    out: list[ChangeCorrelation] = []
    for c in changes:
        before = (onset - c.ts).total_seconds()
        late = before < -60.0
        if before > lookback_s or (late and (until is None or c.ts > until)):
            continue
        dist: int | None = None
        if c.service in symptomatic:
            dist = 0
        elif undirected is not None and c.service in undirected:
            lengths = nx.single_source_shortest_path_length(undirected, c.service, cutoff=4)
            found = [lengths[s] for s in symptomatic if s in lengths]
            dist = min(found) if found else None
        suspicion = uncertain_weight * change_suspicion(0.0, dist) if late else change_suspicion(before, dist)
        out.append(ChangeCorrelation(change=c, seconds_before_onset=before, distance=dist, suspicion=suspicion))
    out.sort(key=lambda x: -x.suspicion)
    return out
