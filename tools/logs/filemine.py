"""Mine the templates of a log file in one streaming pass, with per-line assignments.

Raw files (one message per line) take a block fast path: a block of a few MB is checked for
bad lines with a few C-level scans and handed to `TemplateMiner.add_block` as bytes (or, when
the optional native scanner is built, a view of a memory map of the file is scanned once in
C, no copy, and handed to `add_scan`/`count_scan`: same blocks and results, see
`lumos.tools.logs.blocks` and `lumos.tools.logs.native`); only a block that contains a suspect line is
decoded and classified line by line. Bad lines (binary/garbage, over-long, empty, unparseable) are counted
by reason and skipped; they get no template (an empty id in the assignments).
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.errors import InputError
from lumos.tools.logs import native
from lumos.tools.logs.blocks import BLOCK_BYTES, buffered_blocks, mapped_blocks
from lumos.tools.logs.formats import LOG_FORMATS, LogFormat, parse_line
from lumos.tools.logs.miner import Template, TemplateMiner, skeleton

MAX_LINE_CHARS = 64 * 1024
_BAD_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


class MineResult(BaseModel):
    """Templates of a file, line counts, skip reasons, and one template index per line."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    format: str
    lines_total: int = 0
    lines_mined: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    templates: list[Template] = Field(default_factory=list)
    cluster_ids: list[str] = Field(default_factory=list, description="Template id of each key index.")
    line_clusters: array = Field(default_factory=lambda: array("i"), description="Key index per line, -1 = skipped.")

    @property
    def lines_skipped(self) -> int:
        """How many lines were skipped, whatever the reason."""
        return sum(self.skipped.values())

    def assignments(self) -> Iterator[tuple[int, str]]:
        """(line_id from 1, template id or "" when the line was skipped) for every line."""
        ids = self.cluster_ids
        for line_id, idx in enumerate(self.line_clusters, start=1):
            yield line_id, (ids[idx] if idx >= 0 else "")

    def summary(self) -> str:
        """One line: lines read, mined, skipped by reason, templates."""
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        skipped = f"; skipped {self.lines_skipped} ({reasons})" if self.skipped else ""
        return f"{self.path}: {self.lines_total} lines, {self.lines_mined} mined, {len(self.templates)} templates{skipped}"


def classify_line(line: str, max_chars: int = MAX_LINE_CHARS) -> str | None:
    """Why a line must be skipped (empty, too_long, binary), or None when it is usable."""
    if not line.strip():
        return "empty"
    if len(line) > max_chars:
        return "too_long"
    if "\x00" in line:
        return "binary"
    bad = len(_BAD_CHARS_RE.findall(line))
    if bad and bad * 10 > len(line):
        return "binary"
    return None


def _is_clean(block: bytes, skel: bytes, skeletons: list[bytes], max_chars: int) -> bool:
    """True when no line of the block can be bad: valid UTF-8, no control bytes, no empty or
    blank line and no line longer than `max_chars` (C-level scans, and one pass over the
    distinct skeletons)."""
    if not block or b"\x00" in skel or b"" in skeletons:
        return False
    distinct = set(skeletons)  # few: one pass over them finds blank lines
    if any(not sk.strip(b" \t") for sk in distinct):
        return False
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if native.has_unicode_blank(distinct):
            return False
    # a line of >= max_chars bytes covers a whole aligned window of max_chars/2 bytes
    window = max(max_chars // 2, 1)
    if len(block) > window:
        for start in range(0, len(block) - window + 1, window):
            if block.find(b"\n", start, start + window) < 0:
                return False
    return True


def _messages_block(messages: list[str]) -> bytes:
    return "\n".join(messages).encode("utf-8", "replace")


def _mine_lines(lines: list[str], fmt: LogFormat, miner: TemplateMiner, skipped: Counter, max_chars: int) -> list[int]:
    """Key index per line (-1 = skipped), parsing and classifying each line."""
    out = [-1] * len(lines)
    positions: list[int] = []
    messages: list[str] = []
    for pos, line in enumerate(lines):
        reason = classify_line(line, max_chars)
        parsed = reason if reason is not None else parse_line(line, fmt)
        if isinstance(parsed, str):
            skipped[parsed] += 1
            continue
        message = _BAD_CHARS_RE.sub(" ", parsed.message.replace("\n", " ").replace("\r", " "))
        if not message.strip():
            skipped["empty_message"] += 1
            continue
        positions.append(pos)
        messages.append(message)
    if messages:
        for pos, idx in zip(positions, miner.add_block(_messages_block(messages))):
            out[pos] = idx
    return out


def mine_file(
    path: str | Path,
    fmt: LogFormat = "raw",
    *,
    miner: TemplateMiner | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
    assignments: bool = True,
    workers: int = 1,
) -> MineResult:
    """Mine a log file (one message per line, or `fmt` jsonl/logfmt/plain/syslog) in one pass.
    With `assignments=False` only counts are kept (faster; `line_clusters` stays empty).
    `workers` > 1 mines byte ranges in parallel processes and merges their keys (the same
    result as one process; see `lumos.tools.logs.parallel`).

    Raises InputError when the file does not exist or is not a regular file; bad lines never raise.
    """
    path = Path(path)
    if fmt not in LOG_FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}", path=path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a regular file", path=path)
    if workers > 1:
        from lumos.tools.logs.parallel import mine_file_parallel  # noqa: PLC0415 - optional path

        return mine_file_parallel(path, fmt, workers=workers, max_line_chars=max_line_chars, assignments=assignments)
    miner = miner or TemplateMiner()
    total, skipped, line_clusters = mine_range(path, fmt, miner, max_line_chars=max_line_chars, assignments=assignments)
    return result_from(path, fmt, miner, total, skipped, line_clusters)


def mine_range(
    path: Path, fmt: LogFormat, miner: TemplateMiner, *, start: int = 0, end: int | None = None,
    max_line_chars: int = MAX_LINE_CHARS, assignments: bool = True,
) -> tuple[int, Counter, array]:
    """Mine the lines of `path` in the byte range [start, end) into `miner`:
    (lines read, skip reasons, key index per line or an empty array)."""
    skipped: Counter = Counter()
    line_clusters = array("i")
    total = 0
    use_native = fmt == "raw" and native.enabled()
    window = max(max_line_chars // 2, 1)  # the over-long-line check of `_is_clean`
    # the native scanner reads views of a map of the file (no copy); same blocks either way
    blocks = (mapped_blocks if use_native else buffered_blocks)(path, start, end, max_line_chars, BLOCK_BYTES)
    scans = native.scan_blocks(blocks, window, assignments) if use_native else ((b, None) for b in blocks)
    with closing(blocks):  # the file (and its map) is released at once, even when mining raises
        for block, scan in scans:
            if scan is not None:  # one native pass: skeletons, counts, clean check (same results)
                if native.is_clean(block, scan):
                    if assignments:
                        line_clusters.extend(miner.add_scan(block, scan))
                        total += scan.lines
                    else:
                        total += miner.count_scan(block, scan)
                    continue
                block = bytes(block)
            else:
                if b"\r" in block:  # one memchr scan; a 2-byte search costs ~15x more
                    block = block.replace(b"\r\n", b"\n")
                if fmt == "raw":
                    skel = skeleton(block)
                    skeletons = skel.split(b"\n")
                    if _is_clean(block, skel, skeletons, max_line_chars):
                        if assignments:
                            indices = miner.add_block(block, skeletons=skeletons)
                            total += len(indices)
                            line_clusters.fromlist(indices)
                        else:
                            total += miner.count_block(block, skeletons=skeletons)
                        continue
            lines = block.decode("utf-8", "replace").split("\n")
            total += len(lines)
            indices = _mine_lines(lines, fmt, miner, skipped, max_line_chars)
            if assignments:
                line_clusters.extend(indices)
    return total, skipped, line_clusters


def result_from(path: Path, fmt: str, miner: TemplateMiner, total: int, skipped: Counter, line_clusters: array) -> MineResult:
    """The MineResult of a finished miner."""
    templates = miner.templates()
    cluster_ids = miner.template_ids()
    mined = total - sum(skipped.values())
    return MineResult.model_construct(
        path=str(path), format=fmt, lines_total=total, lines_mined=mined, skipped=dict(skipped),
        templates=templates, cluster_ids=cluster_ids, line_clusters=line_clusters,
    )
