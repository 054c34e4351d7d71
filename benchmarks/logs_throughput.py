"""Throughput of LUMOS template mining vs the drain3 package and `grep -c .` on one file.

A seeded generator writes a realistic log file (1M lines by default: web access, auth, DB,
JVM exceptions, Kubernetes, cache, queue messages with IPs, UUIDs, durations, user names,
paths, hex ids). Then, on that same file:
  * LUMOS: `mine_file` (what `lumos logs templates FILE` runs), in a fresh process, with its
    peak RSS, counts only and with per-line assignments, and the CLI command end to end with
    --assignments; the path that ran is printed (the optional native scanner or pure Python),
    and the pure-Python path (LUMOS_LOGS_NATIVE=0) is timed too for comparison;
  * drain3 with its default configuration (all lines, or the first --drain3-lines);
  * `grep -c .` as the reading-speed reference.

    python benchmarks/logs_throughput.py [--lines 1000000] [--drain3-lines 0] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CLASSES = ["java.lang.NullPointerException", "java.net.SocketTimeoutException", "java.sql.SQLTransientConnectionException",
            "org.springframework.web.client.HttpServerErrorException", "java.lang.IllegalStateException", "java.io.IOException"]
_PATHS = ["/api/v1/users", "/api/v1/orders", "/api/v2/cart/items", "/health", "/api/v1/payments/charge", "/static/app.js",
          "/api/v1/search", "/api/v1/inventory/sku"]
_METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
_STATUSES = [200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 500, 502, 503]
_SERVICES = ["auth", "orders", "payments", "cart", "search", "inventory", "gateway", "users"]
_TABLES = ["orders", "users", "payments", "sessions", "inventory"]


def _word(rng: random.Random, lo: int = 4, hi: int = 9) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(lo, hi)))


class _Vars:
    """Realistic variable values from one seeded RNG."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.users = [_word(rng) for _ in range(500)]
        self.hosts = [f"{_word(rng, 3, 6)}-{rng.randint(1, 40)}.prod.internal" for _ in range(60)]
        self.pods = [f"{s}-{''.join(rng.choices('0123456789abcdef', k=10))}-{_word(rng, 5, 5)}" for s in _SERVICES for _ in range(4)]

    def ip(self) -> str:
        r = self.rng
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def uuid(self) -> str:
        h = "".join(self.rng.choices("0123456789abcdef", k=32))
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hexid(self, n: int = 16) -> str:
        return "".join(self.rng.choices("0123456789abcdef", k=n))

    def ms(self) -> str:
        return str(int(self.rng.lognormvariate(3.5, 1.0)))


def _templates(v: _Vars) -> list[tuple[float, object]]:
    r = v.rng
    return [
        (30, lambda: f'{v.ip()} - - "{r.choice(_METHODS)} {r.choice(_PATHS)}/{r.randint(1, 99999)} HTTP/1.1" {r.choice(_STATUSES)} {r.randint(50, 90000)} {v.ms()}ms'),
        (10, lambda: f"User {r.choice(v.users)} logged in from {v.ip()} session={v.uuid()}"),
        (6, lambda: f"User {r.choice(v.users)} logged out after {r.randint(1, 7200)} seconds"),
        (8, lambda: f"Query on table {r.choice(_TABLES)} took {v.ms()} ms rows={r.randint(0, 5000)}"),
        (5, lambda: f"Slow query detected: SELECT * FROM {r.choice(_TABLES)} WHERE id = {r.randint(1, 10**7)} ({v.ms()} ms)"),
        (6, lambda: f"Cache miss for key user:{r.randint(1, 10**6)}:profile, loading from database"),
        (6, lambda: f"Cache hit ratio {r.random():.3f} over last {r.randint(100, 10000)} requests"),
        (5, lambda: f"Published message {v.uuid()} to topic orders.{r.choice(['created', 'paid', 'shipped'])} partition {r.randint(0, 11)} offset {r.randint(0, 10**9)}"),
        (4, lambda: f"Consumer group {r.choice(_SERVICES)}-workers lag is {r.randint(0, 50000)} messages"),
        (3, lambda: f"Connection to {r.choice(v.hosts)}:{r.choice([5432, 6379, 9092, 3306])} established in {v.ms()}ms"),
        (2, lambda: f"Connection refused to {r.choice(v.hosts)}:{r.choice([5432, 6379, 9092])}, retrying in {r.randint(1, 30)}s (attempt {r.randint(1, 5)}/5)"),
        (2, lambda: f"Request {v.hexid()} failed with {r.choice(_CLASSES)}: Read timed out after {r.randint(1000, 30000)} ms"),
        (2, lambda: f"HikariPool-1 - Connection is not available, request timed out after {r.randint(1000, 30000)}ms."),
        (2, lambda: f"Pod {r.choice(v.pods)} container {r.choice(_SERVICES)} restarted, restartCount={r.randint(1, 50)}"),
        (2, lambda: f"GC pause (G1 Evacuation Pause) young {r.randint(100, 4000)}M->{r.randint(50, 2000)}M({r.randint(4000, 8000)}M) {r.random() * 300:.3f}ms"),
        (2, lambda: f"Scheduled job {r.choice(['cleanup', 'report', 'sync', 'reindex'])} finished in {v.ms()} ms, processed {r.randint(0, 10**5)} items"),
        (2, lambda: f"Loaded configuration from /etc/{r.choice(_SERVICES)}/config.yaml (version {r.randint(1, 300)})"),
        (1, lambda: f"Health check OK for {r.choice(_SERVICES)} at {r.choice(v.hosts)}"),
        (1, lambda: f"Order {v.uuid()} payment status changed from PENDING to {r.choice(['PAID', 'FAILED', 'REFUNDED'])}"),
        (1, lambda: f"Disk usage on /var/lib/data is {r.randint(40, 99)}% ({r.randint(10, 900)}G of 1T)"),
        (1, lambda: f"Rate limit exceeded for client {v.hexid(12)}: {r.randint(100, 1000)} requests in {r.randint(1, 60)}s"),
        (1, lambda: f"Started {r.choice(_SERVICES)}-service v{r.randint(1, 3)}.{r.randint(0, 20)}.{r.randint(0, 9)} on port {r.randint(8000, 9000)}"),
        (1, lambda: f"Token for user {r.choice(v.users)} expired at 2024-0{r.randint(1, 9)}-1{r.randint(0, 9)}T0{r.randint(0, 9)}:{r.randint(10, 59)}:{r.randint(10, 59)}Z"),
        (1, lambda: f"Retrying request to http://{r.choice(_SERVICES)}:8080{r.choice(_PATHS)} after 503 (attempt {r.randint(1, 3)})"),
    ]


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """Write `lines` realistic log messages to `path` (deterministic for a seed)."""
    rng = random.Random(seed)
    v = _Vars(rng)
    table = _templates(v)
    weights = [w for w, _ in table]
    makers = [m for _, m in table]
    with path.open("w", encoding="utf-8") as fh:
        batch: list[str] = []
        for maker in rng.choices(makers, weights=weights, k=lines):
            batch.append(maker())  # type: ignore[operator]
            if len(batch) >= 50_000:
                fh.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            fh.write("\n".join(batch) + "\n")


_LUMOS_RUNNER = """
import json, resource, sys, time
t0 = time.perf_counter()
from lumos.tools.logs.filemine import mine_file
from lumos.tools.logs.native import active_path
t1 = time.perf_counter()
r = mine_file(sys.argv[1], assignments=sys.argv[2] == "1", workers=int(sys.argv[3]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "mine_s": t2 - t1, "lines": r.lines_total, "templates": len(r.templates),
                  "path": active_path(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CLI_RUNNER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("logs_cmd", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
mod.logs_app(sys.argv[2:])
"""


def run_lumos(path: Path, assignments: bool, workers: int = 1, native: bool = True) -> dict:
    """Mine the file in a fresh process; returns times, template count, the path that ran
    ("native" or "python"; `native=False` forces pure Python) and peak RSS (of the parent)."""
    env = {**os.environ, "LUMOS_LOGS_NATIVE": "1" if native else "0"}
    out = subprocess.run([sys.executable, "-c", _LUMOS_RUNNER, str(path), "1" if assignments else "0", str(workers)],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(path: Path, assignments: Path) -> float:
    """Wall time of `lumos logs templates FILE --top 10 --assignments OUT` (process start to end)."""
    cmd = Path(__file__).resolve().parents[1] / "app" / "cli" / "logs_cmd.py"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _CLI_RUNNER, str(cmd), "templates", str(path), "--top", "10", "--assignments", str(assignments)],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def run_drain3(path: Path, limit: int) -> tuple[float, int] | None:
    """drain3 default config on the first `limit` lines: (lines/s, lines); None if not installed."""
    try:
        import logging

        logging.disable(logging.INFO)
        from drain3 import TemplateMiner
    except ImportError:
        return None
    with path.open(encoding="utf-8") as fh:
        lines = [next(fh).rstrip("\n") for _ in range(limit)]
    miner = TemplateMiner()
    t0 = time.perf_counter()
    for line in lines:
        miner.add_log_message(line)
    return len(lines) / (time.perf_counter() - t0), len(lines)


def run_grep(path: Path) -> float | None:
    """Seconds for `grep -c .` on the file (best of 3), None without grep."""
    grep = shutil.which("grep")
    if not grep:
        return None
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([grep, "-c", ".", str(path)], check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    """Generate the file, time the three tools on it and print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--drain3-lines", type=int, default=0, help="Time drain3 on the first N lines only (0 = all).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="Write the generated file here and keep it.")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lumos-bench-"))
    path = args.keep or tmp / "bench.log"
    try:
        t0 = time.perf_counter()
        generate(path, args.lines, args.seed)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {path} ({args.lines:,} lines, {size_mb:.1f} MB, seed {args.seed}, generated in {time.perf_counter() - t0:.1f}s)")
        lumos = min((run_lumos(path, False) for _ in range(3)), key=lambda r: r["mine_s"])  # best of 3
        lumos_rate = lumos["lines"] / lumos["mine_s"]
        print(f"lumos mine_file : best of 3 {lumos['mine_s']:.3f}s  {lumos_rate:,.0f} lines/s  {lumos['templates']} templates  "
              f"peak RSS {lumos['peak_rss_mb']:.0f} MB  (counts only: `lumos logs templates FILE`; path: {lumos['path']})")
        full = min((run_lumos(path, True) for _ in range(3)), key=lambda r: r["mine_s"])
        print(f"  + assignments : best of 3 {full['mine_s']:.3f}s  {full['lines'] / full['mine_s']:,.0f} lines/s  "
              f"peak RSS {full['peak_rss_mb']:.0f} MB  (per-line template ids kept, for --assignments)")
        pure = min((run_lumos(path, False, native=False) for _ in range(3)), key=lambda r: r["mine_s"])
        pure_rate = pure["lines"] / pure["mine_s"]
        print(f"  pure Python   : best of 3 {pure['mine_s']:.3f}s  {pure_rate:,.0f} lines/s  {pure['templates']} templates  "
              f"peak RSS {pure['peak_rss_mb']:.0f} MB  (counts only, LUMOS_LOGS_NATIVE=0; path: {pure['path']})")
        cores = os.cpu_count() or 1
        par = min((run_lumos(path, False, cores) for _ in range(3)), key=lambda r: r["mine_s"]) if cores > 1 else None
        if par:
            print(f"  --workers {cores}   : best of 3 {par['mine_s']:.2f}s  {par['lines'] / par['mine_s']:,.0f} lines/s  "
                  f"{par['templates']} templates (counts only, {cores} processes)")
        cli_s = run_cli(path, tmp / "assignments.csv")
        print(f"lumos CLI       : {cli_s:.2f}s end to end (process start, mining, table, --assignments CSV)  "
              f"{args.lines / cli_s:,.0f} lines/s")
        grep_s = run_grep(path)
        if grep_s is not None:
            print(f"grep -c .       : {grep_s:.3f}s  {args.lines / grep_s:,.0f} lines/s")
        limit = min(args.drain3_lines or args.lines, args.lines)
        runs = [run_drain3(path, limit) for _ in range(2)]  # best of 2 (it is slow)
        drain = max(runs, key=lambda r: r[0]) if runs[0] is not None else None
        if drain is not None:
            print(f"drain3 default  : best of 2 {drain[0]:,.0f} lines/s (first {drain[1]:,} lines)")
        print("ratios:")
        if drain is not None:
            print(f"  lumos / drain3 = {lumos_rate / drain[0]:.1f}x   (target >= 20x)")
        if grep_s is not None:
            print(f"  lumos / grep   = {lumos_rate / (args.lines / grep_s):.3f}x (target >= 0.2x)")
        pure_ratios = ([f"{pure_rate / drain[0]:.1f}x drain3"] if drain is not None else []) + (
            [f"{pure_rate / (args.lines / grep_s):.3f}x grep"] if grep_s is not None else [])
        print(f"  ({lumos['path']} path; pure Python: {', '.join(pure_ratios)})")
        if drain and par:
            print(f"  lumos --workers {cores} / drain3 = {par['lines'] / par['mine_s'] / drain[0]:.1f}x")
        print(f"  lumos+assign / drain3 = {full['lines'] / full['mine_s'] / drain[0]:.1f}x" if drain else "", end="\n" if drain else "")
        peak = max(lumos["peak_rss_mb"], full["peak_rss_mb"], pure["peak_rss_mb"])
        print(f"  peak memory    = {peak:.0f} MB (target < 1024 MB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
