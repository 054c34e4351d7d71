"""Render simulated events, the fault's timeline and background noise as log records (dicts)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from lumos.tools.domain import Change, TimeWindow

from lumos.evals.generate import templates as T
from lumos.evals.generate.faults import FaultPlan, crash_times, heap_fill, instances_at
from lumos.evals.generate.rng import hex_id
from lumos.evals.generate.system import System
from lumos.evals.generate.traces import Event
from lumos.evals.generate.vocab import FIELDS, TABLES, USER_AGENTS

MAX_PER_MINUTE = 6  # per (service, event kind): the rest of a burst is sampled away


class LogWriter:
    """Turns events into log records; fills template variables from a seeded rng."""

    def __init__(self, system: System, plan: FaultPlan, rng: random.Random, version: str):
        self.system, self.plan, self.rng, self.version = system, plan, rng, version
        self.records: list[dict] = []
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._chosen: dict[tuple[str, ...], tuple[str, ...]] = {}

    def choose(self, key: tuple[str, ...], group: tuple[str, ...], k: int = 2) -> str:
        """One of a stable per-key subset of `group`: a service keeps logging the same few templates."""
        if key not in self._chosen:
            self._chosen[key] = tuple(self.rng.sample(group, k=min(k, len(group))))
        return self.rng.choice(self._chosen[key])

    def vars(self, service: str, ms: float = 0.0, peer: str | None = None, **extra: object) -> dict[str, object]:
        """Template variables for a line logged by `service` (about `peer`)."""
        r, spec = self.rng, self.system.services[service]
        stem = service.split("-")[0].removesuffix("service") or service
        pspec = self.system.services.get(peer or "")
        ms_i = max(1, int(ms or r.uniform(20, 900)))
        path = f"/api/{stem}/{r.choice(['items', 'orders', 'status', 'quote'])}"
        return {
            "stem": stem, "Stem": stem.title().replace("-", ""), "uid": f"u-{r.randint(10000, 99999)}",
            "oid": f"o-{hex_id(r, 8)}", "rid": hex_id(r, 12), "sku": f"SKU-{r.randint(1000, 9999)}",
            "ms": ms_i, "ms_small": round(r.uniform(0.2, 3.0), 1), "secs": f"{ms_i / 1000:.3f}",
            "secs2": f"{r.uniform(5, 40):.3f}", "n": r.randint(2, 400), "n2": r.randint(1, 9),
            "pct": r.randint(55, 99), "mem": r.randint(200, 4000), "limit": 2048, "pid": r.randint(7, 32000),
            "line": 40 + sum(map(ord, service)) * 37 % 860, "field": r.choice(FIELDS), "table": r.choice(TABLES),
            "amount": f"{r.uniform(5, 500):.2f}", "amount2": f"{r.uniform(5, 500):.2f}",
            "client_ip": f"10.{r.randint(0, 3)}.{r.randint(1, 254)}.{r.randint(2, 254)}", "eport": r.randint(32768, 60999),
            "self_ip": spec.ips[0], "port": pspec.port if pspec else spec.port, "peer": peer or "",
            "peer_ip": pspec.ips[0] if pspec else "", "peer_path": f"/api/v1/{(peer or 'x').split('-')[0]}/{r.choice(['reserve', 'get', 'quote'])}",
            "method": r.choice(["GET", "GET", "POST"]), "path": path, "op": f"{stem}.{r.choice(['get', 'list', 'create'])}",
            "status5": r.choice([500, 500, 502, 503]), "hex": hex_id(r, 8), "commit": hex_id(r, 7),
            "version": self.version, "cfg": hex_id(r, 6), "ua": r.choice(USER_AGENTS), "bytes": r.randint(120, 9000),
            "instance": spec.instances[0], **extra,
        }

    def add(self, ts: datetime, service: str, instance: str, level: str, message: str, trace_id: str | None = None,
            kind: str = "") -> None:
        """Append one record, dropping bursts beyond MAX_PER_MINUTE per service and kind."""
        if kind:
            key = (service, kind, ts.strftime("%H%M"))
            self._counts[key] += 1
            if self._counts[key] > MAX_PER_MINUTE:
                return
        rec: dict = {"ts": ts, "service": service, "instance": instance, "level": level, "message": message}
        if trace_id:
            rec["trace_id"] = trace_id
        self.records.append(rec)

    def fmt(self, template: str, service: str, **kw: object) -> str:
        """Fill a template with fresh variables."""
        return template.format(**self.vars(service, **kw))  # type: ignore[arg-type]

    def event(self, ev: Event) -> None:
        """Render one simulated event."""
        r, spec = self.rng, self.system.services[ev.service]
        if ev.kind == "access":
            level = "INFO" if ev.status < 400 else ("WARN" if ev.status < 500 else "ERROR")
            method, _, path = ev.operation.partition(" ")
            msg = self.fmt(T.ACCESS, ev.service, ms=ev.duration_ms, status=ev.status, method=method,
                           path=path.replace("{id}", str(r.randint(1, 99999))), clf_time=ev.ts.strftime("%d/%b/%Y:%H:%M:%S +0000"))
            self.add(ev.ts, ev.service, ev.instance, level, msg, ev.trace_id)
        elif ev.kind == "request" and spec.kind == "service":
            self.add(ev.ts, ev.service, ev.instance, "INFO", self.fmt(r.choice(T.REQUEST[spec.lang]), ev.service, ms=ev.duration_ms),
                     ev.trace_id)
        elif ev.kind == "call_error":
            pkind = self.system.services[ev.peer or ""].kind
            reason = ev.reason or "5xx"
            if reason == "5xx" and ev.peer == self.plan.root and self.plan.variant == "disk_full" and pkind != "service":
                reason = "disk"
            group = T.CALL_ERROR.get((reason, pkind)) or T.CALL_ERROR.get((reason, "any")) or T.CALL_ERROR[("5xx", "any")]
            tmpl = self.choose((ev.service, reason, pkind), group, k=1)
            msg = self.fmt(tmpl, ev.service, peer=ev.peer, ms=r.uniform(800, 30000) if reason == "hang" else 0)
            self.add(ev.ts, ev.service, ev.instance, "ERROR", msg, ev.trace_id, kind=f"call:{ev.peer}")
        elif ev.kind == "fallback":
            msg = self.fmt(r.choice(T.FALLBACK), ev.service, reason=ev.reason or "error")
            self.add(ev.ts, ev.service, ev.instance, "WARN", msg, ev.trace_id, kind="fallback")
        elif ev.kind == "fault":
            key = f"{ev.reason}:{self.plan.variant}"
            group = T.FAULT.get(key) or T.FAULT.get(ev.reason or "") or T.FAULT["baseline"]
            tmpl = self.choose((ev.service, key), group)
            self.add(ev.ts, ev.service, ev.instance, "ERROR", self.fmt(tmpl, ev.service), ev.trace_id, kind="fault")


def timeline(w: LogWriter, window: TimeWindow, changes: list[Change]) -> None:
    """Lines the faulty service writes on its own (GC, pool stats, crashes) and startup lines after deploys."""
    plan, system, r = w.plan, w.system, w.rng
    spec = system.services[plan.root]
    insts = [plan.instance] if plan.instance else list(instances_at(plan, spec.name, spec.instances, plan.start))
    ft = plan.fault_type.value
    key = f"{ft}:{plan.variant}" if f"{ft}:{plan.variant}" in T.PERIODIC else ft
    t = plan.start + timedelta(seconds=r.uniform(3, 15))
    while key in T.PERIODIC and t < window.end:
        fill = heap_fill(plan, t)[0] if ft == "memory_pressure" else 0.0
        level = "WARN" if ft != "resource_exhaustion" else "ERROR"
        if ft != "memory_pressure" or fill > 0:
            w.add(t, spec.name, r.choice(insts), level, w.fmt(w.choose(("periodic", key), T.PERIODIC[key]), spec.name,
                                                              pct=int(fill * 100) or r.randint(90, 99), ms=r.uniform(250, 1600)))
        t += timedelta(seconds=r.uniform(8, 25))
    if ft == "memory_pressure":
        t = plan.start
        while t < window.end:
            t += timedelta(seconds=plan.leak_s)
            if t < window.end:
                for tmpl in T.OOM_KILL:
                    w.add(t, spec.name, insts[0], "ERROR", w.fmt(tmpl, spec.name, instance=insts[0]))
                _startup(w, t + timedelta(seconds=12), spec.name, insts[0], w.version)
            t += timedelta(seconds=15)
    if ft == "crash_loop":
        for crash, restart in crash_times(plan, window.end):
            inst = insts[0]
            w.add(crash, spec.name, inst, "ERROR", w.fmt(w.choose(("crash",), T.CRASH.get(spec.lang, T.CRASH["go"])), spec.name))
            w.add(crash + timedelta(milliseconds=300), spec.name, inst, "ERROR",
                  f"process exited with code {r.choice([1, 2, 134, 139])}; restart count {r.randint(1, 3)}")
            if restart < window.end:
                _startup(w, restart, spec.name, inst, w.version)
    if ft == "dependency_outage":
        group = (T.DATASTORE_DOWN if plan.variant == "down" else T.DATASTORE_HUNG).get(spec.kind, ())
        for i, tmpl in enumerate(group):
            w.add(plan.start - timedelta(seconds=2 - i * 0.5), spec.name, spec.instances[0],
                  "ERROR" if "FATAL" in tmpl or "timed out" in tmpl else "WARN", w.fmt(tmpl, spec.name))
    for ch in changes:
        if not window.start <= ch.ts < window.end or ch.service not in system.services:
            continue
        cspec = system.services[ch.service]
        if ch.kind == "deploy":
            new = plan.new_instances if ch.service == plan.root and plan.new_instances else cspec.instances
            for k, inst in enumerate(new):
                _startup(w, ch.ts + timedelta(seconds=8 + 6 * k), cspec.name, inst, ch.version or w.version)
        elif ch.kind == "config" and cspec.kind == "service":
            reload = T.CONFIG_RELOAD if ch.service == plan.root and ft == "config_change" else T.CONFIG_RELOAD[:1]
            for k, tmpl in enumerate(reload):
                w.add(ch.ts + timedelta(seconds=4 + k * 0.2), cspec.name, cspec.instances[0],
                      "INFO" if k == 0 else "WARN", w.fmt(tmpl, cspec.name, cfg=ch.version or "cfg"))


def _startup(w: LogWriter, ts: datetime, service: str, instance: str, version: str) -> None:
    spec = w.system.services[service]
    tmpl = T.STARTUP.get(spec.lang) or T.STARTUP.get(spec.kind, "started")
    w.add(ts, service, instance, "INFO", w.fmt(tmpl, service, version=version, ms=w.rng.uniform(6000, 25000)))


def noise(w: LogWriter, window: TimeWindow, per_minute: float) -> None:
    """Benign warnings and errors everywhere, including one chronically noisy service."""
    r, names = w.rng, sorted(w.system.services)
    t = window.start
    while True:
        t += timedelta(seconds=r.expovariate(per_minute / 60.0))
        if t >= window.end:
            break
        svc = r.choice(names)
        spec = w.system.services[svc]
        level, tmpl = r.choice(T.DB_NOISE if spec.kind != "service" else T.NOISE)
        peer = r.choice(w.system.callees(svc) or [svc])
        w.add(t, svc, r.choice(spec.instances), level, w.fmt(tmpl, svc, peer=peer))
    apps = [n for n in names if w.system.services[n].kind == "service" and n != w.plan.root]
    if apps:
        noisy = r.choice(apps)
        level, tmpl = r.choice([x for x in T.NOISE if x[0] == "ERROR"])
        t = window.start + timedelta(seconds=r.uniform(0, 90))
        while t < window.end:
            w.add(t, noisy, r.choice(w.system.services[noisy].instances), level, w.fmt(tmpl, noisy, peer=noisy))
            t += timedelta(seconds=r.uniform(50, 150))
