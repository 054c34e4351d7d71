"""Simulate request traces along an endpoint's call tree, with the fault's effect propagating to callers.

Besides spans, the simulation emits `Event`s (what a service would log about a request) that the
log renderer turns into text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lumos.evals.generate.faults import FaultPlan, effect_at, instances_at
from lumos.evals.generate.rng import hex_id, lognormal
from lumos.evals.generate.system import CallNode, Endpoint, System

TIMEOUT_MS = {"cache": 500.0, "database": 3000.0, "queue": 2000.0, "service": 3000.0}
BASE_ERR_P = 0.002


@dataclass(frozen=True)
class Event:
    """Something a service would log about one request."""

    ts: datetime
    service: str
    instance: str
    kind: str  # request | access | fault | call_error | fallback | bad_data_used
    trace_id: str
    peer: str | None = None
    reason: str | None = None  # refused | timeout | 5xx | reset | invalid | hang
    duration_ms: float = 0.0
    status: int = 200
    operation: str = ""


@dataclass
class TraceOut:
    """Spans (as dicts, in the case-format shape) and events of one or more traces."""

    spans: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class _Hop:
    duration_ms: float
    outcome: str  # ok | error | bad
    reason: str | None = None


class TraceSimulator:
    """Walks call trees for a system with one fault plan; all randomness comes from the given rng."""

    def __init__(self, system: System, plan: FaultPlan, rng: random.Random, out: TraceOut | None = None):
        self.system, self.plan, self.rng = system, plan, rng
        self.out = out if out is not None else TraceOut()
        self._last_instance = ""  # the entry instance that served the current trace

    def run(self, endpoint: Endpoint, start: datetime) -> None:
        """Simulate one request of `endpoint` starting at `start`."""
        trace_id = hex_id(self.rng, 32)
        hop = self._hop(endpoint.tree, None, start, trace_id, is_root=True)
        status = 200 if hop.outcome != "error" else {"refused": 503, "timeout": 504, "hang": 504}.get(hop.reason or "", 500)
        entry = self.system.services[self.system.entry]
        self.out.events.append(Event(start + timedelta(milliseconds=hop.duration_ms), entry.name,
                                     self._last_instance, "access", trace_id, reason=hop.reason,
                                     duration_ms=hop.duration_ms, status=status, operation=endpoint.tree.operation))

    def _hop(self, node: CallNode, parent: str | None, start: datetime, trace_id: str, is_root: bool = False) -> _Hop:
        rng, spec = self.rng, self.system.services[node.service]
        instance = rng.choice(instances_at(self.plan, spec.name, spec.instances, start))
        eff = effect_at(self.plan, spec.name, instance, start)
        span_id = hex_id(rng, 16)
        if eff.down:
            if spec.kind != "service":  # datastore hops are client spans: they exist and fail fast
                dur = rng.uniform(0.4, 3.0)
                self._span(trace_id, span_id, parent, spec.name, instance, node.operation, start, dur, "ERROR")
            return _Hop(rng.uniform(0.5, 4.0), "error", "refused")
        if eff.hang_ms:
            dur = eff.hang_ms * rng.uniform(0.8, 1.2)
            self._span(trace_id, span_id, parent, spec.name, instance, node.operation, start, dur, "ERROR")
            return _Hop(dur, "error", "hang")
        cursor = lognormal(rng, spec.base_ms, 0.35) * eff.self_mult * 0.4 + eff.add_ms
        fail_here = rng.random() < eff.err_p + BASE_ERR_P
        cut = rng.randint(0, len(node.children)) if fail_here else len(node.children)
        outcome, reason = "ok", None
        for child in node.children[:cut]:
            child_start = start + timedelta(milliseconds=cursor + rng.uniform(0.1, 1.2) + eff.add_ms / 2)
            hop = self._hop(child, span_id, child_start, trace_id)
            timeout = TIMEOUT_MS[self.system.services[child.service].kind]
            waited = min(hop.duration_ms, timeout) + eff.add_ms
            if hop.duration_ms > timeout:
                hop = _Hop(timeout, "error", "timeout")
            cursor += waited + rng.uniform(0.2, 1.5)
            if hop.outcome == "ok":
                continue
            child_kind = self.system.services[child.service].kind
            if hop.outcome == "bad":
                if rng.random() < 0.6:
                    self._event(start, cursor, spec.name, instance, "call_error", trace_id, child.service, "invalid")
                    outcome, reason = "error", "5xx"
                    break
                continue
            if child_kind == "cache":
                self._event(start, cursor, spec.name, instance, "fallback", trace_id, child.service, hop.reason)
                cursor += lognormal(rng, 6.0, 0.5)
                continue
            self._event(start, cursor, spec.name, instance, "call_error", trace_id, child.service, hop.reason)
            outcome, reason = "error", ("5xx" if hop.reason in ("5xx", "invalid") else hop.reason)
            break
        cursor += lognormal(rng, spec.base_ms, 0.35) * eff.self_mult * 0.6
        if fail_here and outcome == "ok":
            outcome, reason = "error", "5xx"
            cursor *= 0.6
            reason_here = self.plan.fault_type.value if eff.err_p > 0 else "baseline"
            self._event(start, cursor, spec.name, instance, "fault", trace_id, reason=reason_here)
        if outcome == "ok" and rng.random() < eff.bad_p:
            outcome = "bad"
        if outcome == "ok" and rng.random() < 0.25:
            self._event(start, cursor, spec.name, instance, "request", trace_id, operation=node.operation,
                        duration_ms=cursor)
        status = "ERROR" if outcome == "error" else "OK"
        self._span(trace_id, span_id, parent, spec.name, instance, node.operation, start, cursor, status)
        if is_root:
            self._last_instance = instance
        if spec.name == self.plan.root and self.plan.fault_type.value == "network_loss" and outcome == "error":
            reason = "reset"
        return _Hop(cursor, outcome, reason)

    def _event(self, start: datetime, offset_ms: float, service: str, instance: str, kind: str, trace_id: str,
               peer: str | None = None, reason: str | None = None, operation: str = "", duration_ms: float = 0.0) -> None:
        self.out.events.append(Event(start + timedelta(milliseconds=offset_ms), service, instance, kind, trace_id,
                                     peer=peer, reason=reason, operation=operation, duration_ms=duration_ms))

    def _span(self, trace_id: str, span_id: str, parent: str | None, service: str, instance: str, op: str,
              start: datetime, duration_ms: float, status: str) -> None:
        self.out.spans.append({"trace_id": trace_id, "span_id": span_id, "parent_span_id": parent, "service": service,
                               "instance": instance, "operation": op, "start": start,
                               "duration_ms": round(duration_ms, 3), "status": status})


def schedule(rng: random.Random, start: datetime, end: datetime, per_minute: float) -> list[datetime]:
    """Request start times: a Poisson process of `per_minute` between start and end."""
    out, t = [], start
    while True:
        t += timedelta(seconds=rng.expovariate(per_minute / 60.0))
        if t >= end:
            return out
        out.append(t)


def pick_endpoint(rng: random.Random, endpoints: tuple[Endpoint, ...]) -> Endpoint:
    """A request type, weighted by traffic share."""
    return rng.choices(endpoints, weights=[e.weight for e in endpoints])[0]
