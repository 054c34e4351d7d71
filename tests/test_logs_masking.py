"""Variable masking: universally variable parts become `<*>`; words (even names) stay for the
miner to judge from the data."""

import pytest

from lumos.tools.logs.masking import mask


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
