"""Start-up time of every `lumos` command, beside `python -c pass`, in the same run.

Times the whole process a user starts (the installed `lumos` console script) for `lumos --help`,
`lumos --version` and `lumos COMMAND --help` for each top-level command: `--help` makes click
resolve the command, so its module is imported, and stops before any real work. Each command runs
--runs times interleaved with the reference; the median and the ratio to `python -c pass` are
printed, and commands over --target seconds are flagged. Run it on a quiet machine.

    python benchmarks/cli_startup.py [--runs 7] [--target 0.5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from lumos.app.cli.main import COMMANDS


def timed(argv: list[str]) -> float:
    """Wall-clock seconds of one run of `argv` (output discarded; a failure stops the benchmark)."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="Runs per command (median reported).")
    parser.add_argument("--target", type=float, default=0.5, help="Start-up target in seconds.")
    args = parser.parse_args()
    lumos = shutil.which("lumos") or os.path.join(os.path.dirname(sys.executable), "lumos")
    commands = {"python -c pass": [sys.executable, "-c", "pass"], "lumos --help": [lumos, "--help"],
                "lumos --version": [lumos, "--version"]}
    commands.update({f"lumos {name} --help": [lumos, name, "--help"] for name in COMMANDS})
    samples: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.runs):
        for label, argv in commands.items():
            samples[label].append(timed(argv))
    reference = statistics.median(samples["python -c pass"])
    print(f"{'command':<28} {'median s':>9} {'x python':>9}")
    slow = 0
    for label, values in samples.items():
        median = statistics.median(values)
        flag = "" if label.startswith("python") or median <= args.target else f"  over {args.target} s"
        slow += bool(flag)
        print(f"{label:<28} {median:>9.3f} {median / reference:>9.1f}{flag}")
    worst = max(statistics.median(v) for label, v in samples.items() if label.startswith("lumos"))
    print(f"commands={len(commands) - 1} worst_s={worst:.3f} python_s={reference:.3f} over_target={slow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
