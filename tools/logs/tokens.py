"""Token-level helpers of template mining: line skeletons (the fast-path cache key), key
tokenisation and the similarity between a template and a masked key.

The skeleton of a line (computed byte for byte the same by `tools/logs/_scan.c`):
* *delimiters* are space, tab and `= , ; ( ) [ ] { } < > " ' | :` (the masking delimiters of
  `masking._DELIMS` plus `:`, where the digit rule of `MASK_RE` may start a token); a newline
  ends the line. Delimiters are kept. Every other control byte (CR, VT, FF, NUL, ... and DEL)
  becomes NUL and is *not* a delimiter;
* a *token* is a maximal run of non-delimiter bytes. A token with an ASCII digit becomes one
  marker byte (below), because masking turns any token with a digit into `<*>` whatever the
  rest of it; every other token is kept verbatim (control bytes as NUL), so lines that differ
  in a digit-free word (`sda`/`sdb`, `/a`/`/b`) get different skeletons;
* a digit token is kept verbatim instead when masking could see inside it: it holds a NUL
  (a control byte: `\\s` of `str` patterns includes `\\x1c`-`\\x1f`) or a UTF-8 whitespace
  character (NBSP, U+2000-U+200A, ...), or it touches a `'` with a non-ASCII byte (the quote
  rule checks `\\w` there);
* after a `:`, a digit token with a `/` becomes its slash pattern instead (each run between
  slashes a marker, the last one 0x03 when b = 1 below): the URL and path rules of masking
  read across `:` and count slashes (`/a:1/2` is a path, `/a:1` is not);
* the marker is 0x01 + a + 2b (0x01-0x04: control bytes, so never kept bytes), a = 1 when the
  token follows a `'` and starts with a non-word byte, b = 1 when it precedes a `'` and ends
  with a non-word byte, or precedes a `=` and ends with no ASCII letter or `_`: the quote and
  key=value rules of masking look at exactly those bytes.

Same skeleton => same masked key, except (documented, pathological) textual dates whose
number widths differ (`Jun 2 ...` vs `Jun 200 ...`: the date rule counts digits), quoted
values longer than 200 characters (the quote rule has a length limit), and lines that differ
only in which control byte they hold (all are NUL; the file miner replaces control bytes by
spaces before mining, so only `TemplateMiner.add` of raw control bytes is affected).
"""

from __future__ import annotations

import re

from lumos.tools.logs.masking import WILDCARD

SEPARATORS = ",;:/.-_@#"

_SKELETON_TABLE = bytes(0 if (b < 32 and b not in (9, 10)) or b == 127 else b for b in range(256))
_D = rb" \t\n=,;()\[\]{}<>\"'|:"  # delimiters and the line end, inside a character class
# UTF-8 encodings of the non-ASCII characters `\s` matches in a `str` pattern
_USPACE = rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
_USPACE_RE = re.compile(_USPACE)


def _patterns(char: bytes, char_nodigit: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """(the plain digit tokens: after no `'`, before no `'` or `=`, and with no `/` after a
    `:`; every digit token) for one definition of a token byte: the first pass has a constant
    replacement (the bulk, C-level), the second computes the few left one by one (`_marker`)."""
    body = char_nodigit + rb"*+\d" + char + rb"*+"  # possessive: the run before the digit has none
    after = rb"(?![^" + _D.replace(b"'", b"").replace(b"=", b"") + rb"])"
    plain = (rb"(?<![^" + _D.replace(b"'", b"").replace(b":", b"") + rb"])" + body + after
             + rb"|(?<=:)" + body.replace(rb"\x1f", rb"\x1f/") + after)
    edged = rb"(?<![^" + _D + rb"])" + body + rb"(?![^" + _D + rb"])"
    return re.compile(plain), re.compile(edged)


_BYTE = rb"[^\x00-\x1f" + _D + rb"]"  # a token byte (control bytes are NUL by then)
_ASCII_BYTE = rb"[^\x00-\x1f\x80-\xff" + _D + rb"]"
_PLAIN, _EDGED = _patterns(_BYTE, _BYTE[:-1] + rb"0-9]")
# for blocks with a UTF-8 whitespace character: a token holding one never matches
_UBYTE = rb"(?:" + _ASCII_BYTE + rb"|(?!" + _USPACE + rb")[\x80-\xff])"
_UPLAIN, _UEDGED = _patterns(_UBYTE, _UBYTE.replace(rb"\x80-\xff" + _D + b"]", rb"\x80-\xff" + _D + rb"0-9]", 1))
_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_LETTER = _WORD - frozenset(b"0123456789")
_MARKERS = (b"\x01", b"\x02", b"\x03", b"\x04")
_RUNS = re.compile(rb"[^/]+")


def _marker(m: re.Match[bytes]) -> bytes:
    """What a digit token that is not plain becomes (see the module doc)."""
    s, tok = m.string, m.group()
    start, end = m.span()
    before = s[start - 1] if start else 0
    after = s[end] if end < len(s) else 0
    a = b = 0
    if before == 39:  # '
        if tok[0] >= 0x80:
            return tok
        a = tok[0] not in _WORD
    if after == 39:
        if tok[-1] >= 0x80:
            return tok
        b = tok[-1] not in _WORD
    elif after == 61:  # =
        b = tok[-1] not in _LETTER
    if before == 58 and b"/" in tok:  # :
        # the runs between slashes become markers (the path and URL rules see the slashes)
        runs = _RUNS.sub(b"\x01", tok)
        return runs[:-1] + b"\x03" if b and tok[-1] != 47 else runs
    return _MARKERS[a + 2 * b]


def skeleton(block: bytes) -> bytes:
    """A block's skeleton (see the module doc): digit tokens become a marker byte, the rest is
    kept, so lines whose skeletons are equal mask to the same key."""
    block = block.translate(_SKELETON_TABLE)
    plain, edged = _PLAIN, _EDGED
    if not block.isascii() and _USPACE_RE.search(block):
        plain, edged = _UPLAIN, _UEDGED
    block = plain.sub(b"\x01", block)
    if b"'" in block or b"=" in block or (b":" in block and b"/" in block):
        block = edged.sub(_marker, block)
    return block


def skeleton_lines(block: bytes) -> list[bytes]:
    """The skeleton of each line of a block."""
    return skeleton(block).split(b"\n")


def tokenize_key(key: str) -> list[str]:
    """Split a masked message into tokens, collapsing runs of adjacent wildcards into one."""
    out: list[str] = []
    for tok in key.split():
        if tok.count(WILDCARD) > 1 and not tok.replace(WILDCARD, "").strip(SEPARATORS):
            tok = WILDCARD  # `<*>:<*>`, `<*>,<*>`: one compound value
        if tok == WILDCARD and out and out[-1] == WILDCARD:
            continue
        out.append(tok)
    return out


def similarity(template: list[str], tokens: list[str]) -> float:
    """Share of the constant positions that agree (a template wildcard agrees with anything;
    positions that are wildcards on both sides carry no information and are left out).

    A difference in the last token counts half: trailing values ("... for user alice",
    "... to: host") are the most common variables that carry no digit.
    """
    same = total = 0.0
    last = len(tokens) - 1
    for i, (a, b) in enumerate(zip(template, tokens)):
        if a == WILDCARD:
            if b != WILDCARD:
                same += 1
                total += 1
            continue
        total += 1
        if a == b:
            same += 1
        elif WILDCARD in a or WILDCARD in b:
            # a partly masked token (`key=<*>`) is structure: its constant part must match,
            # and then only the value differs (`rhost=` vs `rhost=<*>`)
            if a.replace(WILDCARD, "") != b.replace(WILDCARD, ""):
                return 0.0
            same += 1
        elif i == last and i > 0:
            same += 0.5
    return same / total if total else 1.0
