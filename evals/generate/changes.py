"""Change records: the causal deploy/config change (when the fault is one) and distractor changes elsewhere."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from lumos.tools.domain import Change, FaultType, TimeWindow

from lumos.evals.generate.faults import FaultPlan
from lumos.evals.generate.rng import hex_id
from lumos.evals.generate.system import System
from lumos.evals.generate.vocab import FIRST_NAMES

F = FaultType


def _semver(rng: random.Random) -> tuple[str, str]:
    """(new, previous) versions of a routine rollout."""
    major, minor, patch = rng.randint(1, 4), rng.randint(0, 30), rng.randint(0, 12)
    new = f"{major}.{minor}.{patch}"
    prev = f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.{rng.randint(3, 9)}" if minor else f"{major - 1}.9.0"
    return new, prev


def _change(rng: random.Random, ts: datetime, service: str, kind: str) -> Change:
    """One change of `kind` on `service` with plausible metadata (and a neutral summary)."""
    author = rng.choice(FIRST_NAMES)
    attrs: dict = {"author": author, "pipeline": f"pl-{rng.randint(10000, 99999)}"}
    if kind == "deploy":
        new, prev = _semver(rng)
        attrs["commit"] = hex_id(rng, 7)
        return Change(ts=ts, service=service, kind="deploy", summary=f"rollout {service} {new}", version=new,
                      previous_version=prev, attrs=attrs)
    if kind == "config":
        new, prev = f"cfg-{hex_id(rng, 6)}", f"cfg-{hex_id(rng, 6)}"
        keys = rng.sample(["http.client.timeout_ms", "db.pool.max_size", "cache.ttl_s", "retry.max_attempts",
                           "log.level", "rate_limit.rps", "features.strategy"], k=rng.randint(1, 3))
        attrs["keys"] = sorted(keys)
        return Change(ts=ts, service=service, kind="config", summary=f"update {service} configmap ({len(keys)} keys)",
                      version=new, previous_version=prev, attrs=attrs)
    if kind == "feature_flag":
        flag = rng.choice(["new-search-ranking", "async-receipts", "bulk-pricing", "dark-mode", "smart-retry", "v2-api"])
        pct = rng.choice([5, 10, 25, 50, 100])
        attrs.update(flag=flag, rollout_pct=pct)
        return Change(ts=ts, service=service, kind="feature_flag", summary=f"flag {flag} -> {pct}%", attrs=attrs)
    if kind == "scale":
        a = rng.randint(2, 4)
        b = a + rng.choice([-1, 1, 2])
        attrs.update(replicas_from=a, replicas_to=b)
        return Change(ts=ts, service=service, kind="scale", summary=f"scale {service} {a} -> {b} replicas", attrs=attrs)
    what = rng.choice(["node pool upgrade", "certificate rotation", "kernel patch on node", "storage class migration"])
    return Change(ts=ts, service=service, kind="infra", summary=what, attrs=attrs)


def build_changes(rng: random.Random, system: System, plan: FaultPlan, window: TimeWindow) -> list[Change]:
    """The causal change (bad_deploy / config_change) plus 2-4 distractors, one of them close to the fault."""
    out: list[Change] = []
    if plan.fault_type == F.bad_deploy:
        out.append(_change(rng, (plan.start - timedelta(seconds=rng.uniform(15, 150))).replace(microsecond=0), plan.root, "deploy"))
    elif plan.fault_type == F.config_change:
        out.append(_change(rng, (plan.start - timedelta(seconds=rng.uniform(5, 60))).replace(microsecond=0), plan.root, "config"))
    others = sorted(n for n in system.services if n != plan.root)
    n_distract = rng.randint(2, 4)
    deployed: set[str] = set()
    for k in range(n_distract):
        svc = rng.choice(others)
        if k == 0:  # a change on another service shortly before (or after) the fault: "blame the latest" fails
            ts = plan.start + timedelta(seconds=rng.uniform(-600, 90))
            kind = rng.choice(["deploy", "deploy", "config", "feature_flag"])
        else:
            ts = window.start + timedelta(seconds=rng.uniform(-4 * 3600, window.seconds))
            kind = rng.choice(["deploy", "config", "feature_flag", "scale", "infra"])
        if kind == "deploy" and svc in deployed:
            kind = "scale"
        if kind not in ("scale", "infra") and system.services[svc].kind != "service":
            kind = "infra"
        if kind == "deploy":
            deployed.add(svc)
        out.append(_change(rng, ts.replace(microsecond=0), svc, kind))
    return sorted(out, key=lambda c: (c.ts, c.service))
