"""Intake load on `lumos serve` (loopback only, bounded): a burst of alerts with duplicates.

Starts a server subprocess in a temporary state folder, sends --alerts single-alert deliveries to
POST /webhooks/generic from --concurrency threads (a --dup-ratio share are re-deliveries of earlier
alerts), then checks that every alert is accounted for (a new incident, grouped into one, or a
duplicate) against the server's own counts, and reports intake rate, latency percentiles and the
server's peak RSS. Exit 1 if any alert is unaccounted for.

    python benchmarks/serve_load.py [--alerts 1000] [--concurrency 16] [--dup-ratio 0.2] [--groups 80]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures_serve.procs import ServerProcess, auth, wait_until  # noqa: E402


def deliveries(total: int, dup_ratio: float, groups: int, seed: int, batch: int = 1) -> list[dict]:
    """`total` alerts: unique ones spread over `groups` plus re-deliveries, `batch` alerts per body."""
    rng = random.Random(seed)
    unique = total - int(total * dup_ratio)
    alerts = [{"name": f"Alert{i % groups}", "service": f"svc{i % groups}", "severity": "warning",
               "fingerprint": f"load-{i}", "labels": {"pod": f"pod-{i}"}} for i in range(unique)]
    bodies = [{"version": "1", "alerts": [a]} for a in alerts]
    for _ in range(total - unique):
        bodies.insert(rng.randrange(len(bodies) + 1), {"version": "1", "alerts": [rng.choice(alerts)]})
    if batch > 1:
        flat = [b["alerts"][0] for b in bodies]
        bodies = [{"version": "1", "alerts": flat[i:i + batch]} for i in range(0, len(flat), batch)]
    return bodies


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--dup-ratio", type=float, default=0.2)
    parser.add_argument("--groups", type=int, default=80)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1, help="Alerts per delivery (Alertmanager sends a group's alerts together).")
    args = parser.parse_args()
    bodies = deliveries(args.alerts, args.dup_ratio, args.groups, args.seed, args.batch)
    sent = [a for b in bodies for a in b["alerts"]]
    unique = len({a["fingerprint"] for a in sent})
    with tempfile.TemporaryDirectory(prefix="lumos-load-") as tmp:
        server = ServerProcess(Path(tmp) / "home", env={"LUMOS_WORKERS": str(args.workers), "LUMOS_MAX_QUEUE": "100000"})
        server.start()
        try:
            client = httpx.Client(base_url=server.url, headers=auth("alertmanager"), timeout=30,
                                  limits=httpx.Limits(max_connections=args.concurrency))

            def send(body: dict) -> tuple[float, int, dict]:
                t0 = time.perf_counter()
                response = client.post("/webhooks/generic", json=body)
                return time.perf_counter() - t0, response.status_code, response.json()

            # Within one delivery the same alert may appear twice: the second is a duplicate too.

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(send, bodies))
            elapsed = time.perf_counter() - t0
            statuses = Counter(status for _, status, _ in results)
            outcomes = Counter(x["outcome"] for _, status, r in results if status == 200 for x in r["results"])
            latencies = sorted(lat for lat, _, _ in results)
            rows = wait_until(lambda: (r := client.get("/incidents?limit=500", headers=auth("victor")).json())
                              and all(i["run_state"] in ("done", "waiting", "failed") for i in r) and r, 300, 0.5, "incidents to settle")
            health = client.get("/healthz").json()
            summary = {
                "alerts_sent": len(sent),
                "deliveries": len(bodies),
                "unique_alerts": unique,
                "http_status": dict(statuses),
                "outcomes": dict(outcomes),
                "incidents": len(rows),
                "alerts_stored": health["incidents"]["alerts"],
                "alerts_in_incidents": sum(i["alerts_total"] for i in rows),
                "intake_alerts_per_s": round(len(sent) / elapsed, 1),
                "intake_deliveries_per_s": round(len(bodies) / elapsed, 1),
                "latency_ms": {q: round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p))], 2)
                               for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))},
                "server_peak_rss_mib": round(peak_rss_mb(server.proc.pid), 1),
                "incident_states": Counter(i["run_state"] for i in rows),
            }
            client.close()
        finally:
            server.stop()
    accounted = (
        summary["http_status"] == {200: len(bodies)}
        and sum(outcomes.values()) == len(sent)
        and outcomes["duplicate"] == len(sent) - unique
        and outcomes["new_incident"] == summary["incidents"]
        and summary["alerts_stored"] == unique == summary["alerts_in_incidents"]
    )
    summary["every_alert_accounted_for"] = accounted
    print(json.dumps(summary, indent=2, default=str))
    return 0 if accounted else 1


if __name__ == "__main__":
    sys.exit(main())
