"""Variable masking for log template mining: replace the parts of a message that are variable
in *every* log system with the wildcard `<*>`, and nothing else.

What is masked (no rule knows any particular system's words):
* UUIDs, and every run of ASCII letters and digits that holds a digit (numbers, hex ids,
  sizes such as `512MB`, versions, the parts of IPs and timestamps), with a sign `-` before
  it when that `-` does not follow a letter or digit (`blk_-42` -> `blk_<*>`, `node-7` -> `node-<*>`);
* a whole token that ends in `:<digits>` (a host or IP with a port);
* URLs (`scheme://...`) and paths of two or more `/` segments;
then, on the masked text (`normalize`): a size unit after a number (`3 KB`), textual dates
(`Jun <*> <*>`), and wildcards joined by short punctuation (`<*>.<*>.<*>:<*>`) become one `<*>`.

Everything else (words, user and host names, quoted values) is left to the miner, which
finds variable positions from the data (`lumos.tools.logs.grouping`).

A *token* here is a run of characters between space, tab, newline and `, ; ( ) [ ] { } < > " ' | =`
(other control characters are token characters, so that `tokens.skeleton`, computed on bytes
and in C with control bytes as NUL, sees the same tokens).
"""

from __future__ import annotations

import re

WILDCARD = "<*>"

_DELIMS = r" \t\n,;()\[\]{}<>\"'|="  # token delimiters: space, tab, newline and punctuation
_TOK = rf"[^{_DELIMS}]"
_ALNUM = "A-Za-z0-9"

_URL = rf"(?<!{_TOK})-?[{_ALNUM}][{_ALNUM}+.-]*://{_TOK}*+"
_PATH = rf"(?<!{_TOK})(?:~|\.{{1,2}})?(?:/+[^{_DELIMS}/]++){{2,}}/*(?!{_TOK})"
_PORT = rf"(?<!{_TOK})(?:[^{_DELIMS}:]*+:)++[0-9]++(?!{_TOK})"
_H = "[0-9a-fA-F]"
_UUID = (rf"(?<![{_ALNUM}])(?={_H}{{8}}-)(?=[0-9a-fA-F-]{{0,35}}[0-9]){_H}{{8}}-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-{_H}{{12}}"
         rf"(?![{_ALNUM}])")
_RUN = rf"(?:(?<![{_ALNUM}])-)?(?<![{_ALNUM}])[A-Za-z]*+[0-9][{_ALNUM}]*+"

MASK_RE = re.compile("|".join(f"(?:{p})" for p in (_URL, _PATH, _PORT, _UUID, _RUN)))

_SIZE_RE = re.compile(r"<\*> ?(?:[KMGTPE]i?)?B(?=$|[\s,;:)\]}])")
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH_NAMES = tuple(_MONTHS.split("|"))
_DATE_RE = re.compile(rf"(?:\b(?:{_DAYS})[a-z]*,? +)?\b(?:{_MONTHS})[a-z]*\.? +<\*>,?(?: +<\*>)*")
_JOINED_RE = re.compile(r"<\*>(?:[-_.:/@#+~,]{1,3}<\*>)+")


def normalize(masked: str) -> str:
    """The second stage of masking, on masked text (so it depends only on the skeleton):
    sizes with a unit, textual dates and joined wildcards become one `<*>`."""
    if WILDCARD not in masked:
        return masked
    if "B" in masked:
        masked = _SIZE_RE.sub(WILDCARD, masked)
    if any(month in masked for month in _MONTH_NAMES):  # substring checks: far cheaper than the regex
        masked = _DATE_RE.sub(WILDCARD, masked)
    return _JOINED_RE.sub(WILDCARD, masked)


def mask(text: str) -> str:
    """Return `text` with every universally variable part replaced by `<*>`."""
    return normalize(MASK_RE.sub(WILDCARD, text))


# On a skeleton (`tokens.skeleton`: runs, UUIDs and ports are already the marker 0x01), only URLs
# and paths are left to mask. A marker stands for letters and digits; a `-` right before one is
# not a URL's sign (a sign before a run is folded into its marker, so such a `-` was a second one).
_SK_ALNUM = "A-Za-z0-9\x01"
_SK_URL = rf"(?<!{_TOK})(?:-[A-Za-z]|[{_SK_ALNUM}])[{_SK_ALNUM}+.-]*://{_TOK}*+"
_SKELETON_RE = re.compile(f"(?:{_SK_URL})|(?:{_PATH})")


def keys_of_skeletons(skeletons: list[bytes]) -> list[str]:
    """The key (`mask`) of the lines of each skeleton, from the skeletons alone, in one pass.

    For a line without control bytes, `mask(line)` equals the key of `skeleton(line)`: the
    skeleton's markers are what the run, UUID and port rules give, and the rules left (URLs,
    paths, `normalize`) read only bytes the skeleton keeps (tested on random and real lines).
    """
    texts = b"\n".join(skeletons).decode("utf-8", "replace").split("\n")
    slashed = [i for i, text in enumerate(texts) if "/" in text]  # URLs and paths hold one: few lines do
    if slashed:
        masked = _SKELETON_RE.sub(WILDCARD, "\n".join([texts[i] for i in slashed])).split("\n")
        for i, text in zip(slashed, masked):
            texts[i] = text
    return normalize("\n".join(texts).replace("\x01", WILDCARD)).split("\n")
