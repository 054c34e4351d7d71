"""Group accuracy of LUMOS template mining on the Loghub-2k samples, with drain3 beside it.

Group accuracy (GA): a line is right when the set of lines in its predicted group equals the
set of lines sharing its true template; GA = right lines / all lines.

    python benchmarks/logs_accuracy.py [--data ../shared/datasets/loghub] [--no-drain3]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

from lumos.tools.logs.miner import TemplateMiner

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "loghub"


def group_accuracy(predicted: list[object], truth: list[str]) -> float:
    """GA: share of lines whose predicted group is exactly their true group."""
    pred_groups: dict[object, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    right = 0
    for members in pred_groups.values():
        first = next(iter(members))
        if true_groups[truth[first]] == members:
            right += len(members)
    return right / len(truth) if truth else 1.0


def read_system(folder: Path) -> tuple[list[str], list[str]]:
    """Messages (content.txt) and true templates (truth.csv) of one Loghub system."""
    lines = folder.joinpath("content.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    with folder.joinpath("truth.csv").open(encoding="utf-8", newline="") as fh:
        truth = [row["event_template"] for row in csv.DictReader(fh)]
    return lines, truth


def lumos_groups(lines: list[str]) -> list[str]:
    """Final template id of each line with the LUMOS miner."""
    miner = TemplateMiner()
    idx = miner.add_many(lines)
    return [miner.id_of(i) for i in idx]


def drain3_groups(lines: list[str]) -> list[int] | None:
    """Cluster id of each line with drain3's default configuration (None if not installed)."""
    try:
        import logging

        logging.getLogger("drain3").setLevel(logging.WARNING)
        from drain3 import TemplateMiner as Drain3Miner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    config = TemplateMinerConfig()
    miner = Drain3Miner(config=config)
    ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
    return ids


def main(argv: list[str] | None = None) -> int:
    """Print GA per system for LUMOS and drain3, the means, and where LUMOS is behind."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-drain3", action="store_true")
    args = parser.parse_args(argv)
    systems = sorted(p for p in args.data.iterdir() if (p / "truth.csv").is_file())
    if not systems:
        print(f"{args.data}: no Loghub systems found", file=sys.stderr)
        return 2
    ours_all, theirs_all = [], []
    print(f"{'system':<12} {'lumos GA':>9} {'drain3 GA':>10} {'lumos s':>8} {'templates':>10}")
    for folder in systems:
        lines, truth = read_system(folder)
        t0 = time.perf_counter()
        ours = group_accuracy(lumos_groups(lines), truth)
        elapsed = time.perf_counter() - t0
        ours_all.append(ours)
        theirs = None
        if not args.no_drain3:
            groups = drain3_groups(lines)
            theirs = None if groups is None else group_accuracy(groups, truth)
        if theirs is not None:
            theirs_all.append(theirs)
        miner = TemplateMiner()
        miner.add_many(lines)
        flag = "" if theirs is None or ours >= theirs else "  < drain3"
        theirs_text = f"{theirs:.3f}" if theirs is not None else "n/a"
        print(f"{folder.name:<12} {ours:>9.3f} {theirs_text:>10} {elapsed:>8.3f} {len(miner):>10}{flag}")
    mean_ours = sum(ours_all) / len(ours_all)
    line = f"{'mean':<12} {mean_ours:>9.3f}"
    if theirs_all:
        mean_theirs = sum(theirs_all) / len(theirs_all)
        line += f" {mean_theirs:>10.3f}   ratio {mean_ours / mean_theirs:.2f}x"
    print(line)
    print(f"target: mean >= 0.90 ({'met' if mean_ours >= 0.90 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
