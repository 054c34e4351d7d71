"""Blocks of a log file: the mapped source (views of an mmap) cuts exactly the blocks of the
buffered one (same cuts, placeholders, ranges), falls back where a map is not possible, and
mining through it gives what the pure-Python path gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumos.tools.logs import native
from lumos.tools.logs.blocks import MMAP_ENV_VAR, _map, buffered_blocks, mapped_blocks, mmap_enabled
from lumos.tools.logs.filemine import mine_file, mine_range
from lumos.tools.logs.miner import TemplateMiner

from tests.test_logs_native import _same, native_path  # shared helpers


def _both(path: Path, *args: int | None) -> tuple[list[bytes], list[bytes]]:
    return list(buffered_blocks(path, *args)), [bytes(b) for b in mapped_blocks(path, *args)]


CASES = {
    "empty": b"",
    "one_newline": b"\n",
    "no_trailing_newline": b"a 1\nb 2\nlast line 3",
    "trailing_newline": b"a 1\nb 2\n",
    "long_last_line": b"a 1\n" + b"z" * 9000,
    "long_last_line_nl": b"a 1\n" + b"z" * 9000 + b"\n",
    "long_middle": b"a 1\n" + b"y" * 9000 + b"\nb 2\n" + b"c 3\n" * 50,
    "long_first": b"w" * 20000 + b"\nafter 1",
    "crlf": b"x 1\r\ny 2\r\n" * 300,
    "empty_lines": b"\n\n\nq\n\n",
    "page_exact": b"abcdef 12\n" * 819 + b"xy",  # 8192 bytes, no last newline: the map ends there
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("block_bytes", [7, 64, 1000, 4 << 20])
def test_mapped_blocks_are_the_buffered_blocks(tmp_path: Path, name: str, block_bytes: int) -> None:
    path = tmp_path / f"{name}.log"
    path.write_bytes(CASES[name])
    buffered, mapped = _both(path, 0, None, 500, block_bytes)
    assert mapped == buffered
    if "long" not in name:  # no placeholder: the blocks are the file without its last newline
        content = CASES[name]
        assert b"\n".join(buffered) == (content[:-1] if content.endswith(b"\n") else content)


@settings(max_examples=200, deadline=None)
@given(data=st.lists(st.sampled_from([b"ab 1", b"", b"x" * 40, b"\r", b"\xc3\xa9 2", b"k" * 130]), max_size=40)
       .map(b"\n".join), tail=st.sampled_from([b"", b"\n"]), block_bytes=st.integers(1, 300),
       max_line=st.integers(1, 60), cut=st.integers(0, 100), stop=st.integers(0, 2000))
def test_mapped_blocks_match_on_any_file_and_range(tmp_path_factory: pytest.TempPathFactory, data: bytes, tail: bytes,
                                                   block_bytes: int, max_line: int, cut: int, stop: int) -> None:
    path = tmp_path_factory.mktemp("blocks") / "f.log"
    content = data + tail
    path.write_bytes(content)
    starts = [0] + [i + 1 for i, c in enumerate(content) if c == 10]  # line starts, as parallel.py cuts
    start = starts[cut % len(starts)]
    for end in (None, stop, len(content), len(content) + 10):
        buffered, mapped = _both(path, start, end, max_line, block_bytes)
        assert mapped == buffered, (start, end)


def test_no_map_where_it_cannot_or_should_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert _map(empty) is None and list(mapped_blocks(empty)) == []  # mmap of 0 bytes raises
    proc = Path("/proc/self/status")
    if proc.exists():  # size 0 on stat, content on read: the buffered fallback reads it
        assert _map(proc) is None
        assert b"".join(bytes(b) for b in mapped_blocks(proc)).startswith(b"Name:")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer, so that opening it does not block
        try:
            assert _map(fifo) is None
        finally:
            os.close(fd)
    path = tmp_path / "a.log"
    path.write_bytes(b"a 1\nb 2\n")
    assert _map(path) is not None
    monkeypatch.setenv(MMAP_ENV_VAR, "0")
    assert not mmap_enabled() and _map(path) is None
    assert [bytes(b) for b in mapped_blocks(path)] == [b"a 1\nb 2"]


def test_a_block_kept_after_the_end_stays_readable(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"line 1\nline 2\nline 3")
    kept = list(mapped_blocks(path, 0, None, 100, 8))  # the map outlives the generator
    assert [bytes(b) for b in kept] == list(buffered_blocks(path, 0, None, 100, 8))
    gen = mapped_blocks(path, 0, None, 100, 8)
    first = next(gen)
    gen.close()  # closed early, a block still held: no BufferError
    assert bytes(first) == b"line 1"


@pytest.mark.skipif(not native.AVAILABLE, reason="native scanner not built (no C compiler)")
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mapped", [True, False])
def test_mining_through_the_map_matches_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                               mapped: bool) -> None:
    import lumos.tools.logs.filemine as filemine

    monkeypatch.setattr(filemine, "BLOCK_BYTES", 64)
    monkeypatch.setenv(MMAP_ENV_VAR, "1" if mapped else "0")
    path = tmp_path / f"{name}.log"
    path.write_bytes(CASES[name])
    results = []
    for on in (False, True):
        with native_path(on):
            results.append(mine_file(path, max_line_chars=1000))
    _same(*results)
    assert results[0].lines_total == (CASES[name].count(b"\n") + (not CASES[name].endswith(b"\n")) if CASES[name] else 0)


@pytest.mark.skipif(not native.AVAILABLE, reason="native scanner not built (no C compiler)")
def test_byte_ranges_mine_like_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.logs.filemine as filemine

    monkeypatch.setattr(filemine, "BLOCK_BYTES", 256)
    content = b"".join(b"user %d logged in from 10.0.0.%d\r\n" % (i, i % 9) if i % 7 else b"q" * 3000 + b"\n"
                       for i in range(400))
    path = tmp_path / "r.log"
    path.write_bytes(content)
    starts = [0] + [i + 1 for i, c in enumerate(content) if c == 10]
    for start, end in [(0, None), (starts[5], starts[200]), (starts[100], len(content)), (starts[-1], None)]:
        parts = []
        for on in (False, True):
            with native_path(on):
                miner = TemplateMiner()
                total, state, lines = mine_range(path, "raw", miner, start=start, end=end, max_line_chars=500)
                parts.append((total, dict(state.skipped), lines, miner.templates()))
        assert parts[0] == parts[1]


def test_a_file_truncated_between_blocks_raises_instead_of_crashing(tmp_path: Path) -> None:
    from lumos.tools.errors import InputError

    path = tmp_path / "live.log"
    path.write_bytes(b"".join(b"line %d of a live log\n" % i for i in range(2000)))
    blocks = mapped_blocks(path, block_bytes=4096)
    first = bytes(next(blocks))
    assert first.startswith(b"line 0 ")
    os.truncate(path, 100)  # logrotate copytruncate while the file is being mined
    with pytest.raises(InputError, match="shrank while being read"):
        next(blocks)  # no read of a lost page (that would be SIGBUS), a clear error instead
    blocks.close()
