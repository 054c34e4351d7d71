"""Line skeletons (the miner's fast-path cache key): lines with the same skeleton mask to the
same key, so a cached cluster is never claimed for a line it does not describe (lines that
differ only in hex *letters* of words masking keeps, `/a` vs `/b`, `sda` vs `sdb`, used to
share a skeleton and the first line's template)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumos.tools.logs.filemine import mine_file
from lumos.tools.logs.masking import mask
from lumos.tools.logs.miner import TemplateMiner
from lumos.tools.logs.tokens import skeleton

from tests.test_logs_native import native_path


@pytest.mark.parametrize("on", [False, True])
@pytest.mark.parametrize("lines", [
    ["GET /a 200 12ms", "GET /b 500 3ms", "GET /c 200 1ms"],
    ["disk sda failed", "disk sdb failed"],
    ["level A", "level B"],
    ["op ADD", "op DEC"],
    ["a 1", "b 2", "c 3"],
])
def test_lines_differing_in_hex_letters_keep_their_own_words(tmp_path: Path, lines: list[str], on: bool) -> None:
    path = tmp_path / "t.log"
    path.write_text("\n".join(lines) + "\n")
    with native_path(on):
        result = mine_file(path)
    ids = [result.cluster_ids[i] for i in result.line_clusters]
    _each_word_is_the_lines_own(lines, ids, {t.id: t.text for t in result.templates})
    with native_path(on):
        miner = TemplateMiner()
        ids = [miner.add(line) for line in lines]
    _each_word_is_the_lines_own(lines, [miner.resolve(i) for i in ids], {t.id: t.text for t in miner.templates()})


def _each_word_is_the_lines_own(lines: list[str], ids: list[str], texts: dict[str, str]) -> None:
    """Each word of a line's template is one of the line's own words or `<*>`."""
    for line, tid in zip(lines, ids):
        assert set(texts[tid].split()) <= set(line.split()) | {"<*>"}, (line, texts[tid])

def test_skeleton_definition() -> None:
    assert skeleton(b"GET /a 200 12ms\nGET /b 500 3ms") == b"GET /a \x01 \x01\nGET /b \x01 \x01"
    assert skeleton(b"disk sda failed deadbeef") == b"disk sda failed deadbeef"
    # runs of letters and digits with a digit; a sign `-` joins its run, a `-` after a letter does not
    assert skeleton(b"blk_-42 node-7 core.4900 v1.2rc 0x1f") == b"blk_\x01 node-\x01 core.\x01 \x01.\x01 \x01"
    # a UUID is one marker, even with a group of letters only; a sign before a digit run wins
    assert skeleton(b"req-3fa2b4c1-abcd-12d3-a456-426614174000 x_-3fa2b4c1-abcd-12d3-a456-426614174000") == \
        b"req-\x01 x_\x01-abcd-\x01-\x01-\x01"
    # a token that ends in `:` and digits (a port) is one marker, whatever else it holds
    assert skeleton(b"to db.local:5432, Foo.java:12) 10.0.0.1:80 a:1b") == b"to \x01, \x01) \x01 a:\x01"
    # control bytes are NUL and are not delimiters; non-ASCII bytes are kept
    assert skeleton(b"a\x01 1\r2 \t3") == b"a\x00 \x01\x00\x01 \t\x01"
    assert skeleton("1\u00a0b 12 \u00e91".encode()) == "\x01\u00a0b \x01 \u00e9\x01".encode()


DELIMS = list(" \t=,;()[]{}<>\"'|:")  # `:` too: the port rule reads it
WORD_CHARS = list("abcdefABCDEFxyzXYZ_-./~+")
PHRASES = ["Jun", "Mon ", "B", " KB", "://", "http://", "aaaabbbb-", "-cdef-", "3fa2b4c1-abcd-12d3-a456-", "aaaabbbbcccc",
           "426614174000"]  # dates, sizes, URLs, UUID groups
OTHER_CHARS = ["\u00e9", "\u00a0", "\u3000", "\x1c", "\u0661"]  # non-ASCII letter, UTF-8 spaces, FS, a Unicode digit
DIGITS = list("0123456789")
word = st.text(alphabet=st.sampled_from(WORD_CHARS + OTHER_CHARS), min_size=1, max_size=6)
digit_token = st.tuples(*[st.text(alphabet=st.sampled_from(WORD_CHARS + OTHER_CHARS + DIGITS), max_size=4),
                          st.sampled_from(DIGITS),
                          st.text(alphabet=st.sampled_from(WORD_CHARS + OTHER_CHARS + DIGITS), max_size=4)]).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(shape=st.lists(st.one_of(st.sampled_from(DELIMS), st.none(), word, st.sampled_from(PHRASES)), max_size=12),
       data=st.data())
def test_equal_skeletons_mask_to_equal_keys(shape: list[str | None], data: st.DataObject) -> None:
    """Two lines of one shape (delimiters, digit-free words, and digit tokens drawn anew for
    each line: the only thing a skeleton hides): same skeleton => same masked key."""
    def line() -> str:
        return "".join(data.draw(digit_token) if piece is None else piece for piece in shape)

    a, b = line(), line()
    if skeleton(a.encode()) == skeleton(b.encode()):
        assert mask(a) == mask(b), (a, b)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(a=st.lists(st.sampled_from(DELIMS + WORD_CHARS + DIGITS + OTHER_CHARS + PHRASES), max_size=30).map("".join),
       b=st.lists(st.sampled_from(DELIMS + WORD_CHARS + DIGITS + OTHER_CHARS + PHRASES), max_size=30).map("".join))
def test_equal_skeletons_mask_to_equal_keys_on_any_lines(a: str, b: str) -> None:
    if skeleton(a.encode()) == skeleton(b.encode()):
        assert mask(a) == mask(b), (a, b)


@pytest.mark.parametrize("on", [False, True])
def test_blank_lines_are_skipped_as_empty_on_the_fast_path(tmp_path: Path, on: bool) -> None:
    path = tmp_path / "blank.log"
    path.write_text("hello 1\n   \n\t\n\u00a0\u3000\nhello 2\n")  # the fourth: NBSP and ideographic space
    with native_path(on):
        result = mine_file(path)
    assert result.skipped == {"empty": 3} and result.lines_mined == 2
    assert [t.text for t in result.templates] == ["hello <*>"]
