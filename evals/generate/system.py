"""The simulated system: services with instances, a call DAG and request endpoints (call trees)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lumos.evals.generate.rng import hex_id
from lumos.evals.generate.vocab import DOMAINS, LANGS, NAME_STYLES, TABLES, Domain

PORTS = {"database": 5432, "cache": 6379, "queue": 9092, "service": 8080}


@dataclass(frozen=True)
class SvcSpec:
    """One service of the simulated system."""

    name: str
    kind: str  # service | database | cache | queue
    tier: str  # edge | mid | leaf
    lang: str
    instances: tuple[str, ...]
    ips: tuple[str, ...]
    base_ms: float  # median self time of one request
    port: int


@dataclass(frozen=True)
class CallNode:
    """One hop of an endpoint's call tree."""

    service: str
    operation: str
    children: tuple["CallNode", ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A user-facing request type: its call tree and relative traffic weight."""

    name: str
    weight: float
    tree: CallNode


@dataclass(frozen=True)
class Layout:
    """A fixed system shape (names, kinds, calls) instead of a generated one, e.g. for the demo case."""

    system: str
    services: tuple[tuple[str, str], ...]  # (name, kind); the first one is the entry (edge) service
    calls: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class System:
    """Services, calls and endpoints of one simulated application."""

    name: str
    services: dict[str, SvcSpec]
    calls: tuple[tuple[str, str], ...]
    entry: str
    endpoints: tuple[Endpoint, ...] = field(default=())

    def callees(self, name: str) -> list[str]:
        """Services that `name` calls, in a stable order."""
        return [b for a, b in self.calls if a == name]

    def callers(self, name: str) -> list[str]:
        """Services that call `name`."""
        return [a for a, b in self.calls if b == name]


def _pick_names(rng: random.Random, domain: Domain, n: int) -> list[tuple[str, str, str]]:
    """(name, kind, tier) for n services: one edge, datastores, the rest mid-tier services."""
    prefix, suffix = rng.choice(NAME_STYLES)
    stores: list[tuple[str, str]] = [("database", rng.choice(domain.databases))]
    if n >= 5:
        stores.append(("cache", rng.choice(domain.caches)))
    if n >= 10:
        stores.append(("queue", rng.choice(domain.queues)))
    if n >= 14:
        stores.append(("database", next(d for d in domain.databases if d != stores[0][1])))
    n_mid = n - 1 - len(stores)
    stems = list(domain.stems)
    rng.shuffle(stems)
    mids = [stems[i % len(stems)] + (f"-{i // len(stems) + 1}" if i >= len(stems) else "") for i in range(n_mid)]
    out = [(rng.choice(domain.edges), "service", "edge")]
    out += [(f"{prefix}{m}{suffix}", "service", "mid") for m in mids]
    out += [(name, kind, "leaf") for kind, name in stores]
    return out


def _generated_calls(rng: random.Random, named: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """A layered DAG: edge -> level-1 mids -> deeper mids -> datastores; everything reachable."""
    edge = named[0][0]
    mids = [n for n, _, t in named if t == "mid"]
    stores = [n for n, _, t in named if t == "leaf"]
    n_levels = 1 if len(mids) <= 2 else (2 if len(mids) <= 6 else 3)
    first = max(1, min(len(mids), round(len(mids) * rng.uniform(0.35, 0.55)), 6))
    levels: list[list[str]] = [mids[:first]]
    rest = mids[first:]
    for lvl in range(1, n_levels):
        take = len(rest) if lvl == n_levels - 1 else max(1, len(rest) // 2)
        if rest:
            levels.append(rest[:take])
            rest = rest[take:]
    levels[-1].extend(rest)
    calls: set[tuple[str, str]] = {(edge, m) for m in levels[0]}
    for depth in range(1, len(levels)):
        upper = [m for lv in levels[:depth] for m in lv]
        for m in levels[depth]:
            calls.add((rng.choice(levels[depth - 1]), m))
            if rng.random() < 0.35:
                calls.add((rng.choice(upper), m))
    for store in stores:
        users = rng.sample(mids, k=min(len(mids), rng.randint(1, 3))) if mids else [edge]
        calls.update((u, store) for u in users)
    for m in mids + stores:  # repair: every service is reachable from the entry
        if not any(b == m for _, b in calls):
            calls.add((edge, m))
    leaves = [m for m in mids if not any(a == m for a, _ in calls)]
    for m in leaves:
        if stores and rng.random() < 0.6:
            calls.add((m, rng.choice(stores)))
    return sorted(calls)


def _operation(rng: random.Random, kind: str, name: str, style: str) -> str:
    """A plausible operation name for a hop to a service of this kind."""
    if kind == "database":
        return f"{rng.choice(['SELECT', 'SELECT', 'INSERT', 'UPDATE'])} {rng.choice(TABLES)}"
    if kind == "cache":
        return rng.choice(["GET", "GET", "MGET", "SET", "HGETALL"])
    if kind == "queue":
        return f"publish {name.split('-')[0]}.{rng.choice(['created', 'updated', 'completed'])}"
    stem = name.replace("-service", "").replace("-svc", "").replace("-api", "").removesuffix("service")
    verb = rng.choice(["Get", "List", "Create", "Update", "Check", "Reserve", "Quote"])
    if style == "grpc":
        return f"{stem}.{stem.title().replace('-', '')}Service/{verb}{rng.choice(['', 'Items', 'Status', 'ById'])}"
    method = "GET" if verb in ("Get", "List", "Check") else "POST"
    return f"{method} /api/v1/{stem}/{verb.lower()}"


def _tree(rng: random.Random, system: dict[str, SvcSpec], calls: list[tuple[str, str]], svc: str, op: str,
          must: list[str], depth: int, budget: list[int], style: str) -> CallNode:
    """Expand one hop: include a random subset of callees (always the next hop of `must`)."""
    kids: list[CallNode] = []
    for callee in [b for a, b in calls if a == svc]:
        forced = bool(must) and must[0] == callee
        if budget[0] <= 0 or depth >= 5 or not (forced or rng.random() < 0.55):
            continue
        repeats = rng.choice([1, 1, 2]) if system[callee].kind in ("database", "cache") else 1
        for _ in range(repeats):
            budget[0] -= 1
            kids.append(_tree(rng, system, calls, callee, _operation(rng, system[callee].kind, callee, style),
                              must[1:] if forced else [], depth + 1, budget, style))
    return CallNode(svc, op, tuple(kids))


def _path_to(calls: list[tuple[str, str]], entry: str, target: str, rng: random.Random) -> list[str]:
    """A random call path from entry to target (excluding entry), or [] when target is the entry."""
    path = [target]
    while path[0] != entry:
        callers = sorted(a for a, b in calls if b == path[0])
        path.insert(0, rng.choice(callers))
    return path[1:]


def _services_in(node: CallNode) -> set[str]:
    """Every service a call tree touches."""
    return {node.service}.union(*(_services_in(c) for c in node.children))


def build_endpoints(rng: random.Random, services: dict[str, SvcSpec], calls: list[tuple[str, str]], entry: str,
                    focus: str, max_hops: int = 14) -> tuple[Endpoint, ...]:
    """A handful of request types; at least two of them pass through `focus` (the fault's service)."""
    style = rng.choice(["http", "grpc"])
    first = sorted(b for a, b in calls if a == entry)
    n_eps = min(12, max(3, len(first) + 1, len(services) // 3))
    endpoints: list[Endpoint] = []
    covered: set[str] = set()
    for i in range(n_eps):
        uncovered = sorted(set(services) - covered - {entry})
        through = focus if i < 2 else rng.choice(uncovered or sorted(services))
        must = _path_to(calls, entry, through, rng)
        if i >= 2 and focus in must:
            must = []
        stem = (must[0] if must else rng.choice(first)).split("-")[0].removesuffix("service") or "home"
        name = f"{rng.choice(['GET', 'POST', 'GET'])} /api/{stem}{rng.choice(['', '/{id}', 's', '/summary'])}"
        tree = _tree(rng, services, calls, entry, name, must, 0, [max_hops], style)
        endpoints.append(Endpoint(name=f"{name}#{i}", weight=round(rng.uniform(1.0, 5.0), 2), tree=tree))
        covered |= _services_in(tree)
    return tuple(endpoints)


def build_system(rng: random.Random, n_services: int, layout: Layout | None = None) -> System:
    """Generate (or take from `layout`) names and calls, then instances, IPs and base latencies."""
    if layout is not None:
        entry = layout.services[0][0]
        named = [(n, k, "edge" if n == entry else ("leaf" if k != "service" else "mid")) for n, k in layout.services]
        calls = sorted(set(layout.calls))
        system_name = layout.system
    else:
        domain = rng.choice(DOMAINS)
        named = _pick_names(rng, domain, max(3, n_services))
        calls = _generated_calls(rng, named)
        entry, system_name = named[0][0], domain.name
    services: dict[str, SvcSpec] = {}
    for i, (name, kind, tier) in enumerate(named):
        if kind == "service":
            n_inst = 2 if tier == "edge" else rng.choice([1, 2, 2])
            rs = hex_id(rng, 9) if rng.random() < 0.5 else hex_id(rng, 10)
            insts = tuple(f"{name}-{rs}-{hex_id(rng, 5)}" for _ in range(n_inst))
            base = rng.uniform(2.0, 6.0) if tier == "edge" else rng.uniform(3.0, 25.0)
        else:
            insts = (f"{name}-0",)
            base = {"database": rng.uniform(1.5, 8.0), "cache": rng.uniform(0.3, 1.2)}.get(kind, rng.uniform(1.0, 4.0))
        ips = tuple(f"10.{rng.randint(0, 3)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}" for _ in insts)
        services[name] = SvcSpec(name, kind, tier, rng.choice(LANGS) if kind == "service" else kind, insts, ips,
                                 round(base, 2), PORTS[kind])
    return System(system_name, services, tuple(calls), entry)
