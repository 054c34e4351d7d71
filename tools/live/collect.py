"""Read everything an investigation needs from the live sources, once, into a case folder.

The folder (case format: case.yaml, alert.json, logs.jsonl, spans.jsonl, metrics.csv,
topology.yaml, changes.jsonl) is what the graph's agents then read, so every node of one
incident sees the same data, a resumed incident reads it again in any process, and
`lumos cases record` turns it into an evaluation case that replays to the same ranking.
`sources.json` beside it says which source answered, how much it gave, which caps were hit,
and why a source failed. A failing source never stops the collection.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel

from lumos.tools.casefiles import read_yaml
from lumos.tools.domain import Alert, CallEdge, Change, LogRecord, MetricSample, TimeWindow, Topology
from lumos.tools.live.config import Lookback
from lumos.tools.live.stack import LiveStack
from lumos.tools.topology.derive import with_services

STATUS_FILE = "sources.json"
ORDER = ("metrics", "logs", "traces", "changes", "topology")
_SOURCE_OF = {"_logs": ("logs",), "_metrics": ("metrics",), "_spans": ("traces",), "_changes": ("changes", "changes.kubernetes"),
              "_topology": ("topology",)}
Redact = Callable[[str], str]


class SourceStatus(BaseModel):
    """How one source answered: ok or not, what it gave, and why not."""

    source: str
    ok: bool
    items: int = 0
    detail: str = ""
    capped: bool = False
    """A cap on what is read was hit: some data was left out."""
    partial: bool = False
    """Some of the source's queries failed, others answered."""
    seconds: float | None = None
    """How long reading it took."""

    def line(self) -> str:
        """One line for notes, the console and the report."""
        took = f" ({self.seconds:.1f} s)" if self.seconds is not None else ""
        if not self.ok:
            return f"source {self.source} failed{took}: {self.detail}"
        return f"source {self.source}{took}: {self.detail or f'{self.items} item(s)'}"


class Collected(BaseModel):
    """What a collection read: its window and each source's status."""

    window: TimeWindow
    alert_time: datetime
    statuses: list[SourceStatus]

    def failed(self) -> list[SourceStatus]:
        """The sources that did not answer."""
        return [s for s in self.statuses if not s.ok]

    def notes(self) -> list[str]:
        """Lines worth a responder's attention: failed sources and caps hit."""
        return [s.line() for s in self.statuses if not s.ok or s.capped or s.partial]


def live_window(alert_time: datetime, lookback: Lookback, onset_lookback_s: float, now: datetime) -> TimeWindow:
    """[startsAt - onset_lookback - baseline, min(startsAt + after, now)): a baseline before the earliest onset the
    diagnosis considers, and the incident itself."""
    onset = alert_time - timedelta(seconds=onset_lookback_s)
    end = min(alert_time + timedelta(seconds=lookback.after_s), max(now, alert_time + timedelta(seconds=1)))
    return TimeWindow(start=onset - timedelta(seconds=lookback.baseline_s), end=end)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
            fh.write("\n")


def alertmanager_payload(alert: Alert) -> dict:
    """`alert` as an Alertmanager v4 payload that normalises back to the same name, severity, service and text."""
    labels = {**alert.labels, "alertname": alert.name, "severity": alert.severity}
    if alert.service:
        labels["service"] = alert.service
    annotations = {**alert.annotations, "summary": alert.summary, "description": alert.description}
    item = {"status": alert.status, "labels": labels, "annotations": annotations, "startsAt": _iso(alert.starts_at),
            "endsAt": _iso(alert.ends_at) if alert.ends_at else "0001-01-01T00:00:00Z", "generatorURL": alert.generator_url or "",
            "fingerprint": alert.fingerprint}
    return {"version": "4", "status": alert.status, "receiver": "lumos", "groupKey": "", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "alerts": [item]}


class Collector:
    """Collects one incident's data from a live stack into a case folder."""

    def __init__(self, stack: LiveStack, *, onset_lookback_s: float, redact: Redact = lambda text: text):
        self.stack = stack
        self.onset_lookback_s = onset_lookback_s
        self.redact = redact

    def collect(self, alert: Alert, out: Path, *, case_id: str, now: datetime | None = None) -> Collected:
        """Write the case folder `out` (atomically: it appears whole or not at all) and return the statuses."""
        sources = self.stack.config.sources
        now = now or datetime.now(timezone.utc)
        window = live_window(alert.starts_at, sources.window, self.onset_lookback_s, now)
        statuses: list[SourceStatus] = []
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="lumos-collect") as pool:  # the sources answer in parallel
                logs_f = pool.submit(self._timed, self._logs, window, statuses)
                metrics_f = pool.submit(self._timed, self._metrics, window, statuses)
                spans_f = pool.submit(self._timed, self._spans, window, tmp / "spans.jsonl", statuses)
                changes_f = pool.submit(self._timed, self._changes, alert, window, statuses)
                logs, metrics, changes = logs_f.result(), metrics_f.result(), changes_f.result()
                spans_f.result()
            seen = {r.service for r in logs} | {m.service for m in metrics} | {c.service for c in changes} | {alert.service or ""}
            topology = self._timed(self._topology, window, seen, statuses)
            statuses.sort(key=lambda st: ORDER.index(st.source.split(".")[0]))
            self._write(tmp, alert, case_id, window, logs, metrics, changes, topology, statuses)
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Collected(window=window, alert_time=alert.starts_at, statuses=statuses)

    @staticmethod
    def _timed(read: Callable[..., Any], *args: Any) -> Any:
        """Run one source's reader (they run in parallel; statuses are only appended); its statuses get the seconds it took."""
        statuses: list[SourceStatus] = args[-1]
        t0 = time.perf_counter()
        try:
            return read(*args)
        finally:
            took = round(time.perf_counter() - t0, 3)
            mine = _SOURCE_OF[read.__name__]
            for i, status in enumerate(list(statuses)):
                if status.source in mine and status.seconds is None:
                    statuses[i] = status.model_copy(update={"seconds": took})

    # -- one method per source: each catches its own failure ---------------------------------

    def _logs(self, window: TimeWindow, statuses: list[SourceStatus]) -> list[LogRecord]:
        conf = self.stack.config.sources.logs
        if conf is None:
            return []
        from lumos.tools.live.logs import connect, fetch_logs

        try:
            source = connect(conf)
            got = fetch_logs(source, window, conf.max_lines)
        except Exception as exc:  # unreachable, 5xx, timeout, auth: the investigation goes on without logs
            statuses.append(SourceStatus(source="logs", ok=False, detail=f"{conf.url}: {failure_reason(exc)}"))
            return []
        detail = f"{len(got.records)} line(s)"
        if got.capped:
            detail = (f"read {len(got.records)} of {got.total} lines (cap sources.logs.max_lines = {conf.max_lines}), "
                      f"spread over the window; per-service counts from the server: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(got.per_service.items(), key=lambda kv: -kv[1])[:8]))
        statuses.append(SourceStatus(source="logs", ok=True, items=len(got.records), detail=detail, capped=got.capped))
        return [r.model_copy(update={"message": self.redact(r.message)}) for r in got.records]

    def _metrics(self, window: TimeWindow, statuses: list[SourceStatus]) -> list[MetricSample]:
        conf = self.stack.config.sources.metrics
        if conf is None:
            return []
        from lumos.tools.live.metrics import LiveMetrics

        try:
            got = LiveMetrics(conf).fetch(window)
        except Exception as exc:
            statuses.append(SourceStatus(source="metrics", ok=False, detail=f"{conf.url}: {failure_reason(exc)}"))
            return []
        names = sorted({s.metric for s in got.samples})
        if got.failures and not got.samples:
            statuses.append(SourceStatus(source="metrics", ok=False, detail="; ".join(got.notes()[:3])))
        else:
            detail = f"{len(got.samples)} sample(s) of {', '.join(names) or 'no signal'}"
            if got.failures:
                detail += "; failed: " + "; ".join(got.notes()[:3])
            statuses.append(SourceStatus(source="metrics", ok=True, items=len(got.samples), detail=detail, partial=bool(got.failures)))
        return got.samples

    def _spans(self, window: TimeWindow, path: Path, statuses: list[SourceStatus]) -> None:
        conf = self.stack.config.sources.traces
        if conf is None:
            return
        try:
            count, capped = self.stack.spans.write_jsonl(window, path, limit=conf.max_spans)
        except Exception as exc:
            path.unlink(missing_ok=True)
            statuses.append(SourceStatus(source="traces", ok=False, detail=f"span store: {failure_reason(exc)}"))
            return
        if not count:
            path.unlink(missing_ok=True)
        detail = f"{count} span(s) received over OTLP"
        if capped:
            detail = f"read the first {count} spans of the window (cap sources.traces.max_spans); later ones left out"
        statuses.append(SourceStatus(source="traces", ok=True, items=count, detail=detail, capped=capped))

    def _changes(self, alert: Alert, window: TimeWindow, statuses: list[SourceStatus]) -> list[Change]:
        conf = self.stack.config.sources.changes
        if conf is None:
            return []
        since = TimeWindow(start=min(window.start, alert.starts_at - timedelta(seconds=conf.lookback_s)), end=window.end)
        found: list[Change] = []
        if conf.webhook:
            try:
                found += self.stack.changes.window(since)
                statuses.append(SourceStatus(source="changes", ok=True, items=len(found), detail=f"{len(found)} change(s) from the webhook"))
            except Exception as exc:
                statuses.append(SourceStatus(source="changes", ok=False, detail=f"change store: {failure_reason(exc)}"))
        if conf.kubernetes is not None:
            from lumos.tools.live.kube import KubernetesReader, api_client

            try:
                rollouts = KubernetesReader(api_client(conf.kubernetes), conf.kubernetes.namespace).rollouts(since)
                found += rollouts
                statuses.append(SourceStatus(source="changes.kubernetes", ok=True, items=len(rollouts),
                                             detail=f"{len(rollouts)} rollout(s) in namespace {conf.kubernetes.namespace}"))
            except Exception as exc:
                statuses.append(SourceStatus(source="changes.kubernetes", ok=False, detail=failure_reason(exc)))
        return [c.model_copy(update={"summary": self.redact(c.summary)}) for c in sorted(found, key=lambda c: c.ts)]

    def _topology(self, window: TimeWindow, seen: set[str], statuses: list[SourceStatus]) -> Topology | None:
        conf = self.stack.config.sources.topology
        if conf is None:
            return None  # derived from the collected data when the folder is read
        try:
            if conf.type == "static":
                base = read_yaml(self.stack.config.resolve(conf.file) or Path(), Topology)
            elif conf.type == "kubernetes":
                from lumos.tools.live.kube import KubernetesReader, api_client

                assert conf.kubernetes is not None
                base = KubernetesReader(api_client(conf.kubernetes), conf.kubernetes.namespace).topology()
            else:
                base = Topology()
            if conf.type != "static":  # plus the services and call edges (span parentage) of the stored spans
                names, edges = self.stack.spans.edges(window)
                base = with_services(base, names)
                known = {(e.caller, e.callee) for e in base.calls}
                base = base.model_copy(update={"calls": [*base.calls, *(CallEdge(caller=a, callee=b) for a, b in edges if (a, b) not in known)]})
        except Exception as exc:
            statuses.append(SourceStatus(source="topology", ok=False, detail=f"{conf.type}: {failure_reason(exc)}; derived from the data instead"))
            return None
        topology = with_services(base, sorted(seen))
        statuses.append(SourceStatus(source="topology", ok=True, items=len(topology.services),
                                     detail=f"{conf.type}: {len(topology.services)} service(s), {len(topology.calls)} call edge(s)"))
        return topology

    # -- the folder ---------------------------------------------------------------------------

    def _write(self, folder: Path, alert: Alert, case_id: str, window: TimeWindow, logs: list[LogRecord], metrics: list[MetricSample],
               changes: list[Change], topology: Topology | None, statuses: list[SourceStatus]) -> None:
        """Every file but spans.jsonl (written straight from the span store)."""
        info = {"id": case_id, "title": alert.summary or alert.name, "system": "live", "source": "lumos live investigation",
                "window": {"start": _iso(window.start), "end": _iso(window.end)}, "alert_time": _iso(alert.starts_at),
                "notes": "; ".join(s.line() for s in statuses)}
        (folder / "case.yaml").write_text(yaml.safe_dump(info, sort_keys=False), encoding="utf-8")
        (folder / "alert.json").write_text(json.dumps(alertmanager_payload(alert), indent=1), encoding="utf-8")
        if logs:
            _jsonl(folder / "logs.jsonl", [{"ts": _iso(r.ts), "service": r.service, "instance": r.instance, "level": r.level,
                                            "message": r.message, "trace_id": r.trace_id} for r in logs])
        if metrics:
            with (folder / "metrics.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["ts", "service", "instance", "metric", "value"])
                writer.writerows([_iso(m.ts), m.service, m.instance or "", m.metric, repr(m.value)] for m in metrics)
        if changes:
            _jsonl(folder / "changes.jsonl", [c.model_dump(mode="json") for c in changes])
        if topology is not None:
            (folder / "topology.yaml").write_text(yaml.safe_dump(topology.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
        (folder / STATUS_FILE).write_text(json.dumps([s.model_dump() for s in statuses], indent=1), encoding="utf-8")


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a failed source (no traceback)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def read_statuses(folder: Path) -> list[SourceStatus]:
    """The statuses a collection wrote beside its data ([] for a recorded case)."""
    path = folder / STATUS_FILE
    if not path.is_file():
        return []
    return [SourceStatus.model_validate(s) for s in json.loads(path.read_text(encoding="utf-8"))]
