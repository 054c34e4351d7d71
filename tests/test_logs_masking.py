"""Variable masking: universally variable parts become `<*>`; words (even names) stay for the
miner to judge from the data."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumos.tools.logs.masking import keys_of_skeletons, mask
from lumos.tools.logs.tokens import skeleton


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Request 42 took 1234ms", "Request <*> took <*>"),
        ("id 0x7f3a9c and 3fa2b4c1d9e8", "id <*> and <*>"),
        ("order 123e4567-e89b-12d3-a456-426614174000 paid", "order <*> paid"),
        ("connect to 10.0.0.12:5432 failed", "connect to <*> failed"),
        ("loaded /etc/app/config.yaml", "loaded <*>"),
        ("GET https://api.example.com/v1/users ok", "GET <*> ok"),
        ("order abcdefab-e89b-12d3-abcd-426614174000 paid", "order <*> paid"),
        ('user "alice" logged in', 'user "alice" logged in'),
        ("retry=3 backoff=2.5s mode=fast", "retry=<*> backoff=<*> mode=fast"),
        ("at Mon Jun 20 04:02:54 2005 ok", "at <*> ok"),
        ("connection at Sat Jul  9 12:16:49 2005", "connection at <*>"),
        ("started at 2024-01-02T03:04:05.123Z", "started at <*>"),
        ("host web-7.example.com is up", "host web-<*>.example.com is up"),
        ("proxy.example.org:5070 open", "<*> open"),
        ("Deleting block blk_-1608999687919862906 file core.4900", "Deleting block blk_<*> file core.<*>"),
        ("stored (estimated size 384.0 B, free 317.5 KB)", "stored (estimated size <*>, free <*>)"),
    ],
)
def test_variables_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_constant_words_and_class_names_stay() -> None:
    text = "nested exception is java.lang.IllegalStateException: No instances available"
    assert mask(text) == text


def test_masking_never_spans_lines() -> None:
    assert mask("a 1\nb 2") == "a <*>\nb <*>"


# pieces that matter to masking: runs, signs, UUID groups, ports, URLs, paths, sizes, dates, joins
_PIECES = ["3fa2b4c1", "abcdefab", "-", "12d3", "abcd", "426614174000", "x", " ", ":", "_", "9", "/", "//", "~", ".", "..",
           "http", "h2c", "://", "host:80", "10.0.0.1:8080", "-5", "KB", " B", "Jun", "Mon", "Jan 5", ",", "<*>", "<", ">",
           "=", "'", '"', "é", "a1", "v2.3", "+", "@", "#", "/var/log", "\t", "0x1f", "5GB", "Dec", "  "]


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join), min_size=1, max_size=8))
def test_keys_from_skeletons_are_the_masks_of_the_lines(lines: list[str]) -> None:
    """The native path keys a line by its skeleton alone: the same key as masking the line."""
    assert keys_of_skeletons([skeleton(line.encode()) for line in lines]) == [mask(line) for line in lines]


def test_keys_from_skeletons_on_real_lines() -> None:
    lines = []
    for path in sorted(Path("/work/shared/datasets/loghub").glob("*/*_2k.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines:
        pytest.skip("Loghub samples not available")
    assert keys_of_skeletons([skeleton(line.encode()) for line in lines]) == [mask(line) for line in lines]
