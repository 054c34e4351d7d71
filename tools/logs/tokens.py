"""Line skeletons (the miner's fast-path cache key) and the tokens of a masked key.

The skeleton of a line (computed byte for byte the same by `tools/logs/_scan.c`):
* every control byte but tab (CR, VT, FF, NUL, ... and DEL) becomes NUL; a newline ends the line;
* a *token* is a maximal run of bytes other than space, tab and `, ; ( ) [ ] { } < > " ' | =`
  (the token delimiters of `masking`). A token that ends in `:` followed by one or more ASCII
  digits (a host or IP with a port) becomes one marker byte 0x01;
* in every other token, each UUID (8-4-4-4-12 hex digits, one of them a decimal digit, not
  next to another letter or digit) becomes 0x01, and so does each maximal run of ASCII
  letters and digits that holds a digit, together with a `-` right before it when that `-`
  does not itself follow a letter or digit (a sign); every other byte is kept.

So lines whose skeletons are equal mask to the same key (`masking.mask`): the masking rules
that the skeleton does not apply itself (URLs, paths, the `normalize` stage) read only bytes
the skeleton keeps, and treat every letter and digit of a run alike. The one documented
exception: lines that differ only in which control byte they hold (all are NUL in the
skeleton; the file miner replaces control bytes by spaces before mining, so only
`TemplateMiner.add` of raw control bytes is affected).
"""

from __future__ import annotations

import re

from lumos.tools.logs.masking import WILDCARD

_SKELETON_TABLE = bytes(0 if (b < 32 and b not in (9, 10)) or b == 127 else b for b in range(256))
_D = rb" \t\n,;()\[\]{}<>\"'|="  # token delimiters, inside a character class
_TOK = rb"[^" + _D + rb"]"
_PORT = rb"(?<!" + _TOK + rb")(?:[^" + _D + rb":]*+:)++[0-9]++(?!" + _TOK + rb")"  # a token ending in `:` digits
_H = rb"[0-9a-fA-F]"
_UUID = (rb"(?<![A-Za-z0-9])(?=" + _H + rb"{8}-)(?=[0-9a-fA-F-]{0,35}[0-9])" + _H + rb"{8}-" + _H + rb"{4}-" + _H
         + rb"{4}-" + _H + rb"{4}-" + _H + rb"{12}(?![A-Za-z0-9])")
_RUN = rb"(?:(?<![A-Za-z0-9])-)?(?<![A-Za-z0-9])[A-Za-z]*+[0-9][A-Za-z0-9]*+"  # possessive: no backtracking in words
_SKELETON_RE = re.compile(_PORT + rb"|" + _UUID + rb"|" + _RUN)


def skeleton(block: bytes) -> bytes:
    """A block's skeleton (see the module doc): lines with equal skeletons mask alike."""
    return _SKELETON_RE.sub(b"\x01", block.translate(_SKELETON_TABLE))


def skeleton_lines(block: bytes) -> list[bytes]:
    """The skeleton of each line of a block."""
    return skeleton(block).split(b"\n")


def tokenize_key(key: str) -> tuple[str, ...]:
    """Split a masked message into tokens, a run of wildcard tokens counting as one."""
    tokens = key.split()
    if tokens.count(WILDCARD) < 2:  # no run of wildcards to merge (the common case)
        return tuple(tokens)
    out: list[str] = []
    for tok in tokens:
        if tok == WILDCARD and out and out[-1] == WILDCARD:
            continue
        out.append(tok)
    return tuple(out)
