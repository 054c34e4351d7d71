"""The optional native scanner gives exactly what the pure-Python path gives: the same
skeletons, counts, per-line indices and clean checks on any bytes, and the same MineResult
(templates, counts, assignments, skip reasons) on real and hostile files."""

from __future__ import annotations

import os
import random
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumos.tools.logs import native
from lumos.tools.logs.filemine import MineResult, _is_clean, mine_file
from lumos.tools.logs.miner import TemplateMiner
from lumos.tools.logs.spans import FORMAT_CODES
from lumos.tools.logs.tokens import skeleton, skeleton_lines

needs_native = pytest.mark.skipif(not native.AVAILABLE, reason="native scanner not built (no C compiler)")
LOGHUB = Path("/work/shared/datasets/loghub")


@contextmanager
def native_path(on: bool):
    """Force the native (on) or pure-Python (off) path for the duration of the block."""
    old = os.environ.get(native.ENV_VAR)
    os.environ[native.ENV_VAR] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(native.ENV_VAR, None)
        else:
            os.environ[native.ENV_VAR] = old


def _python_long(block: bytes, window: int) -> bool:
    """The over-long-line rule of `filemine._is_clean`, on its own."""
    if len(block) <= window:
        return False
    return any(block.find(b"\n", s, s + window) < 0 for s in range(0, len(block) - window + 1, window))


# bytes that matter: newlines, digits, letters, delimiters, `:` (ports) and `-` (signs, UUIDs),
# tab, CR, NUL and other control bytes, non-ASCII and UTF-8 whitespace (NBSP, U+3000)
_ALPHABET = b"\n\n\n0123456789abcdefABCDEF\t\r\x00\x01\x7fxyz XYZ:=-'/_.,\"\xc3\xa9\xff\x80"
_PIECES = [bytes([b]) for b in _ALPHABET] + [b"\xc2\xa0", b"\xe3\x80\x80", b"\xe2\x80\x8a", b"\xe2\x81\x9f", b"\xc2\x85"]
_UUID_PIECES = [b"3fa2b4c1", b"abcdefab", b"-", b"12d3", b"abcd", b"426614174000", b"aaaabbbbcccc", b"x", b" ", b":", b"\n",
                b"_", b"9"]  # UUID groups (with and without a digit) and what may touch them
blocks = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(list(_ALPHABET)), max_size=400).map(bytes),
    st.lists(st.sampled_from(_PIECES), max_size=200).map(b"".join),
    st.lists(st.sampled_from(_UUID_PIECES), max_size=60).map(b"".join),
)


def test_env_switch() -> None:
    with native_path(False):
        assert not native.enabled() and native.active_path() == "python"
    with native_path(True):
        assert native.enabled() == native.AVAILABLE
        assert native.active_path() == ("native" if native.AVAILABLE else "python")


@needs_native
@settings(max_examples=400, deadline=None)
@given(block=blocks, window=st.integers(min_value=1, max_value=64))
def test_scan_matches_python_on_any_bytes(block: bytes, window: int) -> None:
    scan = native.scan_block(block, window)
    skel = skeleton(block)
    skeletons = skel.split(b"\n")
    lines = block.split(b"\n")
    first = {}
    for i, sk in enumerate(skeletons):
        first.setdefault(sk, i)
    assert scan.skeletons == list(first)
    assert scan.counts == [Counter(skeletons)[sk] for sk in first]
    assert [block[a:b] for a, b in scan.spans] == [lines[i] for i in first.values()]
    assert scan.lines == len(lines)
    order = {sk: i for i, sk in enumerate(first)}
    assert native.remap(scan.uids, list(range(len(first)))).tolist() == [order[sk] for sk in skeletons]
    assert bool(scan.flags & native.CONTROL) == any(b < 32 and b not in (9, 10) or b == 127 for b in block)
    assert bool(scan.flags & native.EMPTY) == any(not sk.strip(b" \t") for sk in skeletons)  # a blank line
    assert bool(scan.flags & native.NONASCII) == (not block.isascii())
    assert bool(scan.flags & native.LONG) == _python_long(block, window)
    assert native.is_clean(block, scan) == _is_clean(block, skeletons, 2 * window)
    assert native.scan_block(block, window, want_lines=False).uids is None


@needs_native
@settings(max_examples=200, deadline=None)
@given(block=blocks)
def test_scalar_and_simd_paths_agree(block: bytes) -> None:
    from lumos.tools.logs import _scan

    simd = _scan.simd()
    try:
        _scan.simd(False)
        scalar = native.scan_block(block, 8)
    finally:
        _scan.simd(simd)
    assert native.scan_block(block, 8) == scalar
    assert scalar.skeletons == list(dict.fromkeys(skeleton_lines(block)))


@needs_native
def test_scan_edge_cases() -> None:
    for block in [b"", b"\n", b"\n\n\n", b"abc", b"a\nb", b"x" * 100_000, b"\x00" * 17 + b"\n" + b"\xff" * 33,
                  b"line 1\nline 2\n", bytes(range(256)) * 3]:
        scan = native.scan_block(block, 16)
        assert scan.skeletons == list(dict.fromkeys(skeleton_lines(block)))
        assert scan.lines == block.count(b"\n") + 1
    scan = native.scan_block(bytearray(b"ab 1\nab 2"))  # any buffer
    assert scan.skeletons == [b"ab \x01"] and scan.counts == [2]
    with pytest.raises(ValueError):
        native.scan_block(b"x", 0)
    with pytest.raises(IndexError):
        native.remap(native.scan_block(b"x\ny").uids, [7])
    with pytest.raises(TypeError):
        native.scan_block("text")  # type: ignore[arg-type]


@needs_native
def test_many_distinct_skeletons_and_collisions() -> None:
    """Far more distinct skeletons than the initial table (growth), all kept apart."""
    words = ["".join(random.Random(i).choices("ghijklmnopqrstuvwxyz", k=8)) for i in range(20_000)]
    block = "\n".join(w + " 1" for w in words + words).encode()
    scan = native.scan_block(block)
    assert len(scan.skeletons) == len(set(words)) and set(scan.counts) == {2}


messages = st.lists(st.text(alphabet=st.sampled_from(list("abcdefxyz 0123456789:=/-_.\t\r\x00é<>*")), max_size=40),
                    min_size=1, max_size=60)


@needs_native
@settings(max_examples=150, deadline=None)
@given(msgs=messages, cache_size=st.sampled_from([3, 50, 200_000]))
def test_miner_blocks_match_python(msgs: list[str], cache_size: int) -> None:
    results = []
    for on in (False, True):
        with native_path(on):
            miner = TemplateMiner(cache_size=cache_size)
            idx = miner.add_many(msgs)
            counted = TemplateMiner(cache_size=cache_size)
            block = "\n".join(m.replace("\n", " ") for m in msgs).encode()
            n = counted.count_block(block)
            results.append((list(idx), [miner.id_of(i) for i in idx], miner.templates(), n, counted.templates()))
    assert results[0] == results[1]


def _hostile_file(path: Path, seed: int = 3) -> Path:
    """Realistic lines mixed with CRLF, bad bytes, empty and hex-only lines, long lines."""
    rng = random.Random(seed)
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory"]
    out = []
    for i in range(6000):
        r = rng.random()
        if r < 0.01:
            out.append(b"")
        elif r < 0.02:
            out.append(b"deadbeef 1234")
        elif r < 0.03:
            out.append(bytes(rng.randrange(256) for _ in range(40)).replace(b"\n", b""))
        elif r < 0.035:
            out.append(b"long " + b"y" * rng.randint(500, 3000))
        elif r < 0.04:
            out.append(f"crlf line {i}\r".encode())
        elif r < 0.05:
            out.append(f"caf\u00e9 ordered {i} by {rng.choice(users)}".encode())
        else:
            out.append(rng.choice([
                f"User {rng.choice(users)} logged in from 10.0.{i % 256}.{rng.randint(1, 254)}",
                f"Query on table t{rng.randint(1, 9)} took {rng.randint(1, 900)} ms",
                f"GET /api/v1/items/{rng.randint(1, 99999)} HTTP/1.1 200 {rng.randint(50, 9000)}",
                f"worker {rng.randint(0, 7)} finished job {rng.getrandbits(64):x}",
                f"\tat com.example.Service.call(Service.java:{rng.randint(1, 500)})",
            ]).encode())
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def _mine_both(path: Path, **kwargs) -> tuple[MineResult, MineResult]:
    results = []
    cache_size = kwargs.pop("cache_size", None)
    for on in (False, True):
        with native_path(on):
            miner = TemplateMiner(cache_size=cache_size) if cache_size else None
            results.append(mine_file(path, miner=miner, **kwargs))
    return results[0], results[1]


def _same(a: MineResult, b: MineResult) -> None:
    assert a.lines_total == b.lines_total and a.lines_mined == b.lines_mined
    assert a.skipped == b.skipped
    assert a.templates == b.templates
    assert a.cluster_ids == b.cluster_ids
    assert a.line_clusters == b.line_clusters
    assert list(a.assignments()) == list(b.assignments())


@needs_native
@pytest.mark.parametrize("block_bytes", [4 << 20, 4096])
@pytest.mark.parametrize("assignments", [True, False])
def test_files_mine_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int, assignments: bool) -> None:
    import lumos.tools.logs.filemine as filemine

    monkeypatch.setattr(filemine, "BLOCK_BYTES", block_bytes)
    path = _hostile_file(tmp_path / "hostile.log")
    one, two = _mine_both(path, assignments=assignments, max_line_chars=2000)
    _same(one, two)
    assert one.skipped and one.skipped.get("too_long") and one.skipped.get("binary")
    small_one, small_two = _mine_both(path, assignments=assignments, cache_size=20)  # caches cleared mid-block
    _same(small_one, small_two)


@needs_native
@pytest.mark.parametrize("system", ["HDFS", "Apache", "OpenStack"])
def test_loghub_samples_mine_identically(system: str) -> None:
    path = LOGHUB / system / f"{system}_2k.log"
    if not path.exists():
        pytest.skip(f"{path} not available")
    one, two = _mine_both(path)
    _same(one, two)
    assert one.lines_mined > 1900


@needs_native
def test_parallel_path_uses_the_native_scanner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.logs.parallel as parallel

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_WORKER", 1024)
    path = _hostile_file(tmp_path / "hostile.log", seed=5)
    seen = tmp_path / "scanned-by"
    real = native.scan_blocks

    def recording(*args, **kwargs):  # the workers are forked: they leave a file per process
        (seen / str(os.getpid())).touch()
        return real(*args, **kwargs)

    seen.mkdir()
    monkeypatch.setattr(native, "scan_blocks", recording)
    one, two = _mine_both(path, workers=2, max_line_chars=2000)
    workers = {int(f.name) for f in seen.iterdir()}
    assert len(workers) == 2 and os.getpid() not in workers  # both workers scanned natively
    _same(one, two)
    with native_path(True):
        single = mine_file(path, max_line_chars=2000)
    assert single.lines_total == two.lines_total and single.skipped == two.skipped


@needs_native
@settings(max_examples=150, deadline=None)
@given(block=blocks, fmt=st.sampled_from(sorted(FORMAT_CODES)), chunk=st.sampled_from([1, 7, 64, 65, 200]))
def test_chunk_edges_and_scalar_classification_change_nothing(block: bytes, fmt: str, chunk: int) -> None:
    """Lines are classified in chunks (a line crossing a chunk's end starts the next one) by AVX2
    or a portable loop: any chunk size and either loop give the default scan."""
    from lumos.tools.logs import _scan

    want = native.scan_block(block, 8, True, FORMAT_CODES[fmt])
    want_in = native.in_format(block, FORMAT_CODES[fmt])
    size, simd = _scan.chunk_size(), _scan.simd()
    try:
        _scan.chunk_size(chunk)
        for flag in (simd, False):
            _scan.simd(flag)
            assert native.scan_block(block, 8, True, FORMAT_CODES[fmt]) == want
            assert native.in_format(block, FORMAT_CODES[fmt]) == want_in
    finally:
        _scan.chunk_size(size)
        _scan.simd(simd)


@needs_native
def test_scanner_keeps_skeletons_across_blocks_until_rolled_back() -> None:
    scanner = native.new_scanner()
    first = native.PendingScan(*scanner.scan(b"a 1\nb 2\na 3"))
    assert (first.first, first.skeletons, first.lines) == (0, [b"a \x01", b"b \x01"], 3)
    assert native.remap(first.uids, [10, 20]).tolist() == [10, 20, 10]
    with pytest.raises(RuntimeError):
        scanner.scan(b"x")  # the pending block must be committed or rolled back first
    scanner.commit()
    second = native.PendingScan(*scanner.scan(b"c 1\na 2"))
    assert (second.first, second.skeletons, second.spans) == (2, [b"c \x01"], [(0, 3)])
    scanner.rollback()  # forgotten: its lines and the skeleton it added
    assert len(scanner) == 2 and scanner.counts() == [2, 1]
    third = native.PendingScan(*scanner.scan(b"c 9\nb 1"))
    assert (third.first, third.skeletons) == (2, [b"c \x01"])
    scanner.commit()
    assert scanner.counts() == [2, 2, 1]
    scanner.clear()
    assert len(scanner) == 0 and native.PendingScan(*scanner.scan(b"a 1")).first == 0


@needs_native
@settings(max_examples=120, deadline=None)
@given(parts=st.lists(blocks, min_size=1, max_size=4), fmt=st.sampled_from(sorted(FORMAT_CODES)),
       keep=st.lists(st.booleans(), min_size=4, max_size=4), want_lines=st.booleans())
def test_blocks_cut_for_threads_scan_as_one_pass(parts: list[bytes], fmt: str, keep: list[bool], want_lines: bool) -> None:
    """A Scanner with threads cuts each block at line starts, scans the parts at once into
    tables of their own and merges them in order: the same skeletons, ids, lines and counts."""
    from lumos.tools.logs import _scan

    size = _scan.part_size()
    _scan.part_size(16)  # cut even these small blocks
    try:
        outs = []
        for threads in (1, 2, 5):
            scanner = native.new_scanner(FORMAT_CODES[fmt], 8, want_lines, threads)
            out = []
            for block, kept in zip(parts, keep):
                out.append(scanner.scan(block))
                scanner.commit() if kept else scanner.rollback()
            outs.append((out, scanner.counts()))
    finally:
        _scan.part_size(size)
    assert outs[0] == outs[1] == outs[2]
