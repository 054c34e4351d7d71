"""Mine the templates of a log file in one streaming pass, with per-line assignments.

The file is read in blocks of a few MB. Every format takes the block fast path: with the
optional native scanner, one C pass over a view of a memory map of the file finds each
line's message (`lumos.tools.logs.spans`: header skipped, nothing parsed), its skeleton and
the distinct skeletons, and checks the block for bad lines; Python then works per distinct
skeleton only (`TemplateMiner.add_scan`/`count_scan`). Without it, the same blocks are cut
into messages and checked with a few C-level passes (same results). Only a block that holds
a suspect line (binary, over-long, empty, not in the format) is decoded and classified line
by line. Bad lines are counted by reason and skipped; they get no template (an empty id in
the assignments).

`--format auto` (`detect_format`) picks the format of a file from its first lines.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from lumos.tools.errors import InputError
from lumos.tools.logs import native
from lumos.tools.logs.blocks import BLOCK_BYTES, buffered_blocks, mapped_blocks
from lumos.tools.logs.miner import ScanFeed, Template, TemplateMiner, skeleton
from lumos.tools.logs.spans import FORMAT_CODES, SPANS

MAX_LINE_CHARS = 64 * 1024
MINE_FORMATS: tuple[str, ...] = ("auto", *FORMAT_CODES)  # auto, raw, jsonl, logfmt, syslog, plain, header
DETECT_ORDER = ("jsonl", "logfmt", "syslog", "plain", "header")
DETECT_SAMPLE_LINES = 200
DETECT_SHARE = 0.8  # a format is chosen when this share of the sample lines is in it
PARSE_REASONS = frozenset({"invalid_json", "no_message", "not_logfmt", "not_syslog", "bad_timestamp", "no_level", "no_header"})
_BAD_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_CONTROL_RE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


class MineResult:
    """Templates of a file, line counts, skip reasons, and one key index per line.

    A plain class (not a dataclass): the `lumos logs templates` path avoids importing dataclasses."""

    __slots__ = ("path", "format", "lines_total", "lines_mined", "skipped", "templates", "cluster_ids", "line_clusters",
                 "first_bad", "detected")

    def __init__(self, path: str, format: str, lines_total: int = 0, lines_mined: int = 0,  # noqa: A002 - the field's name
                 skipped: dict[str, int] | None = None, templates: list[Template] | None = None,
                 cluster_ids: list[str] | None = None, line_clusters: array | None = None,
                 first_bad: tuple[int, str, str] | None = None, detected: str = ""):
        self.path = path
        self.format = format
        self.lines_total = lines_total
        self.lines_mined = lines_mined
        self.skipped: dict[str, int] = {} if skipped is None else skipped
        self.templates: list[Template] = [] if templates is None else templates
        self.cluster_ids: list[str] = [] if cluster_ids is None else cluster_ids  # the template id of each key index
        self.line_clusters: array = array("i") if line_clusters is None else line_clusters  # key index per line, -1 = skipped
        self.first_bad = first_bad  # (line number, reason, text) of the first unparseable line
        self.detected = detected  # how `auto` chose the format ("" when it was given)

    def __repr__(self) -> str:
        return (f"MineResult(path={self.path!r}, format={self.format!r}, lines_total={self.lines_total}, "
                f"lines_mined={self.lines_mined}, skipped={self.skipped!r}, templates={len(self.templates)})")

    @property
    def lines_skipped(self) -> int:
        """How many lines were skipped, whatever the reason."""
        return sum(self.skipped.values())

    @property
    def lines_unparsed(self) -> int:
        """How many lines were not in the file's format."""
        return sum(n for reason, n in self.skipped.items() if reason in PARSE_REASONS)

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


def detect_format(path: Path, sample_bytes: int = 256 * 1024) -> tuple[str, str]:
    """(format, why) for a file, from its first non-blank lines: the first of `DETECT_ORDER`
    that at least `DETECT_SHARE` of them are in, else raw."""
    with path.open("rb") as fh:
        head = fh.read(sample_bytes)
    lines = head.split(b"\n")
    if len(head) == sample_bytes and len(lines) > 1:
        lines.pop()  # cut off mid-line
    sample: list[bytes] = []
    for line in lines:  # the first non-blank lines (not the whole head: it holds thousands)
        if line.strip():
            sample.append(line.rstrip(b"\r"))
            if len(sample) == DETECT_SAMPLE_LINES:
                break
    if not sample:
        return "raw", "no lines to look at"
    for fmt in DETECT_ORDER:
        hits = _lines_in_format(sample, fmt)
        if hits >= DETECT_SHARE * len(sample):
            return fmt, f"{hits} of the first {len(sample)} lines are {fmt}"
    return "raw", f"the first {len(sample)} lines are in none of {', '.join(DETECT_ORDER)}"


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


def _lines_in_format(lines: list[bytes], fmt: str) -> int:
    """How many of `lines` are in `fmt`: one native pass when the scanner is built (the same
    answer as the Python reference, `spans`), else the reference line by line."""
    if native.enabled():
        return native.in_format(b"\n".join(lines), FORMAT_CODES[fmt])
    span = SPANS[fmt]
    return sum(1 for line in lines if not isinstance(span(line), str))


def _is_clean(block: bytes, skeletons: list[bytes], max_chars: int, raw: bytes | None = None) -> bool:
    """True when no line of the block can be bad: valid UTF-8, no control bytes, no empty or
    blank message and no line longer than `max_chars` (C-level scans, and one pass over the
    distinct skeletons). `raw` is the block of whole lines when `block` holds their messages."""
    raw = block if raw is None else raw
    if not raw or b"" in skeletons or _CONTROL_RE.search(raw):
        return False
    distinct = set(skeletons)  # few: one pass over them finds blank lines
    if any(not sk.strip(b" \t") for sk in distinct):
        return False
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if native.has_unicode_blank(distinct):
            return False
    # a line of >= max_chars bytes covers a whole aligned window of max_chars/2 bytes
    window = max(max_chars // 2, 1)
    if len(raw) > window:
        for start in range(0, len(raw) - window + 1, window):
            if raw.find(b"\n", start, start + window) < 0:
                return False
    return True


def _messages(block: bytes, fmt: str) -> bytes | None:
    """The block of the lines' messages in `fmt`, or None when a line is not in it."""
    span = SPANS[fmt]
    out = []
    for line in block.split(b"\n"):
        found = span(line)
        if isinstance(found, str):
            return None
        out.append(line[found[0]:found[1]])
    return b"\n".join(out)


class LineState:
    """Per-line mining state of one file: skip reasons and the first unparseable line."""

    def __init__(self) -> None:
        self.skipped: Counter = Counter()
        self.first_bad: tuple[int, str, str] | None = None


def _mine_lines(lines: list[str], fmt: str, miner: TemplateMiner, state: LineState, max_chars: int, first_line: int) -> list[int]:
    """Key index per line (-1 = skipped), classifying each line and finding its message."""
    out = [-1] * len(lines)
    positions: list[int] = []
    messages: list[str] = []
    span = SPANS[fmt]
    for pos, line in enumerate(lines):
        reason = classify_line(line, max_chars)
        if reason is None:
            data = line.encode("utf-8", "replace")
            found = span(data)
            if isinstance(found, str):
                reason = found
                if state.first_bad is None:
                    state.first_bad = (first_line + pos, found, line[:300])
            else:
                message = _BAD_CHARS_RE.sub(" ", data[found[0]:found[1]].decode("utf-8", "replace"))
                reason = None if message.strip() else "empty_message"
        if reason is not None:
            state.skipped[reason] += 1
            continue
        positions.append(pos)
        messages.append(message)
    if messages:
        for pos, idx in zip(positions, miner.add_block("\n".join(messages).encode("utf-8", "replace"))):
            out[pos] = idx
    return out


def mine_file(
    path: str | Path,
    fmt: str = "auto",
    *,
    miner: TemplateMiner | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
    assignments: bool = True,
    workers: int = 1,
) -> MineResult:
    """Mine a log file in one pass: `fmt` is one of `MINE_FORMATS` (`auto` detects it from
    the first lines; `raw` mines whole lines). With `assignments=False` only counts are kept
    (faster; `line_clusters` stays empty). `workers` > 1 mines byte ranges in parallel
    processes and merges their keys (the same result as one process; see
    `lumos.tools.logs.parallel`).

    Raises InputError when the file does not exist or is not a regular file or the format is
    unknown; bad lines never raise (they are counted in `skipped`).
    """
    path = Path(path)
    if fmt not in MINE_FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(MINE_FORMATS)}", path=path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a regular file", path=path)
    detected = ""
    if fmt == "auto":
        fmt, detected = detect_format(path)
    if workers > 1:
        from lumos.tools.logs.parallel import mine_file_parallel  # noqa: PLC0415 - optional path

        result = mine_file_parallel(path, fmt, workers=workers, max_line_chars=max_line_chars, assignments=assignments)
    else:
        miner = TemplateMiner() if miner is None else miner
        total, state, line_clusters = mine_range(path, fmt, miner, max_line_chars=max_line_chars, assignments=assignments)
        result = result_from(path, fmt, miner, total, state, line_clusters)
    result.detected = detected
    return result


def mine_range(
    path: Path, fmt: str, miner: TemplateMiner, *, start: int = 0, end: int | None = None,
    max_line_chars: int = MAX_LINE_CHARS, assignments: bool = True, threads: int | None = None,
) -> tuple[int, LineState, array]:
    """Mine the lines of `path` in the byte range [start, end) into `miner` (`fmt` a concrete
    format): (lines read, skip reasons and first bad line, key index per line or an empty array).
    The native scanner cuts each block for `threads` threads (default `native.threads()`)."""
    state = LineState()
    line_clusters = array("i")
    total = 0
    use_native = native.enabled()
    window = max(max_line_chars // 2, 1)  # the over-long-line check of `_is_clean`
    # the native scanner reads views of a map of the file (no copy); same blocks either way
    blocks = (mapped_blocks if use_native else buffered_blocks)(path, start, end, max_line_chars, BLOCK_BYTES)
    feed = (ScanFeed(miner, FORMAT_CODES[fmt], window, assignments, native.threads() if threads is None else threads)
            if use_native else None)
    scans = native.scan_blocks(feed.scanner, blocks) if feed else ((b, None) for b in blocks)
    with closing(blocks):  # the file (and its map) is released at once, even when mining raises
        for block, scan in scans:
            if feed is not None and scan is not None:  # one native pass: messages, skeletons, counts, clean check
                if native.is_clean(block, scan):
                    indices = feed.accept(scan)
                    if indices is not None:
                        line_clusters.extend(indices)
                    total += scan.lines
                    continue
                feed.reject()
                block = bytes(block)
            else:
                if b"\r" in block:  # one memchr scan; a 2-byte search costs ~15x more
                    block = block.replace(b"\r\n", b"\n")
                messages = block if fmt == "raw" else _messages(block, fmt)
                if messages is not None:
                    skeletons = skeleton(messages).split(b"\n")
                    if _is_clean(messages, skeletons, max_line_chars, raw=block):
                        if assignments:
                            indices = miner.add_block(messages, skeletons=skeletons)
                            total += len(indices)
                            line_clusters.fromlist(indices)
                        else:
                            total += miner.count_block(messages, skeletons=skeletons)
                        continue
            lines = block.decode("utf-8", "replace").split("\n")
            indices = _mine_lines(lines, fmt, miner, state, max_line_chars, first_line=total + 1)
            total += len(lines)
            if assignments:
                line_clusters.extend(indices)
    if feed is not None:
        feed.flush()
    return total, state, line_clusters


def result_from(path: Path, fmt: str, miner: TemplateMiner, total: int, state: LineState, line_clusters: array) -> MineResult:
    """The MineResult of a finished miner."""
    mined = total - sum(state.skipped.values())
    return MineResult(
        path=str(path), format=fmt, lines_total=total, lines_mined=mined, skipped=dict(state.skipped),
        templates=miner.templates(), cluster_ids=miner.template_ids(), line_clusters=line_clusters,
        first_bad=state.first_bad,
    )
