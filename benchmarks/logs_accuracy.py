"""Accuracy of LUMOS template mining on the Loghub-2k samples, with drain3 in the same run.

Metrics (as in Loghub-2.0, Jiang et al. 2024), per system and on average:
* GA, group accuracy: a line is right when the set of lines in its predicted group equals the
  set of lines sharing its true template; GA = right lines / all lines;
* FGA, F1 group accuracy: a predicted group is right when its lines are exactly one true
  template's lines; FGA = F1 of (right groups / predicted groups, right groups / true groups);
* PA, parsing accuracy: a line is right when its predicted template text equals its true
  template after this normalisation of both: whitespace runs become one space, every
  whitespace-separated token that contains `<*>` becomes `<*>`, and runs of `<*>` tokens
  become one. (Loghub's truths differ between systems in how much of a token they keep
  around a variable, `blk_<*>` in one and `<*>` in another; PA so checks the constant words
  and where the variables are, not those sub-token boundaries.)

The miner's one setting chosen on data (`GroupingParams.max_constants`) is checked out of
sample: leave-one-system-out chooses it on the other systems (best mean GA) and scores the
held-out one; the mean of those held-out scores is the figure for unseen systems.

Datasets: `--data DIR`, else $LUMOS_DATASETS, else `../shared/datasets` searched upwards from
the repository and from the current directory (DIR may be the `loghub` folder or hold one).

    python benchmarks/logs_accuracy.py [--data DIR] [--no-drain3] [--no-loso]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

from lumos.tools.logs.grouping import GroupingParams
from lumos.tools.logs.miner import TemplateMiner

GRID = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30)
REPO = Path(__file__).resolve().parents[1]


def find_loghub(explicit: Path | None) -> Path | None:
    """The Loghub folder (systems with truth.csv): --data, $LUMOS_DATASETS, or a search."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    elif os.environ.get("LUMOS_DATASETS"):
        candidates.append(Path(os.environ["LUMOS_DATASETS"]))
    else:
        for start in (REPO, Path.cwd()):
            candidates.extend(folder / "shared" / "datasets" for folder in (start, *start.parents))
    for folder in candidates:
        for loghub in (folder, folder / "loghub"):
            if loghub.is_dir() and any((p / "truth.csv").is_file() for p in loghub.iterdir() if p.is_dir()):
                return loghub
    return None


def read_system(folder: Path) -> tuple[list[str], list[str]]:
    """Messages (content.txt) and true templates (truth.csv) of one Loghub system."""
    lines = folder.joinpath("content.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    with folder.joinpath("truth.csv").open(encoding="utf-8", newline="") as fh:
        truth = [row["event_template"] for row in csv.DictReader(fh)]
    if len(lines) != len(truth):
        raise SystemExit(f"{folder}: {len(lines)} lines in content.txt but {len(truth)} rows in truth.csv")
    return lines, truth


def group_accuracy(predicted: Sequence[Hashable], truth: Sequence[str]) -> tuple[float, float]:
    """(GA, FGA) of predicted group labels against true templates."""
    pred_groups: dict[Hashable, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    right_lines = right_groups = 0
    for members in pred_groups.values():
        if true_groups[truth[next(iter(members))]] == members:
            right_lines += len(members)
            right_groups += 1
    precision, recall = right_groups / len(pred_groups), right_groups / len(true_groups)
    fga = 2 * precision * recall / (precision + recall) if right_groups else 0.0
    return right_lines / len(truth), fga


_WS = re.compile(r"\s+")


def normalise_template(text: str) -> str:
    """The PA normalisation (see the module doc)."""
    out: list[str] = []
    for tok in _WS.split(text.strip()):
        if "<*>" in tok:
            tok = "<*>"
            if out and out[-1] == tok:
                continue
        out.append(tok)
    return " ".join(out)


def parsing_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """PA: share of lines whose normalised predicted template equals the normalised truth."""
    return sum(normalise_template(p) == normalise_template(t) for p, t in zip(predicted, truth)) / len(truth)


def lumos_parse(lines: list[str], params: GroupingParams | None = None) -> tuple[list[str], list[str]]:
    """(template id, template text) of each line with the LUMOS miner."""
    miner = TemplateMiner(params=params)
    idx = miner.add_many(lines)
    texts = {t.id: t.text for t in miner.templates()}
    ids = [miner.id_of(i) for i in idx]
    return ids, [texts[i] for i in ids]


def drain3_parse(lines: list[str]) -> tuple[list[int], list[str]] | None:
    """(cluster id, final template) of each line with drain3's default configuration."""
    try:
        import logging

        logging.getLogger("drain3").setLevel(logging.WARNING)
        from drain3 import TemplateMiner as Drain3Miner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    miner = Drain3Miner(config=TemplateMinerConfig())  # the defaults (no drain3.ini read)
    ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, [final[i] for i in ids]


def leave_one_out(ga_by_setting: dict[int, dict[str, float]]) -> dict[str, tuple[int, float]]:
    """Per held-out system: (the setting with the best mean GA on the others, its GA there)."""
    systems = sorted(next(iter(ga_by_setting.values())))
    out = {}
    for held in systems:
        def score(setting: int, held: str = held) -> tuple[float, int]:
            others = [v for s, v in ga_by_setting[setting].items() if s != held]
            return round(statistics.mean(others), 9), -setting  # ties: the smaller setting
        best = max(ga_by_setting, key=score)
        out[held] = (best, ga_by_setting[best][held])
    return out


def main(argv: list[str] | None = None) -> int:
    """Print GA/FGA/PA per system for LUMOS and drain3, the means, and the LOSO figure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="The Loghub folder, or a datasets folder holding `loghub`.")
    parser.add_argument("--no-drain3", action="store_true", help="Skip drain3.")
    parser.add_argument("--no-loso", action="store_true", help="Skip the leave-one-system-out check.")
    args = parser.parse_args(argv)
    loghub = find_loghub(args.data)
    if loghub is None:
        where = args.data or os.environ.get("LUMOS_DATASETS") or "../shared/datasets (searched upwards from the repo and cwd)"
        print(f"skipped: no Loghub samples (<system>/content.txt + truth.csv) found in {where}; "
              "pass --data DIR or set LUMOS_DATASETS", file=sys.stderr)
        return 0
    systems = {p.name: read_system(p) for p in sorted(loghub.iterdir()) if (p / "truth.csv").is_file()}
    print(f"Loghub samples: {loghub} ({len(systems)} systems); default max_constants={GroupingParams().max_constants}")
    header = f"{'system':<11} {'lines':>5} | {'LUMOS GA':>8} {'FGA':>5} {'PA':>5} {'tpl':>4} {'s':>5} | {'drain3 GA':>9} {'FGA':>5} {'PA':>5} {'tpl':>4}"
    print(header)
    print("-" * len(header))
    ours_all: list[tuple[float, float, float]] = []
    theirs_all: list[tuple[float, float, float]] = []
    behind = []
    for name, (lines, truth) in systems.items():
        t0 = time.perf_counter()
        ids, texts = lumos_parse(lines)
        elapsed = time.perf_counter() - t0
        ours = (*group_accuracy(ids, truth), parsing_accuracy(texts, truth))
        ours_all.append(ours)
        row = f"{name:<11} {len(lines):>5} | {ours[0]:>8.3f} {ours[1]:>5.3f} {ours[2]:>5.3f} {len(set(ids)):>4} {elapsed:>5.2f} |"
        drained = None if args.no_drain3 else drain3_parse(lines)
        if drained is not None:
            theirs = (*group_accuracy(drained[0], truth), parsing_accuracy(drained[1], truth))
            theirs_all.append(theirs)
            row += f" {theirs[0]:>9.3f} {theirs[1]:>5.3f} {theirs[2]:>5.3f} {len(set(drained[0])):>4}"
            if ours[0] < theirs[0]:
                behind.append(name)
        else:
            row += f" {'n/a':>9}"
        print(row)
    mean = [statistics.mean(r[i] for r in ours_all) for i in range(3)]
    line = f"{'mean':<11} {'':>5} | {mean[0]:>8.3f} {mean[1]:>5.3f} {mean[2]:>5.3f} {'':>4} {'':>5} |"
    if theirs_all:
        tmean = [statistics.mean(r[i] for r in theirs_all) for i in range(3)]
        line += f" {tmean[0]:>9.3f} {tmean[1]:>5.3f} {tmean[2]:>5.3f}"
    print(line)
    if theirs_all:
        print(f"GA at or above drain3 on every system: {'yes' if not behind else 'NO (' + ', '.join(behind) + ')'}")
    if not args.no_loso and len(systems) > 1:
        ga_by_setting = {}
        for setting in GRID:
            params = GroupingParams(max_constants=setting)
            ga_by_setting[setting] = {name: group_accuracy(lumos_parse(lines, params)[0], truth)[0]
                                      for name, (lines, truth) in systems.items()}
        folds = leave_one_out(ga_by_setting)
        print("leave-one-system-out (max_constants chosen on the other systems, GA on the held-out one):")
        print("  " + "  ".join(f"{name} {setting}->{ga:.3f}" for name, (setting, ga) in folds.items()))
        loso = statistics.mean(ga for _, ga in folds.values())
        print(f"  LOSO mean GA {loso:.3f} (target >= 0.95: {'met' if loso >= 0.95 else 'NOT met'}); "
              f"in-sample mean GA by setting: " + ", ".join(f"{s}: {statistics.mean(v.values()):.3f}" for s, v in ga_by_setting.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
