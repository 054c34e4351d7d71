/*
 * lumos.tools.logs._scan: optional native scanner of log blocks for template mining.
 *
 * Why: the pure-Python fast path of the miner needs four C-level passes per block
 * (bytes.translate for the skeletons, split, a dict/Counter pass, the clean checks) plus
 * the objects they allocate: one bytes object per line. This module does the per-line
 * work in ONE pass without creating a Python object per line, so Python only works per
 * *distinct* skeleton.
 *
 * A line's skeleton is exactly `lumos.tools.logs.tokens.skeleton` (see its module doc): in a
 * token (run of bytes between space, tab and , ; ( ) [ ] { } < > " ' | =) that holds a digit,
 * each run of letters and digits with a digit becomes the marker byte 0x01 (or the whole
 * token when it ends in `:` and digits, a port); other bytes are kept, control bytes but tab
 * become NUL. Skeletons are kept in
 * an open-addressing hash table keyed by a 64-bit hash, always confirmed by comparing
 * length and bytes, so a hash collision can never merge two skeletons.
 *
 * scan(block, window, want_lines=True, fmt=0) ->
 *     (skeletons, spans, counts, uids, lines, flags)
 *   fmt:       the line format (`lumos.tools.logs.spans.FORMAT_CODES`): the skeleton is that of
 *              each line's message (its span in that format); 0 = the whole line
 *   skeletons: list[bytes]  the distinct skeletons in order of first appearance
 *   spans:     list[tuple[int, int]]  [start, end) byte offsets of each one's first message
 *   counts:    list[int]  lines per distinct skeleton
 *   uids:      bytes (native int32 per line: index into skeletons) or None
 *   lines:     int  number of lines (a block of n newlines has n + 1 lines)
 *   flags:     int  CONTROL 1 (a NUL/control byte but tab), NONASCII 2 (a byte >= 0x80),
 *                   EMPTY 4 (a blank line: its skeleton is empty or only spaces/tabs), LONG 8 (the block is longer
 *                   than `window` and some aligned window of `window` bytes has no newline),
 *                   BAD 16 (a line is not in `fmt`; its skeleton is then that of the whole line)
 *
 * remap(uids, table) -> bytes: native int32 table[uid] for every int32 uid.
 * simd(flag=None) -> bool: whether the SSSE3 skeleton loop is used (switchable for tests).
 *
 * Speed: for lines without control bytes, the delimiter and digit masks of a line are found
 * 16 bytes at a time with SSSE3 where the CPU has it (runtime check) and only the tokens that
 * hold a digit are visited; a portable scalar token loop otherwise. The loop is software-pipelined (see
 * scan_block). The scan runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { F_CONTROL = 1, F_NONASCII = 2, F_EMPTY = 4, F_LONG = 8, F_BAD = 16 };

/* True when a line's skeleton is empty or only spaces and tabs: the line is blank, which the
 * per-line classifier skips as "empty", so the block must take the classifying path. */
static inline int
blank_skeleton(const uint8_t *sk, Py_ssize_t k)
{
    for (Py_ssize_t j = 0; j < k; j++)
        if (sk[j] != ' ' && sk[j] != '\t')
            return 0;
    return 1;
}

/* One entry per input byte (one table load per byte in the hot loop):
 * bits 0-7 its skeleton byte (control bytes but tab: NUL), bits 8-11 its F_CONTROL /
 * F_NONASCII flags, bits 12-14 its classes below. */
#define FLAG_SHIFT 8
enum {
    C_DELIM = 1 << 12,   /* space, tab and , ; ( ) [ ] { } < > " ' | = (newline ends the line) */
    C_DIGIT = 1 << 13,   /* 0-9 */
    C_ALNUM = 1 << 14,   /* [0-9A-Za-z]: the runs that masking turns into one `<*>` when they hold a digit */
};
static uint16_t TABLE[256];

static void
init_tables(void)
{
    static const char delims[] = " \t,;()[]{}<>\"'|=";
    for (int b = 0; b < 256; b++) {
        int control = (b < 32 && b != 9 && b != 10) || b == 127;
        int digit = b >= '0' && b <= '9';
        int letter = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
        unsigned flags = (control ? F_CONTROL : 0) | (b >= 128 ? F_NONASCII : 0);
        unsigned cls = (b && strchr(delims, b) ? C_DELIM : 0) | (digit ? C_DIGIT : 0) | (digit || letter ? C_ALNUM : 0);
        TABLE[b] = (uint16_t)((control ? 0 : b) | (flags << FLAG_SHIFT) | cls);
    }
}

/* Is there a UUID (8-4-4-4-12 hex digits, at least one of them a decimal digit, not followed
 * by a letter or digit) at p, inside a token ending at te? */
static inline int
uuid_at(const uint8_t *src, Py_ssize_t p, Py_ssize_t te)
{
    static const uint8_t dash[36] = {[8] = 1, [13] = 1, [18] = 1, [23] = 1};
    if (te - p < 36 || (te - p > 36 && (TABLE[src[p + 36]] & C_ALNUM)))
        return 0;
    int digit = 0;
    for (int k = 0; k < 36; k++) {
        uint8_t c = src[p + k];
        if (dash[k]) {
            if (c != '-')
                return 0;
        }
        else if (c >= '0' && c <= '9')
            digit = 1;
        else if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return digit;
}

/* Does the token [ts, te) end in `:` and digits (a host or IP with a port)? */
static inline int
port_token(const uint8_t *src, Py_ssize_t ts, Py_ssize_t te)
{
    Py_ssize_t q = te;
    while (q > ts && (TABLE[src[q - 1]] & C_DIGIT))
        q--;
    return q < te && q > ts && src[q - 1] == ':';
}

/* Is the run of letters and digits starting at rs (inside a token starting at ts) preceded by
 * a sign: a `-` that does not itself follow a letter or digit? */
static inline int
signed_run(const uint8_t *src, Py_ssize_t ts, Py_ssize_t rs)
{
    return rs > ts && src[rs - 1] == '-' && (rs < 2 || !(TABLE[src[rs - 2]] & C_ALNUM));
}

/* What a token [ts, te) of a line holding a digit becomes, written at dst (room for te - ts
 * bytes); its length (`lumos.tools.logs.tokens`): one marker 0x01 when it ends in `:` and
 * digits (a port); else each UUID, and each run of letters and digits holding a digit (with
 * a sign `-` before it), becomes 0x01; other bytes go through the table. */
static inline Py_ssize_t
digit_token(const uint8_t *src, Py_ssize_t ts, Py_ssize_t te, uint8_t *dst)
{
    if (port_token(src, ts, te)) {
        dst[0] = 1;
        return 1;
    }
    Py_ssize_t k = 0, p = ts;
    while (p < te) {
        unsigned v = TABLE[src[p]];
        if (!(v & C_ALNUM)) {
            dst[k++] = (uint8_t)v;
            p++;
            continue;
        }
        Py_ssize_t rs = p;
        unsigned acc = 0;
        do {
            acc |= v;
            p++;
        } while (p < te && ((v = TABLE[src[p]]) & C_ALNUM));
        if ((acc & C_DIGIT) && signed_run(src, ts, rs)) {
            dst[k - 1] = 1;  /* the sign (just written: it is inside the token) joins the marker */
        }
        else if (p - rs == 8 && uuid_at(src, rs, te)) {
            dst[k++] = 1;
            p = rs + 36;
        }
        else if (acc & C_DIGIT) {
            dst[k++] = 1;
        }
        else {
            memcpy(dst + k, src + rs, (size_t)(p - rs));  /* letters: the bytes themselves */
            k += p - rs;
        }
    }
    return k;
}

/* Skeleton of one line (see `lumos.tools.logs.tokens`): returns its length, ORs the line's
 * flags into *flags. `dst` has room for `len` bytes (a skeleton is never longer). */
static Py_ssize_t
skeleton_line(const uint8_t *src, Py_ssize_t len, uint8_t *dst, int *flags)
{
    Py_ssize_t j = 0, k = 0;
    unsigned acc = 0;
    while (j < len) {
        unsigned v = TABLE[src[j]];
        if (v & C_DELIM) {
            dst[k++] = (uint8_t)v;
            acc |= v;
            j++;
            continue;
        }
        /* a token: copied through the table while its classes are gathered */
        Py_ssize_t ts = j;
        unsigned tok = 0;
        uint8_t *out = dst + k;
        Py_ssize_t n = len - ts, i = 0;
        do {
            tok |= v;
            out[i++] = (uint8_t)v;
        } while (i < n && !((v = TABLE[src[ts + i]]) & C_DELIM));
        j = ts + i;
        acc |= tok;
        if (tok & C_DIGIT)
            k += digit_token(src, ts, j, dst + k);
        else
            k += j - ts;  /* kept: already copied */
    }
    *flags |= (int)((acc >> FLAG_SHIFT) & (F_CONTROL | F_NONASCII));
    return k;
}

/* ---- where the message of a line is, per format: exactly `lumos.tools.logs.spans` ---------- */

enum { FMT_RAW = 0, FMT_JSONL, FMT_LOGFMT, FMT_SYSLOG, FMT_PLAIN, FMT_HEADER, FMT_COUNT };
#define N_MESSAGE_KEYS 6
static const char *MESSAGE_KEYS[N_MESSAGE_KEYS] = {"message", "msg", "log", "text", "@message", "body"};
static const char *LEVEL_WORDS[] = {
    "trace", "debug", "dbg", "info", "information", "notice", "warn", "warning", "err", "error", "severe",
    "crit", "critical", "fatal", "alert", "emerg", "emergency", "panic", NULL};
#define HEADER_WORDS 10

static inline int is_blank(uint8_t c) { return c == ' ' || c == '\t'; }
static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline int is_letter(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static inline Py_ssize_t
skip_blank(const uint8_t *s, Py_ssize_t n, Py_ssize_t i)
{
    while (i < n && is_blank(s[i]))
        i++;
    return i;
}

/* Index after the closing quote of the string opening at i, or -1. */
static Py_ssize_t
string_end(const uint8_t *s, Py_ssize_t n, Py_ssize_t i)
{
    i++;
    while (i < n) {
        if (s[i] == '\\') {
            i += 2;
            continue;
        }
        if (s[i] == '"')
            return i + 1;
        i++;
    }
    return -1;
}

/* Index after a JSON value that is not a string, or -1. */
static Py_ssize_t
value_end(const uint8_t *s, Py_ssize_t n, Py_ssize_t i)
{
    if (s[i] == '{' || s[i] == '[') {
        Py_ssize_t depth = 0;
        while (i < n) {
            uint8_t c = s[i];
            if (c == '"') {
                i = string_end(s, n, i);
                if (i < 0)
                    return -1;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
            i++;
        }
        return -1;
    }
    Py_ssize_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_blank(s[i]))
        i++;
    return i > start ? i : -1;
}

/* Rank of a message key (0 = preferred), or N_MESSAGE_KEYS when it is not one. */
static int
key_rank(const uint8_t *k, Py_ssize_t len)
{
    for (int r = 0; r < N_MESSAGE_KEYS; r++)
        if ((Py_ssize_t)strlen(MESSAGE_KEYS[r]) == len && memcmp(MESSAGE_KEYS[r], k, (size_t)len) == 0)
            return r;
    return N_MESSAGE_KEYS;
}

static int
span_jsonl(const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    Py_ssize_t i = skip_blank(s, n, 0);
    int rank = N_MESSAGE_KEYS;
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_blank(s, n, i + 1);
    if (i < n && s[i] == '}')
        i++;
    else {
        for (;;) {
            i = skip_blank(s, n, i);
            if (i >= n || s[i] != '"')
                return -1;
            Py_ssize_t ks = i + 1;
            i = string_end(s, n, i);
            if (i < 0)
                return -1;
            Py_ssize_t ke = i - 1;
            i = skip_blank(s, n, i);
            if (i >= n || s[i] != ':')
                return -1;
            i = skip_blank(s, n, i + 1);
            if (i >= n)
                return -1;
            if (s[i] == '"') {
                Py_ssize_t vs = i + 1;
                i = string_end(s, n, i);
                if (i < 0)
                    return -1;
                int r = key_rank(s + ks, ke - ks);
                if (r < rank) {
                    rank = r;
                    *ms = vs;
                    *me = i - 1;
                }
            }
            else {
                i = value_end(s, n, i);
                if (i < 0)
                    return -1;
            }
            i = skip_blank(s, n, i);
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            if (i < n && s[i] == '}') {
                i++;
                break;
            }
            return -1;
        }
    }
    if (skip_blank(s, n, i) != n)
        return -1;
    return rank < N_MESSAGE_KEYS ? 0 : -1;
}

static inline int
is_key_char(uint8_t c)
{
    return is_letter(c) || is_digit(c) || c == '_' || c == '.' || c == '@' || c == '-';
}

static int
span_logfmt(const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    int rank = N_MESSAGE_KEYS;
    Py_ssize_t i = 0;
    for (;;) {
        i = skip_blank(s, n, i);
        if (i >= n)
            break;
        Py_ssize_t ks = i;
        while (i < n && is_key_char(s[i]))
            i++;
        if (i > ks && i < n && s[i] == '=') {
            Py_ssize_t ke = i, vs, ve;
            i++;
            if (i < n && s[i] == '"') {
                vs = i + 1;
                i = string_end(s, n, i);
                if (i < 0)
                    return -1;
                ve = i - 1;
            }
            else {
                vs = i;
                while (i < n && !is_blank(s[i]))
                    i++;
                ve = i;
            }
            int r = key_rank(s + ks, ke - ks);
            if (r < rank) {
                rank = r;
                *ms = vs;
                *me = ve;
            }
        }
        else {
            while (i < n && !is_blank(s[i]))
                i++;
        }
    }
    return rank < N_MESSAGE_KEYS ? 0 : -1;
}

/* Index after a run of lo..hi digits at i (the run must end there), or -1. */
static inline Py_ssize_t
digits_end(const uint8_t *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t lo, Py_ssize_t hi)
{
    Py_ssize_t j = i;
    while (j < n && is_digit(s[j]))
        j++;
    return (j - i >= lo && j - i <= hi) ? j : -1;
}

static inline int
exact_digits(const uint8_t *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t count)
{
    if (i + count > n)
        return 0;
    for (Py_ssize_t k = 0; k < count; k++)
        if (!is_digit(s[i + k]))
            return 0;
    return 1;
}

static int
syslog_5424(const uint8_t *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *ms, Py_ssize_t *me)
{
    for (int f = 0; f < 5; f++) {
        Py_ssize_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i == start || i >= n)
            return -1;
        i++;
    }
    if (i < n && s[i] == '-')
        i++;
    else if (i < n && s[i] == '[') {
        while (i < n && s[i] == '[') {
            i++;
            while (i < n && s[i] != ']') {
                if (s[i] == '"') {
                    i = string_end(s, n, i);
                    if (i < 0)
                        return -1;
                    continue;
                }
                i++;
            }
            if (i >= n)
                return -1;
            i++;
        }
    }
    else
        return -1;
    if (i < n && s[i] == ' ')
        i++;
    *ms = i;
    *me = n;
    return 0;
}

static int
span_syslog(const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    Py_ssize_t i = 0, j;
    if (n && s[0] == '<') {
        j = digits_end(s, n, 1, 1, 3);
        if (j < 0 || j >= n || s[j] != '>')
            return -1;
        i = j + 1;
        if (i + 1 < n && s[i] == '1' && s[i + 1] == ' ')
            return syslog_5424(s, n, i + 2, ms, me);
    }
    if (i + 3 > n || !is_letter(s[i]) || !is_letter(s[i + 1]) || !is_letter(s[i + 2]))
        return -1;
    i += 3;
    j = skip_blank(s, n, i);
    if (j == i)
        return -1;
    i = digits_end(s, n, j, 1, 2);
    if (i < 0)
        return -1;
    j = skip_blank(s, n, i);
    if (j == i || !exact_digits(s, n, j, 2) || !exact_digits(s, n, j + 3, 2) || !exact_digits(s, n, j + 6, 2)
        || s[j + 2] != ':' || s[j + 5] != ':')
        return -1;
    i = j + 8;
    j = skip_blank(s, n, i);
    if (j == i)
        return -1;
    i = j;
    while (i < n && !is_blank(s[i]))  /* HOST */
        i++;
    if (i == j)
        return -1;
    j = skip_blank(s, n, i);
    if (j == i)
        return -1;
    i = j;
    while (i < n && !is_blank(s[i]) && s[i] != ':' && s[i] != '[')  /* APP */
        i++;
    if (i == j)
        return -1;
    if (i < n && s[i] == '[') {
        Py_ssize_t k = digits_end(s, n, i + 1, 1, PY_SSIZE_T_MAX);
        if (k < 0 || k >= n || s[k] != ']')
            return -1;
        i = k + 1;
    }
    if (i >= n || s[i] != ':')
        return -1;
    i++;
    if (i < n && is_blank(s[i]))
        i++;
    *ms = i;
    *me = n;
    return 0;
}

/* Index after an ISO 8601 date-time at i (optional fraction and zone), or -1. */
static Py_ssize_t
iso_end(const uint8_t *s, Py_ssize_t n, Py_ssize_t i)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    Py_ssize_t len = (Py_ssize_t)sizeof(shape) - 1;
    if (i + len > n)
        return -1;
    for (Py_ssize_t k = 0; k < len; k++) {
        uint8_t c = s[i + k];
        if (shape[k] == 'd') {
            if (!is_digit(c))
                return -1;
        }
        else if (shape[k] == 'T') {
            if (c != 'T' && c != ' ')
                return -1;
        }
        else if (c != (uint8_t)shape[k])
            return -1;
    }
    i += len;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        Py_ssize_t j = digits_end(s, n, i + 1, 1, 9);
        if (j < 0)
            return -1;
        i = j;
    }
    Py_ssize_t j = (i < n && s[i] == ' ') ? i + 1 : i;
    if (j < n && s[j] == 'Z')
        return j + 1;
    if (j + 3 <= n && memcmp(s + j, "UTC", 3) == 0)
        return j + 3;
    if (j < n && (s[j] == '+' || s[j] == '-') && exact_digits(s, n, j + 1, 2)) {
        Py_ssize_t k = j + 3;
        if (k < n && s[k] == ':')
            k++;
        if (exact_digits(s, n, k, 2))
            return k + 2;
    }
    return i;
}

/* Is s[0..len) a level word (case-insensitive)? */
static int
is_level(const uint8_t *w, Py_ssize_t len)
{
    char low[16];
    if (len < 3 || len > 11)
        return 0;
    for (Py_ssize_t k = 0; k < len; k++)
        low[k] = (char)((w[k] >= 'A' && w[k] <= 'Z') ? w[k] + 32 : w[k]);
    for (int r = 0; LEVEL_WORDS[r]; r++)
        if ((Py_ssize_t)strlen(LEVEL_WORDS[r]) == len && memcmp(LEVEL_WORDS[r], low, (size_t)len) == 0)
            return 1;
    return 0;
}

static int
span_plain(const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    Py_ssize_t i = (n && s[0] == '[') ? 1 : 0;
    Py_ssize_t j = iso_end(s, n, i);
    if (j < 0) {
        j = digits_end(s, n, i, 9, 13);
        if (j < 0)
            return -1;
        if (j < n && s[j] == '.') {
            Py_ssize_t k = digits_end(s, n, j + 1, 1, PY_SSIZE_T_MAX);
            if (k < 0)
                return -1;
            j = k;
        }
    }
    if (j < n && s[j] == ']')
        j++;
    i = skip_blank(s, n, j);
    if (i == j)
        return -1;
    Py_ssize_t word = i;
    if (i < n && s[i] == '[')
        i++;
    Py_ssize_t start = i;
    while (i < n && is_letter(s[i]))
        i++;
    if (i - start < 3 || i - start > 11)
        return -1;
    int level = is_level(s + start, i - start);
    if (i < n && s[i] == ']')
        i++;
    if (i < n && s[i] == ':')
        i++;
    j = skip_blank(s, n, i);
    if (j == i)
        return -1;
    *ms = level ? j : word;
    *me = n;
    return 0;
}

static inline int
is_wrapper(uint8_t c)
{
    return c == '[' || c == ']' || c == '<' || c == '>' || c == '(' || c == ')' || c == ':';
}

static int
span_header(const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    Py_ssize_t i = 0;
    int digit = 0;
    for (int w = 0; w < HEADER_WORDS; w++) {
        i = skip_blank(s, n, i);
        if (i >= n)
            break;
        Py_ssize_t start = i;
        int has_digit = 0;
        while (i < n && !is_blank(s[i])) {
            has_digit |= is_digit(s[i]);
            i++;
        }
        if (digit) {
            Py_ssize_t a = start, b = i;  /* the word without its brackets, angle brackets, parentheses and colons */
            while (a < b && is_wrapper(s[a]))
                a++;
            while (b > a && is_wrapper(s[b - 1]))
                b--;
            if (is_level(s + a, b - a)) {
                *ms = skip_blank(s, n, i);
                *me = n;
                return 0;
            }
        }
        digit |= has_digit;
    }
    return -1;
}

/* F_CONTROL / F_NONASCII of n bytes (the parts of a line around its message). */
static inline int
other_flags(const uint8_t *p, Py_ssize_t n)
{
    unsigned high = 0, control = 0;  /* a plain loop the compiler vectorizes */
    for (Py_ssize_t k = 0; k < n; k++) {
        uint8_t c = p[k];
        high |= c;
        control |= (unsigned)((c < 32 && c != '\t' && c != '\n') || c == 127);
    }
    return (control ? F_CONTROL : 0) | ((high & 0x80) ? F_NONASCII : 0);
}

/* The message span [*ms, *me) of a line of n bytes in format fmt; 0, or -1 when the line is
 * not in that format. */
static int
message_span(int fmt, const uint8_t *s, Py_ssize_t n, Py_ssize_t *ms, Py_ssize_t *me)
{
    switch (fmt) {
    case FMT_JSONL:
        return span_jsonl(s, n, ms, me);
    case FMT_LOGFMT:
        return span_logfmt(s, n, ms, me);
    case FMT_SYSLOG:
        return span_syslog(s, n, ms, me);
    case FMT_PLAIN:
        return span_plain(s, n, ms, me);
    case FMT_HEADER:
        return span_header(s, n, ms, me);
    default:
        *ms = 0;
        *me = n;
        return 0;
    }
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SSSE3 1
#include <immintrin.h>

static int use_ssse3;

/* Lowest set bit >= p of a mask of nw 64-bit words, or nw * 64. */
static inline Py_ssize_t
next_bit(const uint64_t *m, Py_ssize_t p, Py_ssize_t nw)
{
    Py_ssize_t w = p >> 6;
    if (w >= nw)
        return nw << 6;
    uint64_t x = m[w] & (~0ULL << (p & 63));
    while (!x) {
        if (++w >= nw)
            return nw << 6;
        x = m[w];
    }
    return (w << 6) + __builtin_ctzll(x);
}

/* Highest set bit in [lo, p) of a mask, or -1. */
static inline Py_ssize_t
prev_bit(const uint64_t *m, Py_ssize_t lo, Py_ssize_t p)
{
    while (p > lo) {
        Py_ssize_t w = (p - 1) >> 6;
        unsigned bit = (unsigned)((p - 1) & 63);
        uint64_t x = m[w] & (bit == 63 ? ~0ULL : (2ULL << bit) - 1);
        if (x) {
            Py_ssize_t q = (w << 6) + 63 - __builtin_clzll(x);
            return q >= lo ? q : -1;
        }
        p = w << 6;
    }
    return -1;
}

/* Lowest clear bit >= p of a mask of nw 64-bit words (bits past the line are clear). */
static inline Py_ssize_t
next_zero(const uint64_t *m, Py_ssize_t p, Py_ssize_t nw)
{
    Py_ssize_t w = p >> 6;
    if (w >= nw)
        return nw << 6;
    uint64_t x = ~m[w] & (~0ULL << (p & 63));
    while (!x) {
        if (++w >= nw)
            return nw << 6;
        x = ~m[w];
    }
    return (w << 6) + __builtin_ctzll(x);
}

/* `digit_token` with the line's digit (gm) and letter-or-digit (am) masks: the runs are
 * found by bit scans, not byte by byte. */
static inline Py_ssize_t
digit_token_masked(const uint8_t *src, Py_ssize_t ts, Py_ssize_t te, uint8_t *dst,
                   const uint64_t *gm, const uint64_t *am, Py_ssize_t nw)
{
    Py_ssize_t first_gap = next_zero(am, ts, nw);
    if (first_gap >= te) {  /* the common case: one run of letters and digits, no punctuation */
        dst[0] = 1;
        return 1;
    }
    if (port_token(src, ts, te)) {
        dst[0] = 1;
        return 1;
    }
    Py_ssize_t k = 0, p = ts;
    while (p < te) {
        if (!((am[p >> 6] >> (p & 63)) & 1)) {  /* punctuation: kept up to the next run */
            Py_ssize_t e = next_bit(am, p, nw);
            if (e > te)
                e = te;
            memcpy(dst + k, src + p, (size_t)(e - p));
            k += e - p;
            p = e;
            continue;
        }
        Py_ssize_t re = next_zero(am, p, nw);
        if (re > te)
            re = te;
        int digit = next_bit(gm, p, nw) < re;
        if (digit && signed_run(src, ts, p))
            dst[k - 1] = 1;  /* the sign joins the marker */
        else if (re - p == 8 && uuid_at(src, p, te)) {
            dst[k++] = 1;
            re = p + 36;
        }
        else if (digit)
            dst[k++] = 1;
        else {
            memcpy(dst + k, src + p, (size_t)(re - p));
            k += re - p;
        }
        p = re;
    }
    return k;
}

/* `skeleton_line` for a line without control bytes, faster: the delimiter, digit and
 * letter-or-digit masks of the line are found 16 bytes at a time (nibble lookups with
 * pshufb), then only the tokens holding a digit are visited (bit scans) and the bytes
 * between them copied as they are.
 * `avail` >= len bytes are readable at src; `masks` has room for 3 * (len / 64 + 1) words.
 * Returns the length, or -1 when the line holds a control byte (the caller then uses
 * `skeleton_line`). */
__attribute__((target("ssse3"))) static Py_ssize_t
skeleton_ssse3(const uint8_t *src, Py_ssize_t len, Py_ssize_t avail, uint8_t *dst, uint64_t *masks, int *flags)
{
    /* class bits: 0 tab, 1 other 0x0_ control, 2 0x1_ control, 3 0x2_ delimiter,
     * 4 digit, 5 0x3_ delimiter (; < = >, not :), 6 0x5_ delimiter, 7 0x7_ delimiter */
    const __m128i lo_tab = _mm_setr_epi8(
        0x1e, 0x16, 0x1e, 0x16, 0x16, 0x16, 0x16, 0x1e, 0x1e, 0x1d, 0x06, (char)0xe6, (char)0xae, (char)0xe6, 0x26, 0x06);
    const __m128i hi_tab = _mm_setr_epi8(0x03, 0x04, 0x08, 0x30, 0, 0x40, 0, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i nib = _mm_set1_epi8(0x0f), del = _mm_set1_epi8(0x7f);
    const __m128i dbits = _mm_set1_epi8((char)0xe9), gbits = _mm_set1_epi8(0x10), cbits = _mm_set1_epi8(0x06);
    const __m128i zero = _mm_setzero_si128(), case_bit = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'),
                  last = _mm_set1_epi8(25);
    Py_ssize_t nw = (len >> 6) + 1;
    uint64_t *dm = masks, *gm = masks + nw, *am = masks + 2 * nw;
    memset(masks, 0, (size_t)(3 * nw) * sizeof(uint64_t));
    unsigned high = 0, control = 0;
    Py_ssize_t j = 0;
    for (; j < len && j + 16 <= avail; j += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(src + j));
        __m128i c = _mm_and_si128(_mm_shuffle_epi8(lo_tab, _mm_and_si128(v, nib)),
                                  _mm_shuffle_epi8(hi_tab, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
        unsigned live = len - j >= 16 ? 0xffffu : (1u << (len - j)) - 1;
        unsigned d = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, dbits), zero)) & live;
        unsigned g = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, gbits), zero)) & live;
        control |= (~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, cbits), zero))
                    | (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, del))) & live;
        high |= (unsigned)_mm_movemask_epi8(v) & live;
        __m128i off = _mm_sub_epi8(_mm_or_si128(v, case_bit), a);  /* a letter: 0..25 after folding case */
        unsigned l = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(off, last), off)) & live;
        dm[j >> 6] |= (uint64_t)d << (j & 63);
        gm[j >> 6] |= (uint64_t)g << (j & 63);
        am[j >> 6] |= (uint64_t)(g | l) << (j & 63);
    }
    for (; j < len; j++) {  /* the last bytes of the block: one at a time */
        unsigned v = TABLE[src[j]];
        dm[j >> 6] |= (uint64_t)((v & C_DELIM) != 0) << (j & 63);
        gm[j >> 6] |= (uint64_t)((v & C_DIGIT) != 0) << (j & 63);
        am[j >> 6] |= (uint64_t)((v & C_ALNUM) != 0) << (j & 63);
        control |= v & (F_CONTROL << FLAG_SHIFT);
        high |= src[j] & 0x80;
    }
    if (control)
        return -1;
    if (high)
        *flags |= F_NONASCII;
    Py_ssize_t cur = 0, k = 0, p;
    while ((p = next_bit(gm, cur, nw)) < len) {
        Py_ssize_t ts, te;
        if (nw == 1) {  /* a line of < 64 bytes: its masks are one word each */
            uint64_t below = dm[0] & ((1ULL << p) - 1), above = dm[0] & (~0ULL << p);
            ts = below ? 64 - __builtin_clzll(below) : 0;
            te = above ? __builtin_ctzll(above) : len;
        }
        else {
            ts = prev_bit(dm, cur, p) + 1;
            if (ts == 0)
                ts = cur;
            te = next_bit(dm, p, nw);
            if (te > len)
                te = len;
        }
        if (ts + 16 <= avail && ts - cur <= 16)  /* the kept bytes before: one 16-byte copy */
            _mm_storeu_si128((__m128i *)(dst + k), _mm_loadu_si128((const __m128i *)(src + cur)));
        else
            memcpy(dst + k, src + cur, (size_t)(ts - cur));
        k += ts - cur;
        k += digit_token_masked(src, ts, te, dst + k, gm, am, nw);
        cur = te;
    }
    memcpy(dst + k, src + cur, (size_t)(len - cur));
    return k + len - cur;
}
#endif

typedef struct {
    uint64_t hash;
    Py_ssize_t off, len;     /* the skeleton in the arena */
    Py_ssize_t start, end;   /* its first line in the block */
    Py_ssize_t count;
} Entry;

typedef struct {
    Entry *entries;
    Py_ssize_t n_entries, cap_entries;
    int32_t *slots;          /* entry index, -1 = free */
    size_t mask;
    uint8_t *arena;
    Py_ssize_t arena_len, arena_cap;
    int32_t *uids;
    Py_ssize_t n_lines, cap_lines;
    uint8_t *scratch[3];     /* two line skeletons (one being built, one being looked up), masks */
    Py_ssize_t scratch_cap[3];
    int flags;
} Scan;

static void
scan_free(Scan *s)
{
    free(s->entries);
    free(s->slots);
    free(s->arena);
    free(s->uids);
    free(s->scratch[0]);
    free(s->scratch[1]);
    free(s->scratch[2]);
}

/* 64-bit product folded to 64 bits: the mixing step of the hash. */
static inline uint64_t
mix64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t r = a * b;
    return r ^ (r >> 29) ^ (a >> 32) * (b | 1);
#endif
}

/* Hash of a skeleton of n bytes followed by 16 zero bytes, 16 bytes per step with independent multiplies (a short dependency
 * chain: the scan hashes every line). Quality only matters for speed: equal hashes are
 * always confirmed by comparing the bytes. */
/* Per-process random seed (set at import from os.urandom): log text is untrusted, so slot
 * positions must not be predictable (lines crafted to collide would make probing quadratic).
 * Results never depend on it: the order of skeletons is their order of first appearance. */
static uint64_t hash_seed = 0x9E3779B97F4A7C15ULL;

static inline uint64_t
hash_bytes(const uint8_t *p, Py_ssize_t n)
{
    const uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL;
    uint64_t h = hash_seed ^ (uint64_t)n;
    uint64_t w0, w1;
    while (n >= 16) {
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        h = ((h << 29) | (h >> 35)) ^ mix64(w0 ^ k1, w1 ^ k2);
        p += 16;
        n -= 16;
    }
    /* the tail: the key is followed by 16 zero bytes (see scan_block), so whole words are read */
    memcpy(&w0, p, 8);
    memcpy(&w1, p + 8, 8);
    return mix64(h ^ w0 ^ k2, mix64(w1 ^ k1, h ^ k2));
}

/* `arr` (malloc'd, *cap items of `elem` bytes) with twice the capacity, or NULL on overflow
 * or no memory (then `arr` and *cap are unchanged). */
static void *
grow_array(void *arr, Py_ssize_t *cap, size_t elem)
{
    if (*cap > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)elem)
        return NULL;
    void *grown = realloc(arr, (size_t)(*cap * 2) * elem);
    if (grown)
        *cap *= 2;
    return grown;
}

/* Double the slot table and re-insert every entry; 0 or -1 (no memory). */
static int
grow_slots(Scan *s)
{
    size_t size = (s->mask + 1) * 2;
    int32_t *slots = malloc(size * sizeof(int32_t));
    if (!slots)
        return -1;
    memset(slots, 0xff, size * sizeof(int32_t));
    for (Py_ssize_t e = 0; e < s->n_entries; e++) {
        size_t i = (size_t)s->entries[e].hash & (size - 1);
        while (slots[i] >= 0)
            i = (i + 1) & (size - 1);
        slots[i] = (int32_t)e;
    }
    free(s->slots);
    s->slots = slots;
    s->mask = size - 1;
    return 0;
}

/* Make room for `extra` more bytes in the arena; 0 or -1. */
static int
reserve_arena(Scan *s, Py_ssize_t extra)
{
    if (s->arena_cap - s->arena_len >= extra)
        return 0;
    Py_ssize_t cap = s->arena_cap ? s->arena_cap : 4096;
    while (cap - s->arena_len < extra) {
        if (cap > PY_SSIZE_T_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *arena = realloc(s->arena, (size_t)cap);
    if (!arena)
        return -1;
    s->arena = arena;
    s->arena_cap = cap;
    return 0;
}

/* Count one line whose skeleton is `key` (adding the skeleton when new) and record its
 * entry index; 0, or -1 when out of memory or past INT32_MAX distinct skeletons. */
static int
add_line(Scan *s, const uint8_t *key, Py_ssize_t len, Py_ssize_t start, Py_ssize_t end)
{
    uint64_t h = hash_bytes(key, len);
    size_t i = (size_t)h & s->mask;
    int32_t e;
    while ((e = s->slots[i]) >= 0) {
        const Entry *ent = &s->entries[e];
        if (ent->hash == h && ent->len == len && (len == 0 || memcmp(s->arena + ent->off, key, (size_t)len) == 0))
            break;
        i = (i + 1) & s->mask;
    }
    if (e < 0) {
        if (s->n_entries >= INT32_MAX || reserve_arena(s, len) < 0)
            return -1;
        if (s->n_entries == s->cap_entries) {
            Entry *grown = grow_array(s->entries, &s->cap_entries, sizeof(Entry));
            if (!grown)
                return -1;
            s->entries = grown;
        }
        e = (int32_t)s->n_entries++;
        if (len)
            memcpy(s->arena + s->arena_len, key, (size_t)len);
        s->entries[e] = (Entry){h, s->arena_len, len, start, end, 0};
        s->arena_len += len;
        s->slots[i] = e;
        if ((size_t)s->n_entries * 2 > s->mask + 1 && grow_slots(s) < 0)
            return -1;
    }
    s->entries[e].count++;
    if (s->uids) {
        if (s->n_lines == s->cap_lines) {
            int32_t *grown = grow_array(s->uids, &s->cap_lines, sizeof(int32_t));
            if (!grown)
                return -1;
            s->uids = grown;
        }
        s->uids[s->n_lines] = e;
    }
    s->n_lines++;
    return 0;
}

/* Make scratch buffer `b` hold at least `size` bytes; 0 or -1. */
static int
reserve_scratch(Scan *s, int b, Py_ssize_t size)
{
    if (s->scratch_cap[b] >= size)
        return 0;
    Py_ssize_t cap = size < 256 ? 256 : size + size / 2;
    uint8_t *buf = realloc(s->scratch[b], (size_t)cap);
    if (!buf)
        return -1;
    s->scratch[b] = buf;
    s->scratch_cap[b] = cap;
    return 0;
}

/* The one pass over the block (no Python API: runs without the GIL); 0 or -1.
 * Software-pipelined: line i's skeleton is built while line i-1's is hashed and looked up,
 * so the hash never reads bytes the skeleton loop has just stored (a store-forwarding
 * stall per word otherwise). */
static int
scan_block(Scan *s, const uint8_t *buf, Py_ssize_t n, Py_ssize_t window, int want_lines, int fmt)
{
    s->cap_entries = 256;
    s->entries = malloc((size_t)s->cap_entries * sizeof(Entry));
    s->mask = 1023;
    s->slots = malloc((s->mask + 1) * sizeof(int32_t));
    if (!s->entries || !s->slots)
        return -1;
    memset(s->slots, 0xff, (s->mask + 1) * sizeof(int32_t));
    if (want_lines) {
        s->cap_lines = 1024;
        s->uids = malloc((size_t)s->cap_lines * sizeof(int32_t));
        if (!s->uids)
            return -1;
    }
    int flags = 0, cur = 0, pending = 0;
    Py_ssize_t pos = 0, prev_k = 0, prev_start = 0, prev_stop = 0;
    for (;;) {
        const uint8_t *nl = pos < n ? memchr(buf + pos, '\n', (size_t)(n - pos)) : NULL;
        Py_ssize_t stop = nl ? (Py_ssize_t)(nl - buf) : n;
        Py_ssize_t len = stop - pos;
        if (len >= window && n > window) {
            /* the first aligned window starting inside this line: does it end inside too? */
            Py_ssize_t first = (pos + window - 1) / window;
            if (first + 1 <= stop / window)
                flags |= F_LONG;
        }
        Py_ssize_t ms = 0, me = len;  /* the message: the whole line, or its span in `fmt` */
        if (fmt != FMT_RAW && message_span(fmt, buf + pos, len, &ms, &me) < 0) {
            flags |= F_BAD;
            ms = 0;
            me = len;
        }
        const uint8_t *msg = buf + pos + ms;
        Py_ssize_t mlen = me - ms;
        if (ms > 0 || me < len)  /* the flags cover the whole line: the bytes around the message too */
            flags |= other_flags(buf + pos, ms) | other_flags(buf + pos + me, len - me);
        if (len > PY_SSIZE_T_MAX - 16 || reserve_scratch(s, cur, len + 16) < 0)
            return -1;
        uint8_t *dst = s->scratch[cur];
        Py_ssize_t k = -1;
#ifdef HAVE_SSSE3
        if (use_ssse3) {
            if (reserve_scratch(s, 2, (Py_ssize_t)((mlen / 64 + 1) * 3 * sizeof(uint64_t))) < 0)
                return -1;
            k = skeleton_ssse3(msg, mlen, n - pos - ms, dst, (uint64_t *)s->scratch[2], &flags);
        }
#endif
        if (k < 0)
            k = skeleton_line(msg, mlen, dst, &flags);
        if (blank_skeleton(dst, k))
            flags |= F_EMPTY;
        memset(dst + k, 0, 16); /* the hash reads whole words */
        if (pending && add_line(s, s->scratch[cur ^ 1], prev_k, prev_start, prev_stop) < 0)
            return -1;
        pending = 1;
        prev_k = k;
        prev_start = pos + ms;
        prev_stop = pos + me;
        cur ^= 1;
        if (!nl)
            break;
        pos = stop + 1;
    }
    if (add_line(s, s->scratch[cur ^ 1], prev_k, prev_start, prev_stop) < 0)
        return -1;
    s->flags = flags;
    return 0;
}

/* The Python result tuple of a finished scan (new reference, or NULL with an exception). */
static PyObject *
scan_result(const Scan *s, int want_lines)
{
    PyObject *skeletons = PyList_New(s->n_entries);
    PyObject *spans = PyList_New(s->n_entries);
    PyObject *counts = PyList_New(s->n_entries);
    PyObject *uids = NULL;
    if (!skeletons || !spans || !counts)
        goto fail;
    for (Py_ssize_t e = 0; e < s->n_entries; e++) {
        const Entry *ent = &s->entries[e];
        PyObject *sk = PyBytes_FromStringAndSize((const char *)s->arena + ent->off, ent->len);
        if (!sk)
            goto fail;
        PyList_SET_ITEM(skeletons, e, sk);
        PyObject *span = Py_BuildValue("(nn)", ent->start, ent->end);
        if (!span)
            goto fail;
        PyList_SET_ITEM(spans, e, span);
        PyObject *count = PyLong_FromSsize_t(ent->count);
        if (!count)
            goto fail;
        PyList_SET_ITEM(counts, e, count);
    }
    if (want_lines) {
        uids = PyBytes_FromStringAndSize((const char *)s->uids, s->n_lines * (Py_ssize_t)sizeof(int32_t));
        if (!uids)
            goto fail;
    }
    else {
        uids = Py_NewRef(Py_None);
    }
    return Py_BuildValue("(NNNNni)", skeletons, spans, counts, uids, s->n_lines, s->flags);
fail:
    Py_XDECREF(skeletons);
    Py_XDECREF(spans);
    Py_XDECREF(counts);
    Py_XDECREF(uids);
    return NULL;
}

static PyObject *
py_scan(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"block", "window", "want_lines", "fmt", NULL};
    Py_buffer view;
    Py_ssize_t window;
    int want_lines = 1, fmt = FMT_RAW;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*n|pi:scan", kwlist, &view, &window, &want_lines, &fmt))
        return NULL;
    if (window < 1 || fmt < 0 || fmt >= FMT_COUNT) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, window < 1 ? "window must be >= 1" : "unknown format code");
        return NULL;
    }
    Scan s;
    memset(&s, 0, sizeof(s));
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = scan_block(&s, (const uint8_t *)view.buf, view.len, window, want_lines, fmt);
    Py_END_ALLOW_THREADS
    PyObject *result = rc < 0 ? PyErr_NoMemory() : scan_result(&s, want_lines);
    scan_free(&s);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *
py_remap(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer uids, table;
    if (!PyArg_ParseTuple(args, "y*y*:remap", &uids, &table))
        return NULL;
    PyObject *out = NULL;
    if (uids.len % (Py_ssize_t)sizeof(int32_t) || table.len % (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "uids and table must be int32 buffers");
        goto done;
    }
    Py_ssize_t n = uids.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t size = table.len / (Py_ssize_t)sizeof(int32_t);
    out = PyBytes_FromStringAndSize(NULL, uids.len);
    if (!out)
        goto done;
    int32_t *dst = (int32_t *)PyBytes_AS_STRING(out);
    const uint8_t *src = uids.buf;
    const uint8_t *tab = table.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t u, v;
        memcpy(&u, src + i * (Py_ssize_t)sizeof(int32_t), sizeof(int32_t));
        if (u < 0 || u >= size) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_IndexError, "uid out of the table's range");
            goto done;
        }
        memcpy(&v, tab + (Py_ssize_t)u * (Py_ssize_t)sizeof(int32_t), sizeof(int32_t));
        dst[i] = v;
    }
done:
    PyBuffer_Release(&uids);
    PyBuffer_Release(&table);
    return out;
}

/* simd(flag=None) -> bool: whether the SSSE3 skeleton path is used; with a flag, switch it (on
 * only where the CPU has SSSE3). For tests of the portable scalar path. */
static PyObject *
py_simd(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *flag = Py_None;
    if (!PyArg_ParseTuple(args, "|O:simd", &flag))
        return NULL;
#ifdef HAVE_SSSE3
    if (flag != Py_None) {
        int on = PyObject_IsTrue(flag);
        if (on < 0)
            return NULL;
        use_ssse3 = on && __builtin_cpu_supports("ssse3");
    }
    return PyBool_FromLong(use_ssse3);
#else
    return PyBool_FromLong(0);
#endif
}

/* in_format(block, fmt) -> int: how many lines of the block are in format fmt (for detection). */
static PyObject *
py_in_format(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    int fmt;
    if (!PyArg_ParseTuple(args, "y*i:in_format", &view, &fmt))
        return NULL;
    if (fmt < 0 || fmt >= FMT_COUNT) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "unknown format code");
        return NULL;
    }
    const uint8_t *buf = view.buf;
    Py_ssize_t n = view.len, pos = 0, hits = 0;
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        const uint8_t *nl = pos < n ? memchr(buf + pos, '\n', (size_t)(n - pos)) : NULL;
        Py_ssize_t stop = nl ? (Py_ssize_t)(nl - buf) : n, ms, me;
        hits += message_span(fmt, buf + pos, stop - pos, &ms, &me) == 0;
        if (!nl)
            break;
        pos = stop + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(hits);
}

static PyMethodDef scan_methods[] = {
    {"in_format", py_in_format, METH_VARARGS, "in_format(block, fmt) -> int: lines of the block in format fmt."},
    {"simd", py_simd, METH_VARARGS, "simd(flag=None) -> bool: is (or switch) the SSSE3 path in use."},
    {"scan", (PyCFunction)(void (*)(void))py_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(block, window, want_lines=True) -> (skeletons, spans, counts, uids, lines, flags)\n\n"
     "Distinct line skeletons of a block in one pass; see the module source for the fields."},
    {"remap", py_remap, METH_VARARGS,
     "remap(uids, table) -> bytes: int32 table[uid] for every int32 uid."},
    {NULL, NULL, 0, NULL},
};

static int
scan_exec(PyObject *module)
{
    return PyModule_AddIntConstant(module, "CONTROL", F_CONTROL) < 0
        || PyModule_AddIntConstant(module, "NONASCII", F_NONASCII) < 0
        || PyModule_AddIntConstant(module, "EMPTY", F_EMPTY) < 0
        || PyModule_AddIntConstant(module, "LONG", F_LONG) < 0
        || PyModule_AddIntConstant(module, "BAD", F_BAD) < 0 ? -1 : 0;
}

static PyModuleDef_Slot scan_slots[] = {
    {Py_mod_exec, scan_exec},
    {0, NULL},
};

static struct PyModuleDef scan_module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "Optional native scanner of log blocks (see lumos.tools.logs.native).",
    0, scan_methods, scan_slots, NULL, NULL, NULL,
};

/* hash_seed from os.urandom(8); the fixed default stays if that fails (never fatal). */
static void
init_seed(void)
{
    PyObject *os = PyImport_ImportModule("os");
    PyObject *rnd = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
    if (rnd && PyBytes_Check(rnd) && PyBytes_GET_SIZE(rnd) == 8) {
        uint64_t seed;
        memcpy(&seed, PyBytes_AS_STRING(rnd), 8);
        hash_seed ^= seed;
    }
    Py_XDECREF(rnd);
    Py_XDECREF(os);
    PyErr_Clear();
}

PyMODINIT_FUNC
PyInit__scan(void)
{
    init_tables();
    init_seed();
#ifdef HAVE_SSSE3
    __builtin_cpu_init();
    use_ssse3 = __builtin_cpu_supports("ssse3");
#endif
    return PyModuleDef_Init(&scan_module);
}
