"""Throughput of `lumos logs templates FILE`, the whole process a user starts, on 100k and 1M
lines of every line format, beside drain3 and `grep -c .` on the same files in the same run.

A seeded generator writes realistic messages (web access, auth, DB, JVM exceptions,
Kubernetes, cache, queue: IPs, UUIDs, durations, user names, paths, hex ids) in each format:
raw, jsonl, logfmt, syslog (RFC 3164), plain (`TS LEVEL MSG`) and header (Loghub-style). On
each file:
  * LUMOS, whole process: the installed `lumos logs templates FILE` (format auto-detected,
    table printed to /dev/null), best of --runs; start-up alone is `lumos logs templates --help`;
  * LUMOS, mining alone: `mine_file` in a fresh process, timed inside it (the native path, or
    pure Python with LUMOS_LOGS_NATIVE=0 for comparison on the raw file);
  * drain3, whole process: a script that reads the file and feeds every line to drain3's
    default `TemplateMiner` (what a user of drain3 runs), once;
  * `grep -c .`, best of 3: the reading-speed reference.
Targets (issue 17): whole process >= 10x drain3 at 100k lines, >= 30x at 1M; mining alone
>= 0.2x `grep -c .`.

The ratios are taken in the same run, so they hold under load only roughly: --repeat N measures
every file N times (LUMOS, drain3 and grep each time) and reports the median ratio. The lumos
package's bytecode is compiled first, as `pip install` does for an installed package: an
environment that sets PYTHONDONTWRITEBYTECODE (as some sandboxes do) would otherwise compile
every imported module on every run, which is not what a user runs.

    python benchmarks/logs_throughput.py [--lines 100000,1000000] [--formats raw,jsonl,...] [--runs 3] [--repeat 1]
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("raw", "jsonl", "logfmt", "syslog", "plain", "header")
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


_LEVELS = ["INFO"] * 8 + ["WARN", "ERROR", "DEBUG"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _line(fmt: str, message: str, i: int, rng: random.Random) -> str:
    """`message` as one line of `fmt` (timestamps move on by line number)."""
    sec = 1_700_000_000 + i // 50
    hh, mm, ss = (sec // 3600) % 24, (sec // 60) % 60, sec % 60
    level = rng.choice(_LEVELS)
    iso = f"2024-05-{1 + (sec // 86400) % 28:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{i % 1000:03d}Z"
    if fmt == "raw":
        return message
    if fmt == "jsonl":
        return json.dumps({"ts": iso, "level": level.lower(), "service": "shop", "msg": message, "pid": 100 + i % 40})
    if fmt == "logfmt":
        return f'ts={iso} level={level.lower()} service=shop msg="{message.replace(chr(34), chr(39))}" pid={100 + i % 40}'
    if fmt == "syslog":
        return f"<{8 + i % 8}>{_MONTHS[(sec // 2_592_000) % 12]} {1 + (sec // 86400) % 28:2d} {hh:02d}:{mm:02d}:{ss:02d} web-{i % 5} shop[{100 + i % 40}]: {message}"
    if fmt == "plain":
        return f"{iso} {level} {message}"
    return f"24050{1 + i % 9} {hh:02d}{mm:02d}{ss:02d} {100 + i % 40} {level} shop.Worker: {message}"  # header


def generate(path: Path, lines: int, fmt: str = "raw", seed: int = 7) -> None:
    """Write `lines` realistic log lines in `fmt` to `path` (deterministic for a seed)."""
    rng = random.Random(seed)
    v = _Vars(rng)
    table = _templates(v)
    weights = [w for w, _ in table]
    makers = [m for _, m in table]
    with path.open("w", encoding="utf-8") as fh:
        batch: list[str] = []
        for i, maker in enumerate(rng.choices(makers, weights=weights, k=lines)):
            batch.append(_line(fmt, maker(), i, rng))  # type: ignore[operator]
            if len(batch) >= 50_000:
                fh.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            fh.write("\n".join(batch) + "\n")


_MINE_RUNNER = """
import json, resource, sys, time
t0 = time.perf_counter()
from lumos.tools.logs.filemine import mine_file
from lumos.tools.logs.native import active_path
t1 = time.perf_counter()
r = mine_file(sys.argv[1], "auto", assignments=sys.argv[2] == "1")
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "mine_s": t2 - t1, "lines": r.lines_total, "mined": r.lines_mined,
                  "templates": len(r.templates), "format": r.format, "path": active_path(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_DRAIN3_RUNNER = """
import logging, sys
logging.disable(logging.INFO)
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
miner = TemplateMiner(config=TemplateMinerConfig())
with open(sys.argv[1], encoding="utf-8", errors="replace") as fh:
    for line in fh:
        miner.add_log_message(line.rstrip("\\n"))
print(len(miner.drain.clusters))
"""


def lumos_command() -> list[str]:
    """The installed `lumos` console script (what a user runs)."""
    found = shutil.which("lumos") or os.path.join(os.path.dirname(sys.executable), "lumos")
    return [found] if os.path.exists(found) else [sys.executable, "-m", "lumos.app.cli.main"]


def timed(argv: list[str], env: dict | None = None) -> float:
    """Wall-clock seconds of one whole process; its output is read through a pipe and dropped
    (not sent to /dev/null: GNU grep stops at the first match when its output is /dev/null).
    A failure stops the benchmark."""
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def best(runs: int, argv: list[str], env: dict | None = None) -> float:
    return min(timed(argv, env) for _ in range(runs))


def mine_alone(path: Path, native: bool = True, assignments: bool = False) -> dict:
    """`mine_file` timed inside a fresh process (best of 3)."""
    env = {**os.environ, "LUMOS_LOGS_NATIVE": "1" if native else "0"}
    outs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _MINE_RUNNER, str(path), "1" if assignments else "0"],
                             check=True, capture_output=True, text=True, env=env)
        outs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(outs, key=lambda r: r["mine_s"])


def compile_bytecode() -> int:
    """Compile the lumos package's modules to bytecode (as an installed package has it); the
    number of package folders compiled."""
    folders = set()
    for name in ("lumos", "lumos.tools", "lumos.app", "lumos.graph", "lumos.agents", "lumos.evals"):
        try:
            folders.update(importlib.import_module(name).__path__)
        except ImportError:
            continue
    for folder in sorted(folders):
        compileall.compile_dir(folder, quiet=1)
    return len(folders)


def drain3_available() -> bool:
    try:
        import drain3  # noqa: F401
    except ImportError:
        return False
    return True


def _median(values: list) -> float | None:
    """The median of the measured values (None when not measured)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main(argv: list[str] | None = None) -> int:
    """Generate the files, time LUMOS, drain3 and grep on each and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", default="100000,1000000", help="Comma-separated line counts.")
    parser.add_argument("--formats", default=",".join(FORMATS), help="Comma-separated formats.")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each LUMOS process (best taken).")
    parser.add_argument("--repeat", type=int, default=1, help="Measure each file this many times; median ratios.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-drain3", action="store_true", help="Skip drain3 (it takes ~5 s per 1M lines and format).")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.lines.split(",") if x]
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s) {', '.join(sorted(unknown))}; expected some of {', '.join(FORMATS)}")
    lumos = lumos_command()
    grep = shutil.which("grep")
    use_drain3 = not args.no_drain3 and drain3_available()
    compiled = compile_bytecode()
    startup = best(max(args.runs, 5), [*lumos, "logs", "templates", "--help"])
    bare = best(max(args.runs, 5), [sys.executable, "-c", "pass"])
    print(f"bytecode compiled in {compiled} package folders (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    print(f"start-up: `lumos logs templates --help` {startup:.3f} s (python -c pass {bare:.3f} s); load {os.getloadavg()[0]:.1f}")
    head = (f"{'format':<7} {'lines':>9} {'MB':>6} | {'lumos s':>7} {'mine s':>7} {'path':>6} {'tpl':>4} | "
            f"{'drain3 s':>8} {'grep s':>7} | {'lumos/drain3':>12} {'mine/grep':>9}")
    print(head)
    print("-" * len(head))
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="lumos-bench-"))
    try:
        for n in sizes:
            for fmt in formats:
                path = tmp / f"bench.{fmt}.log"
                generate(path, n, fmt, args.seed)
                ratios, vs_greps = [], []
                for _ in range(max(args.repeat, 1)):
                    whole = best(args.runs, [*lumos, "logs", "templates", str(path)])
                    mined = mine_alone(path)
                    grep_s = best(3, [grep, "-c", ".", str(path)]) if grep else None
                    drain_s = timed([sys.executable, "-c", _DRAIN3_RUNNER, str(path)]) if use_drain3 else None
                    ratio = drain_s / whole if drain_s else None
                    vs_grep = grep_s / mined["mine_s"] if grep_s else None
                    ratios.append(ratio)
                    vs_greps.append(vs_grep)
                    print(f"{fmt:<7} {n:>9,} {path.stat().st_size / 1e6:>6.1f} | {whole:>7.3f} {mined['mine_s']:>7.3f} "
                          f"{mined['path']:>6} {mined['templates']:>4} | "
                          f"{(f'{drain_s:.2f}' if drain_s else 'n/a'):>8} {(f'{grep_s:.3f}' if grep_s else 'n/a'):>7} | "
                          f"{(f'{ratio:.1f}x' if ratio else 'n/a'):>12} {(f'{vs_grep:.3f}x' if vs_grep else 'n/a'):>9}"
                          + ("" if mined["format"] == fmt else f"  (detected {mined['format']}!)"), flush=True)
                rows.append((fmt, n, _median(ratios), _median(vs_greps)))
                if fmt == "raw" and n == max(sizes):
                    pure = mine_alone(path, native=False)
                    assigned = mine_alone(path, assignments=True)
                    print(f"  raw {n:,}: pure Python {pure['mine_s']:.2f} s ({pure['path']}), "
                          f"with assignments {assigned['mine_s']:.3f} s, peak RSS {max(mined['peak_rss_mb'], assigned['peak_rss_mb']):.0f} MB")
                path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("targets: whole process >= 10x drain3 at 100k lines and >= 30x at 1M; mining alone >= 0.2x grep -c ."
          + (f" (medians of {args.repeat} measurements)" if args.repeat > 1 else ""))
    for fmt, n, ratio, vs_grep in rows:
        want = 10 if n <= 100_000 else 30
        marks = []
        if ratio is not None:
            marks.append(f"{ratio:.1f}x drain3 ({'met' if ratio >= want else 'NOT met'}, target {want}x)")
        if vs_grep is not None:
            marks.append(f"{vs_grep:.3f}x grep ({'met' if vs_grep >= 0.2 else 'NOT met'})")
        print(f"  {fmt:<7} {n:>9,}: " + ", ".join(marks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
