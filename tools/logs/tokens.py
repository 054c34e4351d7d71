"""Token-level helpers of template mining: line skeletons (the fast-path cache key), key
tokenisation and the similarity between a template and a masked key."""

from __future__ import annotations

from lumos.tools.logs.masking import WILDCARD

SEPARATORS = ",;:/.-_@#"
HEX_DIGITS = b"0123456789abcdefABCDEF"

_SKELETON_TABLE = bytes(0 if (b < 32 and b not in (9, 10)) or b == 127 else b for b in range(256))


def skeleton(block: bytes) -> bytes:
    """A block's bytes without hex digits (0-9a-fA-F), control bytes (but tab and newline)
    turned into NUL: lines that differ only in numbers and hex ids get the same skeleton."""
    return block.translate(_SKELETON_TABLE, HEX_DIGITS)


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
