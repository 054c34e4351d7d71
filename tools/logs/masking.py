"""Variable masking for log template mining: replace the variable parts of a log message
(numbers, hex, UUIDs, IPs, paths, durations, quoted values, ...) with the wildcard `<*>`.

Masking is one compiled regular expression applied with a constant replacement, so it can
run over a whole block of lines in one C-level call (the fast path of the miner).
"""

from __future__ import annotations

import re

WILDCARD = "<*>"

# Characters that end a token for masking purposes (besides whitespace). Keeping `=` and `:`
# as delimiters masks only the value of `key=value` / `key: value` pairs.
_DELIMS = r"\s=,;()\[\]{}<>\"'|"
_TOKEN_CHARS = rf"[^{_DELIMS}]"

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"

_PATTERNS: tuple[str, ...] = (
    # quoted values: "..." and '...' (short, single line)
    r"\"[^\"\s]{1,200}\"",
    r"(?<![\w])'[^'\s]{1,200}'(?![\w])",
    # textual dates: "Mon Jun 20 04:02:54 2005", "Jun 20 04:02:54", "20 Jun 2005 04:02:54"
    rf"(?:\b(?:{_DAYS})\w*,?\s+)?\b(?:{_MONTHS})\w*\.?\s+\d{{1,2}},?(?:\s+\d{{4}})?\s+\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?(?:\s+\d{{4}})?",
    # the value of key=value (any value, digits or not)
    rf"(?<=[A-Za-z_]=)[^{_DELIMS}]++",
    # dotted lowercase host names (a.b.example.org)
    rf"(?<![^{_DELIMS}])(?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|io|local|internal|lan|localdomain)(?![^{_DELIMS}])",
    # URLs and absolute/relative multi-segment paths (no digit needed)
    rf"(?<![^{_DELIMS}])[a-zA-Z][a-zA-Z0-9+.-]*://{_TOKEN_CHARS}*+",
    rf"(?<![^{_DELIMS}])(?:~|\.{{1,2}})?(?:/[^{_DELIMS}/]++){{2,}}/?(?![^{_DELIMS}])",
    # any token containing a digit: numbers, hex ids, UUIDs, IPs, host:port, durations,
    # timestamps, block ids, versions (a token may not start inside another token)
    rf"(?<![^{_DELIMS}:])[^{_DELIMS}:]*?\d[^{_DELIMS}]*+",
    # long hex strings without a digit are rare; bare hex with 0x prefix is covered above
)

MASK_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def mask(text: str) -> str:
    """Return `text` with every variable-looking part replaced by `<*>`."""
    return MASK_RE.sub(WILDCARD, text)


def mask_block(block: str) -> str:
    """Mask a block of newline-separated lines in one call (masks never span a newline)."""
    return MASK_RE.sub(WILDCARD, block)
