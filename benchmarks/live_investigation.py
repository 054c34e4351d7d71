"""Live investigation benchmark: alert -> ranked diagnosis from live sources, beside the same incident
replayed from a case folder, in the same run.

Usage: python benchmarks/live_investigation.py [--services 50] [--spans 200000] [--logs 100000] [--seed 7]

Set-up (not timed): a layered call graph of `--services` services with one injected fault (a
mid-layer service turns slow and fails part of its requests; its callers relay the errors), then
  - spans: stored in the span store of a `lumos serve` state folder (SQLite), as the OTLP receiver stores them;
  - logs: `--logs` ECS documents bulk-loaded into osmem-server (the OpenSearch-compatible server);
  - metrics: OpenTelemetry HTTP server metrics of every service backfilled into a private Prometheus
    (promtool tsdb create-blocks-from openmetrics), when Debian's prometheus is installed;
  - a deploy of the faulty service in the change store.
Timed, each in its own process (so peak RSS is that run's): `live` opens the lumos.yaml stack and runs
the incident from the alert to its ranked diagnosis (reading every source for the alert's window,
writing the incident's folder, analysing); `replay` runs the same incident from the case folder
`lumos cases record` makes of it. Printed: seconds and peak RSS of each, the ratio, and both rankings.
Target: live <= 2x replay and <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rca_scale import DURATION_S, ONSET_S, T0, layered_graph, make_spans  # noqa: E402

INDEX = "logs-bench"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: argparse.Namespace) -> None:
    """One timed run in this process; prints a JSON line (with --profile, the top functions on stderr)."""
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    from lumos.app.session import Session

    if args.child == "live":
        from lumos.app.cli.investigate_cmd import read_alert

        session = Session.open(Path(args.home), config=Path(args.config))
        outcome = session.runner.start(read_alert(Path(args.alert)), {"kind": "live"}, incident_id=args.incident)
    else:
        from lumos.evals.replay import start_case_incident

        session = Session.open(Path(args.home))
        _, outcome = start_case_incident(session.runner, session.settings.simenv_db, Path(args.case), incident_id=args.incident)
    seconds = time.perf_counter() - t0
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "ranking": [h.service for h in outcome.hypotheses[:5]],
                      "collect_s": outcome.timings.get("collect_s", 0.0), "diagnosis_s": outcome.timings.get("diagnosis_s", 0.0),
                      "notes": [n for n in outcome.notes if n.startswith("source ")]}))


def _openmetrics(services: list[str], root: str) -> str:
    """Per-service OpenTelemetry HTTP server metrics every 15 s over the data window (job = service)."""
    lines = ["# TYPE http_server_request_duration_seconds histogram"]
    buckets = (0.05, 0.25, 1.0)
    for svc in services:
        for code in ("200", "500"):
            for le in (*buckets, "+Inf"):
                series = []
                count = 0.0
                for step in range(int(DURATION_S // 15) + 1):
                    t = step * 15
                    bad = svc == root and t >= ONSET_S
                    rate = (7.0 if bad else 10.0) if code == "200" else (3.0 if bad else 0.0)
                    latency = 0.6 if bad else 0.03
                    if le == "+Inf" or latency <= le:
                        count += rate * 15
                    series.append(f'http_server_request_duration_seconds_bucket{{job="{svc}",http_response_status_code="{code}",le="{le}"}} '
                                  f"{count:g} {T0.timestamp() + t:.0f}")
                lines += series
            count = 0.0
            for step in range(int(DURATION_S // 15) + 1):
                t = step * 15
                bad = svc == root and t >= ONSET_S
                count += ((7.0 if bad else 10.0) if code == "200" else (3.0 if bad else 0.0)) * 15
                lines.append(f'http_server_request_duration_seconds_count{{job="{svc}",http_response_status_code="{code}"}} {count:g} {T0.timestamp() + t:.0f}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _log_docs(n: int, services: list[str], root: str, callers: set[str], rng: random.Random) -> list[dict]:
    docs = []
    for i in range(n):
        svc = services[i % len(services)]
        t = T0 + timedelta(seconds=DURATION_S * i / n)
        bad = (t - T0).total_seconds() >= ONSET_S
        if bad and svc == root and rng.random() < 0.4:
            message, level = f"request {i} failed: pool exhausted waiting for connection after {800 + i % 200}ms", "ERROR"
        elif bad and svc in callers and rng.random() < 0.2:
            message, level = f"upstream {root} returned 500 for request {i}", "WARN"
        else:
            message, level = f"handled request {i} in {3 + i % 17}ms", "INFO"
        docs.append({"_index": INDEX, "_id": f"l{i}", "_source": {"@timestamp": t.isoformat(), "service": {"name": svc},
                                                                  "log": {"level": level}, "message": message}})
    return docs


def _start_prometheus(base: Path, services: list[str], root: str) -> tuple[subprocess.Popen | None, str | None]:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        return None, None
    (base / "series.om").write_text(_openmetrics(services, root))
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(base / "series.om"), str(base / "tsdb")],
                   check=True, capture_output=True, timeout=120)
    (base / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([prometheus, f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={base / 'tsdb'}",
                             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("prometheus did not become ready")


def _run(kind: str, profile: bool, **kw: str) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, *[x for k, v in kw.items() for x in (f"--{k}", v)], *(["--profile"] if profile else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LUMOS_PLUGINS": "0"})
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    if profile:
        print(f"--- profile of the {kind} run ---\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="Profile both timed runs (cProfile, printed; slower).")
    for hidden in ("child", "home", "config", "alert", "case", "incident"):
        parser.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    import osmem_server
    from elasticsearch import Elasticsearch, helpers

    from lumos.tools.domain import Change
    from lumos.tools.live.changestore import ChangeStore
    from lumos.tools.live.spanstore import SpanStore
    from lumos.tools.live.stack import sqlite_path
    from lumos.tools.logs.elastic import PlainJsonNode
    from lumos.tools.sqldb import open_database

    rng = random.Random(args.seed)
    layers, calls = layered_graph(args.services, rng)
    services = [s for layer in layers for s in layer]
    root = layers[3][len(layers[3]) // 2]
    callers = {a for a, bs in calls.items() if root in bs}
    base = Path(tempfile.mkdtemp(prefix="lumos-live-bench-"))
    search = osmem_server.OsmemServer.start(freeze=False)
    prom = None
    try:
        t = time.perf_counter()
        spans = make_spans(args.spans, layers, calls, root, rng, validate=False)
        entry = max({s.service for s in spans if s.parent_span_id is None}, key=lambda e: sum(1 for s in spans if s.service == e))
        home = base / "live-home"
        home.mkdir()
        db = open_database(None, sqlite_path(home))
        SpanStore(db, retention_s=10 * 365 * 86400.0, max_spans=10_000_000).add(spans)
        ChangeStore(db, retention_s=10 * 365 * 86400.0).add([(None, Change(ts=T0 + timedelta(seconds=ONSET_S - 180), service=root, kind="deploy",
                                                                          version="4.2.0", previous_version="4.1.3", summary=f"rollout {root} 4.2.0"))])
        db.close()
        client = Elasticsearch(search.url, node_class=PlainJsonNode, request_timeout=120)
        client.indices.create(index=INDEX, mappings={"properties": {"@timestamp": {"type": "date"}, "service": {"properties": {"name": {"type": "keyword"}}},
                                                                    "log": {"properties": {"level": {"type": "keyword"}}}, "message": {"type": "text"}}})
        helpers.bulk(client, _log_docs(args.logs, services, root, callers, rng), chunk_size=5000, refresh=True, request_timeout=300)
        prom, prom_url = _start_prometheus(base, services, root)
        alert_at = T0 + timedelta(seconds=ONSET_S + 60)
        config = base / "lumos.yaml"
        metrics = f"  metrics: {{url: '{prom_url}', step_s: 15}}\n" if prom_url else ""
        config.write_text(f"sources:\n  window: {{baseline_s: 1200, after_s: {DURATION_S - ONSET_S - 60:.0f}}}\n{metrics}"
                          f"  logs: {{type: opensearch, url: '{search.url}', index: {INDEX}}}\n  traces: {{type: otlp}}\n"
                          "  topology: {type: spans}\n  changes: {webhook: true}\n"
                          "server:\n  otlp: {retention_s: 315360000, max_spans: 10000000}\n  changes_retention_s: 315360000\n")
        alert = base / "alert.json"
        alert.write_text(json.dumps({"version": "1", "alerts": [{"name": "HighErrorRatio", "service": entry, "severity": "critical",
                                                                  "starts_at": alert_at.isoformat()}]}))
        print(f"set-up {time.perf_counter() - t:.1f} s: {len(services)} services, {len(spans):,} spans stored, {args.logs:,} log lines in "
              f"osmem-server, metrics {'in Prometheus ' + prom_url if prom_url else 'skipped (no prometheus/promtool)'}; root cause {root}, alert on {entry}")
        live = _run("live", args.profile, home=str(home), config=str(config), alert=str(alert), incident="bench-live")
        case = base / "case"
        from lumos.app.recording import record_incident

        record_incident("bench-live", case, home=home)
        replay_home = base / "replay-home"
        replay = _run("replay", args.profile, home=str(replay_home), case=str(case), incident="bench-replay")
        for line in live["notes"]:
            print(f"  {line}")
        print(f"live   (alert -> ranked diagnosis from live sources): {live['seconds']:.2f} s, peak RSS {live['peak_mb']:.0f} MB; top {live['ranking'][:3]}")
        print(f"       of which reading the sources {live['collect_s']:.2f} s; intake to ranking {live['diagnosis_s']:.2f} s (replay: {replay['diagnosis_s']:.2f} s)")
        print(f"replay (same incident from its case folder):          {replay['seconds']:.2f} s, peak RSS {replay['peak_mb']:.0f} MB; top {replay['ranking'][:3]}")
        print(f"live / replay: {live['seconds'] / replay['seconds']:.2f}x time, {live['peak_mb'] / replay['peak_mb']:.2f}x peak RSS "
              f"(target <= 2x and <= 10 s); same ranking: {live['ranking'] == replay['ranking']}; root cause rank "
              f"{live['ranking'].index(root) + 1 if root in live['ranking'] else 'not in top 5'}")
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(10)
        search.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
