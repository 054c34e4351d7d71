"""`lumos config check --probe`: ask each configured source one cheap question and say which answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from lumos.tools.casefiles import read_yaml
from lumos.tools.domain import TimeWindow, Topology
from lumos.tools.live.collect import SourceStatus, failure_reason
from lumos.tools.live.config import StackConfig, read_secret
from lumos.tools.live.stack import LiveStack


def _metrics(config: StackConfig) -> SourceStatus:
    conf = config.sources.metrics
    assert conf is not None
    try:
        headers = dict(conf.headers)
        token = read_secret(conf.bearer_token_env, "sources.metrics.bearer_token_env")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        resp = httpx.get(conf.url.rstrip("/") + "/api/v1/query", params={"query": "vector(1)"}, headers=headers, timeout=conf.timeout_s)
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        if resp.status_code == 200 and body.get("status") == "success":
            return SourceStatus(source="metrics", ok=True, detail=f"{conf.url} answers PromQL")
        return SourceStatus(source="metrics", ok=False, detail=f"{conf.url}: HTTP {resp.status_code} {resp.text[:120]!r}")
    except Exception as exc:
        return SourceStatus(source="metrics", ok=False, detail=f"{conf.url}: {failure_reason(exc)}")


def _logs(config: StackConfig) -> SourceStatus:
    conf = config.sources.logs
    assert conf is not None
    from lumos.tools.live.logs import connect

    try:
        source = connect(conf)
        count = source.client.options(request_timeout=conf.timeout_s).count(index=conf.index)
        return SourceStatus(source="logs", ok=True, items=int(count.get("count", 0)), detail=f"{conf.url} index {conf.index}: {count.get('count', 0)} documents")
    except Exception as exc:
        return SourceStatus(source="logs", ok=False, detail=f"{conf.url}: {failure_reason(exc)}")


def _stores(config: StackConfig, state_dir: Path) -> list[SourceStatus]:
    wanted = []
    if config.sources.traces is not None:
        wanted.append("traces")
    if config.sources.changes is not None and config.sources.changes.webhook:
        wanted.append("changes")
    if not wanted:
        return []
    try:
        stack = LiveStack.open(config, state_dir)
    except Exception as exc:
        return [SourceStatus(source=name, ok=False, detail=f"database: {failure_reason(exc)}") for name in wanted]
    try:
        out = []
        now = datetime.now(timezone.utc)
        if "traces" in wanted:
            out.append(SourceStatus(source="traces", ok=True, items=stack.spans.count(), detail=f"span store holds {stack.spans.count()} span(s)"))
        if "changes" in wanted:
            got = stack.changes.window(TimeWindow(start=now - timedelta(days=30), end=now + timedelta(seconds=1)))
            out.append(SourceStatus(source="changes", ok=True, items=len(got), detail=f"{len(got)} change(s) in the last 30 days"))
        return out
    except Exception as exc:
        return [SourceStatus(source=name, ok=False, detail=f"database: {failure_reason(exc)}") for name in wanted]
    finally:
        stack.close()


def _kubernetes(config: StackConfig) -> list[SourceStatus]:
    from lumos.tools.live.kube import KubernetesReader, api_client

    out = []
    topo, changes = config.sources.topology, config.sources.changes
    for name, access in (("topology", topo.kubernetes if topo and topo.type == "kubernetes" else None),
                         ("changes.kubernetes", changes.kubernetes if changes else None)):
        if access is None:
            continue
        try:
            services = KubernetesReader(api_client(access), access.namespace).topology().services
            out.append(SourceStatus(source=name, ok=True, items=len(services), detail=f"namespace {access.namespace}: {len(services)} workload(s)"))
        except Exception as exc:
            out.append(SourceStatus(source=name, ok=False, detail=failure_reason(exc)))
    return out


def probe(config: StackConfig, state_dir: Path) -> list[SourceStatus]:
    """One status per configured source (never raises)."""
    out: list[SourceStatus] = []
    if config.sources.metrics is not None:
        out.append(_metrics(config))
    if config.sources.logs is not None:
        out.append(_logs(config))
    out += _stores(config, state_dir)
    topo = config.sources.topology
    if topo is not None and topo.type == "static":
        try:
            t = read_yaml(config.resolve(topo.file) or Path(), Topology)
            out.append(SourceStatus(source="topology", ok=True, items=len(t.services), detail=f"{topo.file}: {len(t.services)} service(s)"))
        except Exception as exc:
            out.append(SourceStatus(source="topology", ok=False, detail=str(exc)))
    out += _kubernetes(config)
    return out
