"""Blocks of whole lines of a log file, for block-at-a-time template mining.

Two sources give the *same* blocks (same cuts, same placeholders for over-long lines):
* `buffered_blocks` reads the file in chunks of `block_bytes` into a reused buffer and copies
  each block out (bytes; works on any readable file);
* `mapped_blocks` cuts read-only views of an `mmap` of the file at the same places: no read
  copy and no fresh block allocation (the native scanner reads the page cache directly).
  It falls back to `buffered_blocks` when the file cannot be mapped (empty, a size of 0 as
  /proc files report, not a regular file, no room in the address space) or when the
  environment sets `LUMOS_LOGS_MMAP=0`. A read of a page lost to truncation kills the
  process with SIGBUS (as for `rg --mmap`): the size is checked before each block, so a
  file truncated between blocks raises InputError, but a truncation during one block's scan
  cannot be caught; switch mapping off to mine files truncated in place (copytruncate).

A block is the lines of one chunk up to its last newline (the newline itself dropped), with
the unfinished last line carried over to the next chunk. A line longer than 4 x `max_line`
bytes is not held in memory: it becomes a placeholder of `max_line + 1` bytes, which is
classified as too long.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lumos.tools.errors import InputError

__all__ = ["BLOCK_BYTES", "MMAP_ENV_VAR", "buffered_blocks", "mapped_blocks", "mmap_enabled"]

BLOCK_BYTES = 4 << 20
MMAP_ENV_VAR = "LUMOS_LOGS_MMAP"
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


def mmap_enabled() -> bool:
    """False when the environment sets LUMOS_LOGS_MMAP=0 (read on every call)."""
    return os.environ.get(MMAP_ENV_VAR, "1").strip() != "0"


def buffered_blocks(path: Path, start: int = 0, end: int | None = None, max_line: int = 64 * 1024,
                    block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines (without the last newline) from byte `start` (a line start) up
    to byte `end` (a line start, or the end of the file), read `block_bytes` at a time."""
    placeholder = b"x" * (max_line + 1)
    buf = bytearray(block_bytes)  # reused: one copy per block, no fresh read buffer each time
    view = memoryview(buf)
    with path.open("rb") as fh:
        fh.seek(start)
        remaining = -1 if end is None else end - start
        rest = b""
        dropping = False
        while True:
            size = len(buf) if remaining < 0 else min(len(buf), remaining)
            got = fh.readinto(view[:size]) if size else 0
            if remaining >= 0:
                remaining -= got
            if not got:
                if rest or dropping:
                    yield placeholder if dropping else rest
                return
            begin = 0
            if dropping:  # inside an over-long line: skip to its end
                nl = buf.find(b"\n", 0, got)
                if nl < 0:
                    continue
                dropping, rest, begin = False, placeholder, nl
            cut = buf.rfind(b"\n", begin, got)
            if cut < 0:
                rest = rest + view[begin:got]
                if len(rest) > 4 * max_line:
                    rest, dropping = b"", True
                continue
            block = rest + view[begin:cut]
            rest = bytes(view[cut + 1:got])
            yield block


def _map(path: Path) -> mmap.mmap | None:
    """A read-only map of the whole file, or None when it cannot (or should not) be mapped."""
    if not mmap_enabled():
        return None
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if not st.st_size or not stat.S_ISREG(st.st_mode):  # empty (mmap raises), /proc, FIFO
                return None
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # keeps its own fd
    except (OSError, ValueError, OverflowError):
        return None


def mapped_blocks(path: Path, start: int = 0, end: int | None = None, max_line: int = 64 * 1024,
                  block_bytes: int = BLOCK_BYTES) -> Iterator[bytes | memoryview]:
    """The blocks of `buffered_blocks` as views of a read-only map of the file (a block that
    follows an over-long line is a copy: it starts with the placeholder). The pages of the
    lines already handed out are released from this process (the page cache keeps them),
    so the resident size stays at a few blocks whatever the file size."""
    mm = _map(path)
    if mm is None:
        yield from buffered_blocks(path, start, end, max_line, block_bytes)
        return
    view = memoryview(mm)
    try:
        stop = len(mm) if end is None or end < start else min(end, len(mm))  # end < start: to EOF, as buffered
        yield from _cut(mm, view, start, stop, max_line, block_bytes, path)
    finally:
        view.release()
        try:
            mm.close()
        except BufferError:  # the caller still holds a block: unmapped when it is freed
            pass


def _cut(mm: mmap.mmap, view: memoryview, start: int, stop: int, max_line: int,
         block_bytes: int, path: Path) -> Iterator[bytes | memoryview]:
    """`buffered_blocks` on a map: the same chunks [cs, ce) and cuts, as offsets. Before each
    chunk the file's size is checked, so a file truncated between blocks raises InputError."""
    placeholder = b"x" * (max_line + 1)
    rest = start  # the unfinished line carried over is [rest, cs)
    released = 0  # pages below this offset were released
    dropping = False
    cs = start
    while cs < stop:
        ce = min(cs + block_bytes, stop)
        if mm.size() < ce:  # truncated in place: reading a lost page would kill the process (SIGBUS)
            raise InputError(f"the file shrank while being read (truncated in place?); read it with {MMAP_ENV_VAR}=0 "
                             "or mine a copy", path=path)
        begin, lead = cs, False
        if dropping:  # inside an over-long line: skip to its end
            nl = mm.find(b"\n", cs, ce)
            if nl < 0:
                cs = ce
                continue
            dropping, begin, lead = False, nl, True
        cut = mm.rfind(b"\n", begin, ce)  # >= begin when lead (begin is a newline)
        if cut < 0:
            if ce - rest > 4 * max_line:
                rest, dropping = ce, True
            cs = ce
            continue
        block = placeholder + view[begin:cut] if lead else view[rest:cut]
        rest = cut + 1
        yield block
        del block
        released = _release(mm, released, rest)
        cs = ce
    if dropping:
        yield placeholder
    elif rest < stop:
        yield view[rest:stop]


def _release(mm: mmap.mmap, released: int, upto: int) -> int:
    """Drop this process's mapping of the whole pages in [released, upto); the new mark."""
    upto -= upto % mmap.PAGESIZE
    if _DONTNEED is not None and upto - released >= 16 * mmap.PAGESIZE:
        try:
            mm.madvise(_DONTNEED, released, upto - released)
        except (OSError, ValueError):
            return released
        return upto
    return released
