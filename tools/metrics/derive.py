"""Derived metric series: the network gap of a call edge, from both ends' view of it.

When a call edge is measured by the caller ('client_<m>', instance 'caller->callee') and by
the callee ('<m>', same instance), the caller's view divided by the callee's at the same
timestamp grows with the time spent between the two (network, proxies, queues): a delay on
either end's network raises it, while slowness inside the callee raises both views alike.
A ratio rather than a difference keeps a slow callee's noisy percentiles from looking like a gap.
"""

from __future__ import annotations

from collections.abc import Iterable

from lumos.tools.domain import MetricSample

GAP_PREFIX = "edge_gap_ratio_"
FLOOR_MS = 0.1
CLIENT_PREFIX = "client_"


def edge_gap_series(samples: Iterable[MetricSample]) -> list[MetricSample]:
    """`edge_gap_ratio_<m>` samples ((client + 0.1) / (server + 0.1)) for every edge instance
    measured on both sides at the same timestamps; the sample's service is the callee.
    """
    server: dict[tuple[str, str, object], float] = {}
    client: list[MetricSample] = []
    for s in samples:
        if not s.instance or "->" not in s.instance:
            continue
        if s.metric.startswith(CLIENT_PREFIX):
            client.append(s)
        else:
            server[(s.metric, s.instance, s.ts)] = s.value
    out: list[MetricSample] = []
    for c in client:
        base_metric = c.metric[len(CLIENT_PREFIX):]
        sv = server.get((base_metric, c.instance, c.ts))
        if sv is None:
            continue
        callee = c.instance.partition("->")[2].strip()
        out.append(MetricSample.model_construct(ts=c.ts, service=callee, instance=c.instance, metric=GAP_PREFIX + base_metric, value=(max(c.value, 0.0) + FLOOR_MS) / (max(sv, 0.0) + FLOOR_MS)))
    return out
