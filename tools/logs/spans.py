"""Where the message of a log line is, per line format, without parsing anything else.

Mining needs only the message: these functions find its byte span in a line (timestamps,
levels and hosts are skipped, never parsed). `tools/logs/_scan.c` implements the same rules
in C (the native path; compared in tests); this module is the reference and the pure-Python
path. Each function takes one line (bytes, no newline) and returns the message's
`(start, end)` or a short reason why the line is not in that format.

* `jsonl`: one JSON object per line; the message is the string value of the first present
  of `message, msg, log, text, @message, body` (in that order of preference), as written
  (escapes are kept). The object is scanned, not validated: strings, nesting and the
  closing brace must be right; scalars are not checked.
* `logfmt`: `key=value` pairs (`value` bare or double-quoted); the message is the value of
  the preferred message key as above.
* `syslog`: RFC 5424 (`<PRI>1 TS HOST APP PROCID MSGID SD MSG`) or RFC 3164
  (`[<PRI>]Mmm dd hh:mm:ss HOST APP[PID]: MSG`).
* `plain`: `TS LEVEL MSG`, TS an ISO 8601 date-time (optional fraction and zone) or epoch
  seconds/milliseconds, optionally in brackets, LEVEL a word (in brackets, with a colon);
  when that word is not a known level it starts the message.
* `header` (Loghub-style headers): the message follows the first known level word among
  the first ten words (in brackets or with a colon), when a word before it holds a digit
  (a date, time or process id): `081109 203615 148 INFO dfs.DataNode: ...`.
"""

from __future__ import annotations

from collections.abc import Callable

Span = tuple[int, int]

MESSAGE_KEYS = (b"message", b"msg", b"log", b"text", b"@message", b"body")
_KEY_RANK = {k: i for i, k in enumerate(MESSAGE_KEYS)}
LEVEL_WORDS = frozenset(
    b"trace debug dbg info information notice warn warning err error severe crit critical fatal alert emerg "
    b"emergency panic".split()
)
HEADER_WORDS = 10  # the level word of a `header` line is among its first ten words
_BLANK = (32, 9)
_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")
_DIGITS = frozenset(b"0123456789")
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _blank(line: bytes, i: int) -> int:
    n = len(line)
    while i < n and line[i] in _BLANK:
        i += 1
    return i


def _string_end(line: bytes, i: int) -> int:
    """Index after the closing quote of the string opening at i, or -1."""
    n = len(line)
    i += 1
    while i < n:
        c = line[i]
        if c == 92:  # backslash: the next byte is escaped
            i += 2
            continue
        if c == 34:
            return i + 1
        i += 1
    return -1


def _value_end(line: bytes, i: int) -> int:
    """Index after a JSON value that is not a string (nested values skipped whole), or -1."""
    n = len(line)
    if line[i] in b"{[":
        depth = 0
        while i < n:
            c = line[i]
            if c == 34:
                i = _string_end(line, i)
                if i < 0:
                    return -1
                continue
            if c in b"{[":
                depth += 1
            elif c in b"}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    start = i
    while i < n and line[i] not in b",}] \t":
        i += 1
    return i if i > start else -1


def span_jsonl(line: bytes) -> Span | str:
    """The message of a JSON-object line (see the module doc)."""
    n = len(line)
    i = _blank(line, 0)
    if i >= n or line[i] != 123:
        return "invalid_json"
    best: Span | None = None
    rank = len(MESSAGE_KEYS)
    i = _blank(line, i + 1)
    if i < n and line[i] == 125:
        i += 1
    else:
        while True:
            i = _blank(line, i)
            if i >= n or line[i] != 34:
                return "invalid_json"
            key_start = i + 1
            i = _string_end(line, i)
            if i < 0:
                return "invalid_json"
            key = line[key_start:i - 1]
            i = _blank(line, i)
            if i >= n or line[i] != 58:
                return "invalid_json"
            i = _blank(line, i + 1)
            if i >= n:
                return "invalid_json"
            if line[i] == 34:
                value_start = i + 1
                i = _string_end(line, i)
                if i < 0:
                    return "invalid_json"
                r = _KEY_RANK.get(key)
                if r is not None and r < rank:
                    best, rank = (value_start, i - 1), r
            else:
                i = _value_end(line, i)
                if i < 0:
                    return "invalid_json"
            i = _blank(line, i)
            if i < n and line[i] == 44:
                i += 1
                continue
            if i < n and line[i] == 125:
                i += 1
                break
            return "invalid_json"
    if _blank(line, i) != n:
        return "invalid_json"
    return best if best is not None else "no_message"


def span_logfmt(line: bytes) -> Span | str:
    """The message of a logfmt line (see the module doc)."""
    n = len(line)
    best: Span | None = None
    rank = len(MESSAGE_KEYS)
    pairs = 0
    i = 0
    while True:
        i = _blank(line, i)
        if i >= n:
            break
        key_start = i
        while i < n and line[i] in _KEY_CHARS:
            i += 1
        if i > key_start and i < n and line[i] == 61:
            key = line[key_start:i]
            i += 1
            if i < n and line[i] == 34:
                value_start = i + 1
                i = _string_end(line, i)
                if i < 0:
                    return "not_logfmt"
                value = (value_start, i - 1)
            else:
                value_start = i
                while i < n and line[i] not in _BLANK:
                    i += 1
                value = (value_start, i)
            pairs += 1
            r = _KEY_RANK.get(key)
            if r is not None and r < rank:
                best, rank = value, r
        else:
            while i < n and line[i] not in _BLANK:
                i += 1
    if best is not None:
        return best
    return "no_message" if pairs else "not_logfmt"


def _digits(line: bytes, i: int, lo: int, hi: int) -> int:
    """Index after a run of lo..hi digits at i (the run must end there), or -1."""
    n = len(line)
    j = i
    while j < n and line[j] in _DIGITS:
        j += 1
    return j if lo <= j - i <= hi else -1


def _exact_digits(line: bytes, i: int, count: int) -> bool:
    return i + count <= len(line) and all(c in _DIGITS for c in line[i:i + count])


def _syslog_5424(line: bytes, i: int) -> Span | str:
    n = len(line)
    for _ in range(5):  # TS HOST APP PROCID MSGID, one space after each
        start = i
        while i < n and line[i] != 32:
            i += 1
        if i == start or i >= n:
            return "not_syslog"
        i += 1
    if i < n and line[i] == 45:  # -
        i += 1
    elif i < n and line[i] == 91:  # [ one or more structured-data elements
        while i < n and line[i] == 91:
            i += 1
            while i < n and line[i] != 93:
                if line[i] == 34:
                    i = _string_end(line, i)
                    if i < 0:
                        return "not_syslog"
                    continue
                i += 1
            if i >= n:
                return "not_syslog"
            i += 1
    else:
        return "not_syslog"
    if i < n and line[i] == 32:
        i += 1
    return (i, n)


def span_syslog(line: bytes) -> Span | str:
    """The message of an RFC 5424 or RFC 3164 syslog line (see the module doc)."""
    n = len(line)
    i = 0
    if n and line[0] == 60:  # <PRI>
        j = _digits(line, 1, 1, 3)
        if j < 0 or j >= n or line[j] != 62:
            return "not_syslog"
        i = j + 1
        if i + 1 < n and line[i] == 49 and line[i + 1] == 32:  # "1 ": RFC 5424
            return _syslog_5424(line, i + 2)
    # RFC 3164: Mmm dd hh:mm:ss HOST APP[PID]: MSG
    if i + 3 > n or not all(c in _LETTERS for c in line[i:i + 3]):
        return "not_syslog"
    i += 3
    j = _blank(line, i)
    if j == i:
        return "not_syslog"
    i = _digits(line, j, 1, 2)
    if i < 0:
        return "not_syslog"
    j = _blank(line, i)
    if j == i or not (_exact_digits(line, j, 2) and _exact_digits(line, j + 3, 2) and _exact_digits(line, j + 6, 2)
                      and line[j + 2] == 58 and line[j + 5] == 58):
        return "not_syslog"
    i = j + 8
    j = _blank(line, i)
    if j == i:
        return "not_syslog"
    i = j
    while i < n and line[i] not in _BLANK:  # HOST
        i += 1
    if i == j:
        return "not_syslog"
    j = _blank(line, i)
    if j == i:
        return "not_syslog"
    i = j
    while i < n and line[i] not in b" \t:[":  # APP
        i += 1
    if i == j:
        return "not_syslog"
    if i < n and line[i] == 91:  # [PID]
        k = _digits(line, i + 1, 1, 1 << 30)
        if k < 0 or k >= n or line[k] != 93:
            return "not_syslog"
        i = k + 1
    if i >= n or line[i] != 58:
        return "not_syslog"
    i += 1
    if i < n and line[i] in _BLANK:
        i += 1
    return (i, n)


def _iso_end(line: bytes, i: int) -> int:
    """Index after an ISO 8601 date-time at i (optional fraction and zone), or -1."""
    n = len(line)
    shape = b"dddd-dd-ddTdd:dd:dd"
    if i + len(shape) > n:
        return -1
    for k, want in enumerate(shape):
        c = line[i + k]
        if want == 100:  # d
            if c not in _DIGITS:
                return -1
        elif want == 84:  # T or a space
            if c not in (84, 32):
                return -1
        elif c != want:
            return -1
    i += len(shape)
    if i < n and line[i] in b".,":
        j = _digits(line, i + 1, 1, 9)
        if j < 0:
            return -1
        i = j
    j = i + 1 if i < n and line[i] == 32 else i
    if j < n and line[j] == 90:  # Z
        return j + 1
    if line[j:j + 3] == b"UTC":
        return j + 3
    if j < n and line[j] in b"+-" and _exact_digits(line, j + 1, 2):
        k = j + 3
        if k < n and line[k] == 58:
            k += 1
        if _exact_digits(line, k, 2):
            return k + 2
    return i


def span_plain(line: bytes) -> Span | str:
    """The message of a `TIMESTAMP LEVEL MESSAGE` line (see the module doc)."""
    n = len(line)
    i = 1 if n and line[0] == 91 else 0
    j = _iso_end(line, i)
    if j < 0:
        j = _digits(line, i, 9, 13)
        if j < 0:
            return "bad_timestamp"
        if j < n and line[j] == 46:
            k = _digits(line, j + 1, 1, 1 << 30)
            if k < 0:
                return "bad_timestamp"
            j = k
    if j < n and line[j] == 93:
        j += 1
    i = _blank(line, j)
    if i == j:
        return "bad_timestamp"
    word = i
    if i < n and line[i] == 91:
        i += 1
    start = i
    while i < n and line[i] in _LETTERS:
        i += 1
    if not 3 <= i - start <= 11:
        return "no_level"
    level = line[start:i].lower()
    if i < n and line[i] == 93:
        i += 1
    if i < n and line[i] == 58:
        i += 1
    j = _blank(line, i)
    if j == i:
        return "no_level"
    return (j, n) if level in LEVEL_WORDS else (word, n)


def span_header(line: bytes) -> Span | str:
    """The message after a Loghub-style header ending in a level word (see the module doc)."""
    n = len(line)
    i = 0
    digit = False
    for _ in range(HEADER_WORDS):
        i = _blank(line, i)
        if i >= n:
            break
        start = i
        while i < n and line[i] not in _BLANK:
            i += 1
        word = line[start:i]
        if digit and word.strip(b"[]<>():").lower() in LEVEL_WORDS:
            return (_blank(line, i), n)
        digit = digit or any(c in _DIGITS for c in word)
    return "no_header"


def span_raw(line: bytes) -> Span | str:
    """The whole line is the message."""
    return (0, len(line))


SPANS: dict[str, Callable[[bytes], Span | str]] = {
    "raw": span_raw, "jsonl": span_jsonl, "logfmt": span_logfmt, "syslog": span_syslog,
    "plain": span_plain, "header": span_header,
}
FORMAT_CODES = {"raw": 0, "jsonl": 1, "logfmt": 2, "syslog": 3, "plain": 4, "header": 5}  # the C scanner's
