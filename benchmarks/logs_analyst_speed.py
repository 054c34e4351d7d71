"""Speed of the log agent's offline analyzer on a synthetic 3-service incident (40k+ lines by default).

    python benchmarks/logs_analyst_speed.py [--rate 12] [--repeat 3]

Reference, timed in the same run on the same records: one pass that counts lines per (service, level)
and window -- the least work any incident-vs-baseline analysis must do. Prints the best of
`--repeat` runs of each and their ratio. (This replaced a timed assertion in the test suite.)
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from lumos.agents.log_analyst import analyze_logs
from lumos.tools.domain import LogRecord, TimeWindow, TriageReport

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
ONSET = T0 + timedelta(minutes=10)
END = T0 + timedelta(minutes=15)


def synthetic_records(rate: float, seed: int = 5) -> list[LogRecord]:
    """frontend -> checkout -> inventory; inventory throws from ONSET on and checkout relays the errors."""
    rng = random.Random(seed)
    out: list[LogRecord] = []
    t = T0 - timedelta(minutes=2)
    while t < END + timedelta(minutes=1):
        t += timedelta(seconds=rng.expovariate(rate))
        faulty = ONSET <= t < END and rng.random() < 0.6
        out.append(LogRecord(ts=t, service="frontend", level="INFO", message=f"GET /checkout/{rng.randint(1, 999)}"))
        out.append(LogRecord(ts=t, service="checkout", level="INFO", message=f"placing order o-{rng.randint(1000, 9999)}"))
        if faulty:
            out.append(LogRecord(ts=t, service="inventory", level="ERROR",
                                 message=f"java.lang.NullPointerException: reserve failed for sku {rng.randint(1, 99)}"))
            out.append(LogRecord(ts=t, service="checkout", level="ERROR", message="call to inventory failed: 500 Internal Server Error"))
        else:
            out.append(LogRecord(ts=t, service="inventory", level=None, message=f"reserved sku {rng.randint(1, 99)}"))
    return out


def count_pass(records: list[LogRecord]) -> Counter:
    """The reference: lines per (window, service, level)."""
    counts: Counter = Counter()
    for r in records:
        window = "incident" if ONSET <= r.ts < END else "baseline" if T0 <= r.ts < ONSET else "outside"
        counts[(window, r.service, r.level)] += 1
    return counts


def best_of(repeat: int, fn) -> float:
    """Best wall time of `repeat` runs of fn()."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    """Run both and print the times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=12.0, help="requests per second (each writes 3-4 lines)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = synthetic_records(args.rate)
    triage = TriageReport(incident_window=TimeWindow(start=ONSET, end=END), baseline_window=TimeWindow(start=T0, end=ONSET),
                          alert_service="frontend", focus_services=["frontend", "checkout"])
    reference = best_of(args.repeat, lambda: count_pass(records))
    analyzer = best_of(args.repeat, lambda: analyze_logs(records, triage))
    top = analyze_logs(records, triage).services[0].service
    print(f"{len(records)} lines, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"reference (count per window/service/level): {reference:.3f} s")
    print(f"analyze_logs: {analyzer:.3f} s (top service {top})")
    print(f"ratio analyzer/reference: {analyzer / reference:.1f}x")


if __name__ == "__main__":
    main()
