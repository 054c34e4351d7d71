"""The optional native scanner of log blocks, and the switch between it and pure Python.

`lumos.tools.logs._scan` (tools/logs/_scan.c) is built by `pip install` when a C compiler is
present. In one pass over a block of lines it computes what the pure-Python path gets from
several C-level passes and one bytes object per line: each line's message and skeleton
(`tokens.skeleton`), the distinct skeletons with their counts and first lines, one index per
line, and what `filemine` needs to know whether the block is clean. `scan_block` scans one
block on its own; a `Scanner` (`new_scanner`, `scan_blocks`) keeps the skeletons of every block
of a file, so only new ones reach Python, and cuts each block for `threads()` threads. Results
are identical to the pure-Python path, which is used when the extension is not built or when
the environment sets `LUMOS_LOGS_NATIVE=0`.
"""

from __future__ import annotations

import os
from array import array
from collections import namedtuple

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

try:
    from lumos.tools.logs import _scan
except ImportError:  # not built (no C compiler at install time): pure Python
    _scan = None

__all__ = ["AVAILABLE", "BlockScan", "BytesLike", "PendingScan", "active_path", "enabled", "in_format", "is_clean",
           "new_scanner", "remap", "scan_block", "scan_blocks", "threads"]

AVAILABLE = _scan is not None and array("i").itemsize == 4  # the scanner writes int32
ENV_VAR = "LUMOS_LOGS_NATIVE"
THREADS_ENV_VAR = "LUMOS_LOGS_THREADS"
BytesLike = bytes | bytearray | memoryview  # a block: bytes, or a view of a mapped file

CONTROL = 1  # a NUL or control byte (but tab) in some line
NONASCII = 2  # a byte >= 0x80 (UTF-8 validity left to a decode)
EMPTY = 4  # a blank line (its skeleton is empty or only spaces and tabs)
LONG = 8  # an aligned window of `window` bytes without a newline: maybe an over-long line
BAD = 16  # a line that is not in the scan's format


BlockScan = namedtuple("BlockScan", "skeletons spans counts uids lines flags")
BlockScan.__doc__ = """One native pass over a block of newline-separated lines (`scan_block`): the distinct
skeletons (list[bytes], in order of first appearance), the [start, end) byte span of each
one's first message, the lines per skeleton, the native int32 skeleton index per line (bytes,
None when not asked), the number of lines (n newlines -> n + 1) and the flags
(CONTROL | NONASCII | EMPTY | LONG | BAD)."""

PendingScan = namedtuple("PendingScan", "first skeletons spans uids lines flags")
PendingScan.__doc__ = """A block scanned by a `Scanner` (`scan_blocks`), pending until the scanner commits or
rolls it back: the skeletons first seen in it (ids `first`, `first` + 1, ...), the span of
each one's first message, the skeleton id per line (int32 bytes, or None), lines and flags."""


def enabled() -> bool:
    """True when the native scanner is built and not switched off with LUMOS_LOGS_NATIVE=0
    (read on every call, so tests and benchmarks can compare both paths in one process)."""
    return AVAILABLE and os.environ.get(ENV_VAR, "1").strip() != "0"


def active_path() -> str:
    """"native" or "python": which path block mining takes now (for logs and benchmarks)."""
    return "native" if enabled() else "python"


def scan_block(block: BytesLike, window: int = 1 << 30, want_lines: bool = True, fmt: int = 0) -> BlockScan:
    """Scan a block (bytes-like; no trailing newline expected) in one native pass.
    `window` is the aligned-window size of the over-long-line check (`LONG`); `want_lines`
    asks for the per-line indices; `fmt` (`spans.FORMAT_CODES`) makes each skeleton that of
    the line's message. Raises RuntimeError when the extension is not built."""
    if _scan is None:
        raise RuntimeError("the native log scanner (lumos.tools.logs._scan) is not built")
    return BlockScan(*_scan.scan(block, window, want_lines, fmt))


def in_format(block: bytes, fmt: int) -> int:
    """How many lines of a block are in format `fmt` (`spans.FORMAT_CODES`), in one native pass."""
    if _scan is None:
        raise RuntimeError("the native log scanner (lumos.tools.logs._scan) is not built")
    return _scan.in_format(block, fmt)


def is_clean(block: BytesLike, scan: "BlockScan | PendingScan") -> bool:
    """True when no line of the block can be bad (same rule as `filemine._is_clean`): no
    control byte, no empty skeleton, no possibly over-long line, every line in the format,
    valid UTF-8 (for a pending scan, the skeletons seen in earlier blocks passed already)."""
    if not block or scan.flags & (CONTROL | EMPTY | LONG | BAD):
        return False
    if scan.flags & NONASCII:
        try:
            str(block, "utf-8")  # any bytes-like block (a view of a mapped file too)
        except UnicodeDecodeError:
            return False
        if has_unicode_blank(scan.skeletons):
            return False
    return True


def has_unicode_blank(skeletons: "list[bytes] | set[bytes]") -> bool:
    """True when a (distinct) non-ASCII skeleton is only whitespace (NBSP, U+3000...): such a line
    is blank to the line classifier, so its block must take the classifying path."""
    return any(not sk.isascii() and not sk.decode("utf-8", "replace").strip() for sk in skeletons)


def remap(uids: bytes, table: "list[int] | array") -> array:
    """array('i') of table[uid] for each native int32 uid (one C loop, not one per line in Python)."""
    assert _scan is not None
    out = array("i")
    out.frombytes(_scan.remap(uids, table if isinstance(table, array) else array("i", table)))
    return out


def threads() -> int:
    """Threads a native Scanner cuts each block for: LUMOS_LOGS_THREADS, else the CPUs this
    process may run on (at most 4)."""
    value = os.environ.get(THREADS_ENV_VAR, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def new_scanner(fmt: int = 0, window: int = 1 << 30, want_lines: bool = True, threads: int = 1) -> "_scan.Scanner":
    """A native Scanner: distinct skeletons kept across blocks, so only new ones reach Python;
    with threads > 1 each block is scanned in that many parts at once (the same result)."""
    if _scan is None:
        raise RuntimeError("the native log scanner (lumos.tools.logs._scan) is not built")
    return _scan.Scanner(fmt, window, want_lines, threads)


def scan_blocks(scanner: "_scan.Scanner", blocks: "Iterable[BytesLike]") -> "Iterator[tuple[BytesLike, PendingScan]]":
    """(block, scan) for each block, in order, with CRLF line ends turned into LF first (as
    the pure-Python path does). The caller commits or rolls back each scan before asking for
    the next. A CR is a control byte, so a block is searched for one only when its scan flags
    CONTROL (then rolled back and rescanned if it had CRLF); once a CR was seen, every later
    block is searched before its scan."""
    crlf = False
    for block in blocks:
        if crlf:
            block = _crlf(block)
        scan = PendingScan(*scanner.scan(block))
        if not crlf and scan.flags & CONTROL and b"\r" in _as_bytes(block):
            crlf = True
            scanner.rollback()
            block = _crlf(block)
            scan = PendingScan(*scanner.scan(block))
        yield block, scan


def _as_bytes(block: BytesLike) -> bytes:
    return block if isinstance(block, bytes) else bytes(block)


def _crlf(block: BytesLike) -> BytesLike:
    """The block with CRLF line ends turned into LF (the block itself when it has no CR)."""
    data = _as_bytes(block)
    return data.replace(b"\r\n", b"\n") if b"\r" in data else block
