"""Schema fuzzing of a live `lumos serve` (loopback only, bounded): random requests built from its
/openapi.json (random path/query values, valid-then-mutated and arbitrary bodies, random tokens,
content types and PagerDuty signatures). Exit 1 on any 5xx; prints the status-code histogram.

    python benchmarks/serve_fuzz.py [--examples 3000] [--seed-incidents 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures_serve.fuzzing import fuzz  # noqa: E402
from fixtures_serve.procs import DEMO_CASE, ServerProcess, auth  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed-incidents", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="lumos-fuzz-") as tmp:
        server = ServerProcess(Path(tmp) / "home", env={"LUMOS_PAGERDUTY_SECRET": "fuzz-secret", "LUMOS_SSE_MAX_S": "1",
                                                         "LUMOS_DATA_CASE": str(DEMO_CASE), "LUMOS_MAX_BODY_BYTES": "65536"})
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                ids = []
                for i in range(args.seed_incidents):
                    body = {"version": "1", "alerts": [{"name": f"Seed{i}", "service": "frontend", "fingerprint": f"seed{i}"}]}
                    ids.append(client.post("/webhooks/generic", json=body, headers=auth("alertmanager")).json()["results"][0]["incident_id"])
                time.sleep(3)  # let the seeded incidents reach their gates, so approvals are exercised too
                spec = client.get("/openapi.json", headers=auth("victor")).json()
                t0 = time.perf_counter()
                try:
                    counts = fuzz(client, spec, examples=args.examples, known_ids=ids, derandomize=False)
                    failure = None
                except AssertionError as exc:
                    counts, failure = {}, str(exc)
                elapsed = time.perf_counter() - t0
                alive = client.get("/healthz").status_code == 200
        finally:
            server.stop()
        log = server.log.read_text()[-2000:] if failure else ""
    print(json.dumps({"examples": args.examples, "seconds": round(elapsed, 1), "status_counts": dict(sorted(counts.items())),
                      "server_5xx": 0 if failure is None else "see failure", "failure": failure, "server_alive_after": alive}, indent=2))
    if log:
        print(log)
    return 0 if failure is None and alive else 1


if __name__ == "__main__":
    sys.exit(main())
