"""Mine one large log file with several processes: each masks a byte range (cut at line
starts) with its own miner; the parent merges their distinct keys and counts
(`TemplateMiner.add_key`) and maps every line's key to the merged one.

Templates are grouped from the set of keys only (`lumos.tools.logs.grouping`), so the result
is identical to a one-process run, whatever the number of workers. Falls back to one process
where `fork` is not available.
"""

from __future__ import annotations

import multiprocessing
from array import array
from pathlib import Path

from lumos.tools.logs.filemine import MAX_LINE_CHARS, MineResult, LineState, mine_range, result_from
from lumos.tools.logs.miner import TemplateMiner

MIN_BYTES_PER_WORKER = 4 << 20


def split_ranges(path: Path, workers: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges of about equal size, each starting at a line start."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, workers):
            fh.seek(max(k * size // workers, cuts[-1]))
            fh.readline()  # finish the line we landed in
            pos = fh.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _worker(args: tuple[str, str, int, int, int, bool]) -> tuple[int, LineState, array, list[tuple[str, int]]]:
    path, fmt, start, end, max_chars, assignments = args
    miner = TemplateMiner()
    total, state, lines = mine_range(Path(path), fmt, miner, start=start, end=end,  # type: ignore[arg-type]
                                       max_line_chars=max_chars, assignments=assignments, threads=1)  # processes already
    return total, state, lines, miner.keys()


def mine_file_parallel(
    path: str | Path, fmt: str = "raw", *, workers: int = 2, max_line_chars: int = MAX_LINE_CHARS,
    assignments: bool = True,
) -> MineResult:
    """`mine_file` with `workers` processes (one process for small files or without fork);
    `fmt` is a concrete format (not `auto`)."""
    path = Path(path)
    workers = max(1, min(workers, path.stat().st_size // MIN_BYTES_PER_WORKER or 1))
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        miner = TemplateMiner()
        total, state, lines = mine_range(path, fmt, miner, max_line_chars=max_line_chars, assignments=assignments)
        return result_from(path, fmt, miner, total, state, lines)
    ranges = split_ranges(path, workers)
    jobs = [(str(path), fmt, a, b, max_line_chars, assignments) for a, b in ranges]
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        parts = pool.map(_worker, jobs)
    merged, state = TemplateMiner(), LineState()
    total, line_clusters = 0, array("i")
    for part_total, part_state, lines, keys in parts:
        table = [merged.add_key(key, count) for key, count in keys] + [-1]  # table[-1] == -1 (skipped)
        line_clusters.extend(array("i", map(table.__getitem__, lines)))
        state.skipped.update(part_state.skipped)
        if state.first_bad is None and part_state.first_bad is not None:
            line, reason, text = part_state.first_bad
            state.first_bad = (total + line, reason, text)
        total += part_total
    return result_from(path, fmt, merged, total, state, line_clusters)
