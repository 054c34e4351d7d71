/*
 * lumos.tools.logs._scan: optional native scanner of log blocks for template mining.
 *
 * Why: the pure-Python fast path of the miner needs several C-level passes per block plus
 * one bytes object per line. This module does the per-line work in ONE pass without creating
 * a Python object per line, so Python only works per *distinct* skeleton.
 *
 * A line's skeleton is exactly `lumos.tools.logs.tokens.skeleton` (see its module doc): in a
 * token (run of bytes between space, tab and , ; ( ) [ ] { } < > " ' | =) each run of letters
 * and digits holding a digit becomes the marker byte 0x01 (with a sign `-` before it), a
 * UUID becomes 0x01, a token ending in `:` and digits (a port) becomes one 0x01; other bytes
 * are kept, control bytes but tab become NUL.
 *
 * How (the fast formulation): the block is classified in chunks of whole lines (16 KB by
 * default), 64 bytes per step (AVX2 where the CPU has it, else a portable table loop giving
 * the same bits), into one bit mask per class: newline, delimiter, digit, letter, quote,
 * backslash, blank, control. Two masks are derived with word arithmetic: the starts of the
 * runs of letters and digits, and the *landing* of each run that holds a digit (the byte
 * right after it: adding the digit mask to the letter-or-digit mask carries through the rest
 * of the run). A line's skeleton then visits only its runs with a digit (one bit scan each),
 * copying the bytes between them as they are; ports and UUIDs are recognised at those runs.
 * Messages (per line format) are found with the same masks (quotes, backslashes, blanks).
 * Lines holding a control byte take the byte-at-a-time reference loop (`skeleton_line`).
 *
 * Skeletons live in an open-addressing hash table keyed by a 64-bit hash, always confirmed by
 * comparing length and bytes, so a hash collision can never merge two skeletons.
 *
 * Scanner(fmt=0, window=2**30, want_lines=True, threads=1): a table that lives across blocks;
 *   with threads > 1 a block is cut at line starts into parts scanned in threads of their own,
 *   each into a table of its own, merged in order afterwards (the same result as one pass).
 *   scan(block) -> (first, skeletons, spans, uids, lines, flags): the skeletons first seen in
 *       this block (ids first, first + 1, ...), the [start, end) span of each one's first
 *       message, uids (native int32 skeleton id per line, or None), the number of lines, flags.
 *       The block stays pending until commit() (its lines count) or rollback() (forgotten).
 *   counts() -> list[int]: committed lines per skeleton id; len(scanner): committed skeletons;
 *   clear(): forget every skeleton (ids restart at 0).
 * scan(block, window, want_lines=True, fmt=0) -> (skeletons, spans, counts, uids, lines, flags)
 *   one block on its own: every distinct skeleton in order of first appearance, with counts.
 *   fmt:   the line format (`lumos.tools.logs.spans.FORMAT_CODES`): the skeleton is that of
 *          each line's message (its span in that format); 0 = the whole line
 *   flags: CONTROL 1 (a NUL/control byte but tab), NONASCII 2 (a byte >= 0x80), EMPTY 4 (a
 *          blank line: its skeleton is empty or only spaces/tabs), LONG 8 (the block is longer
 *          than `window` and some aligned window of `window` bytes has no newline), BAD 16 (a
 *          line is not in `fmt`; its skeleton is then that of the whole line)
 * remap(uids, table) -> bytes: native int32 table[uid] for every int32 uid.
 * in_format(block, fmt) -> int: lines of the block in format fmt.
 * simd(flag=None) -> bool, chunk_size(n=None) -> int, part_size(n=None) -> int: switches for
 *   tests (AVX2 classification; chunk size; least bytes of a part scanned in its own thread).
 * The scans run without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    if (te - p < 36 || (te - p > 36 && (TABLE[src[p + 36]] & C_ALNUM)))
        return 0;
    const uint8_t *u = src + p;
    if (u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-')
        return 0;
#if defined(__SSE2__)
    /* bytes 0-15, 16-31 and 20-35: every byte but the dashes (at 8, 13 | 2, 7 | 3) is a hex digit */
    static const unsigned at[3] = {0, 16, 20}, dashes[3] = {(1u << 8) | (1u << 13), (1u << 2) | (1u << 7), 1u << 3};
    unsigned digit = 0;
    for (int i = 0; i < 3; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(u + at[i]));
        __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
        __m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
        unsigned dm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
        unsigned lm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l));
        if (~(dm | lm) & 0xffffu & ~dashes[i])
            return 0;
        digit |= dm;
    }
    return digit != 0;
#else
    static const uint8_t dash[36] = {[8] = 1, [13] = 1, [18] = 1, [23] = 1};
    int digit = 0;
    for (int k = 0; k < 36; k++) {
        uint8_t c = u[k];
        if (dash[k])
            continue;
        if (c >= '0' && c <= '9')
            digit = 1;
        else if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return digit;
#endif
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

/* ---- chunk masks: one bit per byte per class ------------------------------------------------ */

enum {
    M_NL,       /* newline */
    M_DELIM,    /* space, tab and , ; ( ) [ ] { } < > " ' | = */
    M_DIGIT,    /* 0-9 */
    M_LETTER,   /* A-Z a-z */
    M_QUOTE,    /* " */
    M_BSLASH,   /* backslash */
    M_BLANK,    /* space, tab */
    M_CONTROL,  /* a control byte but tab and newline, or DEL */
    M_CLASSES,  /* the masks above are classified from the bytes; the two below derived from them */
    M_START = M_CLASSES,  /* the first byte of each run of letters and digits */
    M_LAND,     /* the byte right after each run of letters and digits that holds a digit */
    M_COUNT
};

#define DEFAULT_CHUNK (16 * 1024)
static Py_ssize_t chunk_bytes = DEFAULT_CHUNK;
static uint8_t CLASS[256];  /* bit k: the byte is in class k < M_CLASSES */

static void
init_classes(void)
{
    for (int b = 0; b < 256; b++) {
        unsigned v = TABLE[b], c = 0;
        c |= (b == '\n') << M_NL;
        c |= ((v & C_DELIM) != 0) << M_DELIM;
        c |= ((v & C_DIGIT) != 0) << M_DIGIT;
        c |= ((v & C_ALNUM) && !(v & C_DIGIT)) << M_LETTER;
        c |= (b == '"') << M_QUOTE;
        c |= (b == '\\') << M_BSLASH;
        c |= (b == ' ' || b == '\t') << M_BLANK;
        c |= (b != '\n' && ((v >> FLAG_SHIFT) & F_CONTROL)) << M_CONTROL;
        CLASS[b] = (uint8_t)c;
    }
}

/* Lowest set bit in [p, limit) of a mask, or limit (the mask has a word for bit limit - 1). */
static inline Py_ssize_t
next_bit(const uint64_t *m, Py_ssize_t p, Py_ssize_t limit)
{
    if (p >= limit)
        return limit;
    Py_ssize_t w = p >> 6, last = (limit - 1) >> 6;
    uint64_t x = m[w] & (~0ULL << (p & 63));
    while (!x) {
        if (++w > last)
            return limit;
        x = m[w];
    }
    Py_ssize_t r = (w << 6) + __builtin_ctzll(x);
    return r < limit ? r : limit;
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

static inline int
bit_at(const uint64_t *m, Py_ssize_t p)
{
    return (int)((m[p >> 6] >> (p & 63)) & 1);
}

/* The bytes [w0, w0 + len) of a block, classified. Every line that ends inside a chunk has
 * all its bytes in it (a chunk starts at a line start). */
typedef struct {
    Py_ssize_t w0, len;
    Py_ssize_t nw;        /* words per mask: len / 64 + 2 (a landing may sit at bit len) */
    uint64_t *m;          /* M_COUNT masks of nw words each */
    Py_ssize_t cap;       /* words allocated */
    int control, high;    /* the chunk holds a control byte / a byte >= 0x80 */
} Chunk;

#define MASK(c, k) ((c)->m + (Py_ssize_t)(k) * (c)->nw)

/* Classify n <= 64 bytes at p into word w of each class mask (portable: one table load per byte). */
static void
classify_scalar(const uint8_t *p, Py_ssize_t n, uint64_t *m, Py_ssize_t nw, Py_ssize_t w, unsigned *high)
{
    uint64_t acc[M_CLASSES] = {0};
    unsigned hi = 0;
    for (Py_ssize_t t = 0; t < n; t++) {
        unsigned c = CLASS[p[t]];
        hi |= p[t];
        for (int k = 0; k < M_CLASSES; k++)
            acc[k] |= (uint64_t)((c >> k) & 1) << t;
    }
    for (int k = 0; k < M_CLASSES; k++)
        m[k * nw + w] = acc[k];
    *high |= hi & 0x80;
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2 1
#include <immintrin.h>

static int use_avx2;

/* The class masks of 32 bytes (bit i = byte i). */
__attribute__((target("avx2"))) static inline void
classify32(__m256i v, uint32_t out[M_CLASSES], uint32_t *high)
{
    /* delimiters by nibble lookup: bits 0 tab, 3 0x2_ delimiters, 5 0x3_ (; < = >, not :),
     * 6 0x5_ ([ ]), 7 0x7_ ({ | }); the product of a low- and a high-nibble table */
    const __m256i lo_tab = _mm256_setr_epi8(
        0x1e, 0x16, 0x1e, 0x16, 0x16, 0x16, 0x16, 0x1e, 0x1e, 0x1d, 0x06, (char)0xe6, (char)0xae, (char)0xe6, 0x26, 0x06,
        0x1e, 0x16, 0x1e, 0x16, 0x16, 0x16, 0x16, 0x1e, 0x1e, 0x1d, 0x06, (char)0xe6, (char)0xae, (char)0xe6, 0x26, 0x06);
    const __m256i hi_tab = _mm256_setr_epi8(0x03, 0x04, 0x08, 0x30, 0, 0x40, 0, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0x03, 0x04, 0x08, 0x30, 0, 0x40, 0, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i c = _mm256_and_si256(_mm256_shuffle_epi8(lo_tab, _mm256_and_si256(v, nib)),
                                 _mm256_shuffle_epi8(hi_tab, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
    uint32_t delim = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(c, _mm256_set1_epi8((char)0xe9)), zero));
    __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
    uint32_t digit = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d));
    __m256i l = _mm256_sub_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), _mm256_set1_epi8('a'));
    uint32_t letter = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(l, _mm256_set1_epi8(25)), l));
    uint32_t nl = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')));
    uint32_t tab = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')));
    uint32_t space = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')));
    uint32_t low = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(31)), v));
    uint32_t del = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(127)));
    out[M_NL] = nl;
    out[M_DELIM] = delim;
    out[M_DIGIT] = digit;
    out[M_LETTER] = letter;
    out[M_QUOTE] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')));
    out[M_BSLASH] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
    out[M_BLANK] = tab | space;
    out[M_CONTROL] = (low & ~tab & ~nl) | del;
    *high |= (uint32_t)_mm256_movemask_epi8(v);
}

/* classify_scalar, 64 bytes per step with AVX2; the last partial step is classified from a
 * zero-padded copy and cut to n bytes. */
__attribute__((target("avx2"))) static void
classify_avx2(const uint8_t *src, Py_ssize_t len, uint64_t *m, Py_ssize_t nw, unsigned *high)
{
    uint32_t hi = 0;
    for (Py_ssize_t j = 0; j < len; j += 64) {
        uint8_t tmp[64];
        const uint8_t *p = src + j;
        uint64_t live = ~0ULL;
        if (len - j < 64) {
            memset(tmp, 0, sizeof(tmp));
            memcpy(tmp, p, (size_t)(len - j));
            p = tmp;
            live = (1ULL << (len - j)) - 1;
        }
        uint32_t a[M_CLASSES], b[M_CLASSES], h = 0;
        classify32(_mm256_loadu_si256((const __m256i *)p), a, &h);
        classify32(_mm256_loadu_si256((const __m256i *)(p + 32)), b, &h);
        Py_ssize_t w = j >> 6;
        for (int k = 0; k < M_CLASSES; k++)
            m[k * nw + w] = ((uint64_t)a[k] | ((uint64_t)b[k] << 32)) & live;
        hi |= h;  /* the padding bytes are 0: no high bit */
    }
    *high |= hi ? 0x80 : 0;
}
#endif

/* Classify the bytes [w0, w1) of the block into c, where w1 is the end of the first line
 * that ends at least `chunk_bytes` after w0 (or the block end); derive M_START and M_LAND.
 * 0, or -1 when out of memory. */
static int
chunk_at(Chunk *c, const uint8_t *buf, Py_ssize_t n, Py_ssize_t w0)
{
    Py_ssize_t w1 = n - w0 > chunk_bytes ? w0 + chunk_bytes : n;
    if (w1 < n && !memchr(buf + w0, '\n', (size_t)(w1 - w0))) {  /* a line longer than a chunk: it is the chunk */
        const uint8_t *nl = memchr(buf + w1, '\n', (size_t)(n - w1));
        w1 = nl ? (Py_ssize_t)(nl - buf) + 1 : n;
    }
    Py_ssize_t len = w1 - w0, nw = len / 64 + 2;
    if (nw > c->cap / M_COUNT) {
        uint64_t *m = realloc(c->m, (size_t)(nw * M_COUNT) * sizeof(uint64_t));
        if (!m)
            return -1;
        c->m = m;
        c->cap = nw * M_COUNT;
    }
    c->w0 = w0;
    c->len = len;
    c->nw = nw;
    Py_ssize_t used = (len + 63) / 64;
    unsigned high = 0;
#ifdef HAVE_AVX2
    if (use_avx2)
        classify_avx2(buf + w0, len, c->m, nw, &high);
    else
#endif
        for (Py_ssize_t j = 0; j < len; j += 64)
            classify_scalar(buf + w0 + j, len - j < 64 ? len - j : 64, c->m, nw, j >> 6, &high);
    for (int k = 0; k < M_CLASSES; k++)
        memset(c->m + k * nw + used, 0, (size_t)(nw - used) * sizeof(uint64_t));
    uint64_t *digit = MASK(c, M_DIGIT), *letter = MASK(c, M_LETTER), *start = MASK(c, M_START), *land = MASK(c, M_LAND);
    const uint64_t *control = MASK(c, M_CONTROL);
    uint64_t prev = 0, any_control = 0;
    unsigned char carry = 0;
    for (Py_ssize_t w = 0; w < nw; w++) {
        uint64_t g = digit[w], a = g | letter[w], t, sum;
        start[w] = a & ~((a << 1) | (prev >> 63));
        /* a + g: from the first digit of a run the carry runs to the byte after the run */
        unsigned char c1 = __builtin_add_overflow(a, g, &t);
        unsigned char c2 = __builtin_add_overflow(t, (uint64_t)carry, &sum);
        carry = c1 | c2;
        land[w] = sum & ~a;
        prev = a;
        any_control |= control[w];
    }
    c->control = any_control != 0;
    c->high = high != 0;
    return 0;
}

/* The lines of a block, one chunk of masks at a time. */
typedef struct {
    const uint8_t *buf;
    Py_ssize_t n;
    Py_ssize_t pos;       /* start of the next line; n + 1 when there is none */
    Chunk *c;             /* the current chunk (its mask buffer is reused from block to block) */
} Lines;

/* Lines of buf[0, n), classified into c. */
static inline Lines
lines_of(const uint8_t *buf, Py_ssize_t n, Chunk *c)
{
    c->w0 = 0;
    c->len = -1;  /* no chunk yet */
    return (Lines){buf, n, 0, c};
}

/* The next line [*start, *stop) (its bytes classified in *it->c): 0, 1 when there is none,
 * -1 when out of memory. */
static int
next_line(Lines *it, Py_ssize_t *start, Py_ssize_t *stop)
{
    if (it->pos > it->n)
        return 1;
    for (;;) {
        Chunk *c = it->c;
        if (c->len >= 0 && it->pos >= c->w0 && it->pos <= c->w0 + c->len) {
            Py_ssize_t r = it->pos - c->w0;
            Py_ssize_t e = next_bit(MASK(c, M_NL), r, c->len);
            if (e < c->len || c->w0 + c->len == it->n) {
                *start = it->pos;
                *stop = c->w0 + e;
                it->pos = *stop + 1;
                return 0;
            }
        }
        if (chunk_at(it->c, it->buf, it->n, it->pos) < 0)
            return -1;
    }
}

/* ---- where the message of a line is, per format: exactly `lumos.tools.logs.spans` ---------- */

enum { FMT_RAW = 0, FMT_JSONL, FMT_LOGFMT, FMT_SYSLOG, FMT_PLAIN, FMT_HEADER, FMT_COUNT };
#define N_MESSAGE_KEYS 6
static const char *MESSAGE_KEYS[N_MESSAGE_KEYS] = {"message", "msg", "log", "text", "@message", "body"};
static const char *LEVEL_WORDS[] = {
    "trace", "debug", "dbg", "info", "information", "notice", "warn", "warning", "err", "error", "severe",
    "crit", "critical", "fatal", "alert", "emerg", "emergency", "panic", NULL};
#define N_LEVEL_WORDS 18
static Py_ssize_t MESSAGE_KEY_LEN[N_MESSAGE_KEYS], LEVEL_WORD_LEN[N_LEVEL_WORDS];
#define HEADER_WORDS 10

static void
init_words(void)
{
    for (int r = 0; r < N_MESSAGE_KEYS; r++)
        MESSAGE_KEY_LEN[r] = (Py_ssize_t)strlen(MESSAGE_KEYS[r]);
    for (int r = 0; r < N_LEVEL_WORDS; r++)
        LEVEL_WORD_LEN[r] = (Py_ssize_t)strlen(LEVEL_WORDS[r]);
}

/* One line and its chunk's masks: byte i of the line is bit off + i. */
typedef struct {
    const uint8_t *s;
    Py_ssize_t n;
    const Chunk *c;
    Py_ssize_t off;
    int escapes;  /* the line may hold a backslash (1 unless known not to) */
} Line;

/* A line of a chunk, told whether it holds a backslash (strings end at the next quote then). */
static inline Line
line_at(const uint8_t *buf, Py_ssize_t pos, Py_ssize_t stop, const Chunk *c)
{
    Py_ssize_t off = pos - c->w0;
    Line ln = {buf + pos, stop - pos, c, off, 1};
    ln.escapes = next_bit(MASK(c, M_BSLASH), off, off + ln.n) < off + ln.n;
    return ln;
}

/* Index of the first byte at or after i in class k, or n. */
static inline Py_ssize_t
line_next(const Line *ln, int k, Py_ssize_t i)
{
    return next_bit(MASK(ln->c, k), ln->off + i, ln->off + ln->n) - ln->off;
}

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

/* Index after the closing quote of the string opening at i, or -1 (a backslash escapes the
 * next byte): the next quote or backslash from one combined mask word at a time. */
static Py_ssize_t
string_end(const Line *ln, Py_ssize_t i)
{
    const uint64_t *quote = MASK(ln->c, M_QUOTE), *bslash = MASK(ln->c, M_BSLASH);
    Py_ssize_t p = ln->off + i + 1, limit = ln->off + ln->n;
    if (!ln->escapes) {  /* no backslash in the line: the next quote */
        Py_ssize_t q = next_bit(quote, p, limit);
        return q < limit ? q - ln->off + 1 : -1;
    }
    while (p < limit) {
        Py_ssize_t w = p >> 6, last = (limit - 1) >> 6;
        uint64_t x = (quote[w] | bslash[w]) & (~0ULL << (p & 63));
        while (!x) {
            if (++w > last)
                return -1;
            x = quote[w] | bslash[w];
        }
        Py_ssize_t r = (w << 6) + __builtin_ctzll(x);
        if (r >= limit)
            return -1;
        if (bit_at(quote, r))
            return r - ln->off + 1;
        p = r + 2;  /* a backslash: the next byte is escaped */
    }
    return -1;
}

/* Index after a JSON value that is not a string, or -1. */
static Py_ssize_t
value_end(const Line *ln, Py_ssize_t i)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
    if (s[i] == '{' || s[i] == '[') {
        Py_ssize_t depth = 0;
        while (i < n) {
            uint8_t c = s[i];
            if (c == '"') {
                i = string_end(ln, i);
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
        if (MESSAGE_KEY_LEN[r] == len && memcmp(MESSAGE_KEYS[r], k, (size_t)len) == 0)
            return r;
    return N_MESSAGE_KEYS;
}

static int
span_jsonl(const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
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
            i = string_end(ln, i);
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
                i = string_end(ln, i);
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
                i = value_end(ln, i);
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
span_logfmt(const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
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
                i = string_end(ln, i);
                if (i < 0)
                    return -1;
                ve = i - 1;
            }
            else {
                vs = i;
                i = line_next(ln, M_BLANK, i);
                ve = i;
            }
            int r = key_rank(s + ks, ke - ks);
            if (r < rank) {
                rank = r;
                *ms = vs;
                *me = ve;
            }
        }
        else
            i = line_next(ln, M_BLANK, i);
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
syslog_5424(const Line *ln, Py_ssize_t i, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
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
                    i = string_end(ln, i);
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
span_syslog(const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
    Py_ssize_t i = 0, j;
    if (n && s[0] == '<') {
        j = digits_end(s, n, 1, 1, 3);
        if (j < 0 || j >= n || s[j] != '>')
            return -1;
        i = j + 1;
        if (i + 1 < n && s[i] == '1' && s[i + 1] == ' ')
            return syslog_5424(ln, i + 2, ms, me);
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
    i = line_next(ln, M_BLANK, j);  /* HOST */
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

/* Is w[0..len) a level word (case-insensitive)? */
static int
is_level(const uint8_t *w, Py_ssize_t len)
{
    char low[16];
    if (len < 3 || len > 11 || !is_letter(w[0]))
        return 0;
    for (Py_ssize_t k = 0; k < len; k++)
        low[k] = (char)((w[k] >= 'A' && w[k] <= 'Z') ? w[k] + 32 : w[k]);
    for (int r = 0; r < N_LEVEL_WORDS; r++)
        if (LEVEL_WORD_LEN[r] == len && LEVEL_WORDS[r][0] == low[0] && memcmp(LEVEL_WORDS[r], low, (size_t)len) == 0)
            return 1;
    return 0;
}

static int
span_plain(const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
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
span_header(const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    const uint8_t *s = ln->s;
    Py_ssize_t n = ln->n;
    Py_ssize_t i = 0;
    int digit = 0;
    for (int w = 0; w < HEADER_WORDS; w++) {
        i = skip_blank(s, n, i);
        if (i >= n)
            break;
        Py_ssize_t start = i;
        i = line_next(ln, M_BLANK, i);
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
        else
            digit = line_next(ln, M_DIGIT, start) < i;
    }
    return -1;
}

/* The message span [*ms, *me) of a line in format fmt; 0, or -1 when the line is not in it. */
static int
message_span(int fmt, const Line *ln, Py_ssize_t *ms, Py_ssize_t *me)
{
    switch (fmt) {
    case FMT_JSONL:
        return span_jsonl(ln, ms, me);
    case FMT_LOGFMT:
        return span_logfmt(ln, ms, me);
    case FMT_SYSLOG:
        return span_syslog(ln, ms, me);
    case FMT_PLAIN:
        return span_plain(ln, ms, me);
    case FMT_HEADER:
        return span_header(ln, ms, me);
    default:
        *ms = 0;
        *me = ln->n;
        return 0;
    }
}

/* ---- the skeleton of a message from its chunk's masks ---------------------------------------- */

/* Copy n bytes (n may be 0); the destination has 32 bytes of slack, and the source is read
 * 16 or 32 bytes at a time only where `src_end` allows. */
static inline void
copy_bytes(uint8_t *dst, const uint8_t *src, Py_ssize_t n, const uint8_t *src_end)
{
    if (n <= 16 && src_end - src >= 16)
        memcpy(dst, src, 16);
    else if (n <= 32 && src_end - src >= 32) {
        memcpy(dst, src, 16);
        memcpy(dst + 16, src + 16, 16);
    }
    else
        memcpy(dst, src, (size_t)n);
}

/* The start of a UUID (`uuid_at`) that the run [st, st + len) of letters and digits (holding
 * a digit, the first such run at or after `cur`) is a group of, or -1. The UUID starts at
 * or after `cur` (its groups before this run hold no digit), not after a letter or digit,
 * and ends inside the message [a, b). A UUID whose first group is this run, with a sign
 * `-` before it, is no UUID: the run with its sign is matched first (as in the regex). */
static Py_ssize_t
uuid_start(const uint8_t *src, Py_ssize_t a, Py_ssize_t b, Py_ssize_t cur, Py_ssize_t st, Py_ssize_t len, int sign)
{
    static const Py_ssize_t four[] = {9, 14, 19};
    const Py_ssize_t *offs;
    int n_offs;
    Py_ssize_t first = 0, twelve = 24;
    if (len == 8) {
        if (sign)
            return -1;
        offs = &first;
        n_offs = 1;
    }
    else if (len == 4) {
        offs = four;
        n_offs = 3;
    }
    else if (len == 12) {
        offs = &twelve;
        n_offs = 1;
    }
    else
        return -1;
    if (len == 8 ? st + 8 >= b || src[st + 8] != '-' : st <= a || src[st - 1] != '-')  /* dashes between groups */
        return -1;
    for (int i = 0; i < n_offs; i++) {
        Py_ssize_t u = st - offs[i];
        if (u < cur || u < a || (u > a && (TABLE[src[u - 1]] & C_ALNUM)))
            continue;
        if (uuid_at(src, u, b))
            return u;
    }
    return -1;
}

/* The skeleton of the message [ms, me) (block offsets) of a line without control bytes, from
 * the masks of its chunk (see the module doc); the message is bounded by bytes that are no
 * letter or digit. Written at dst (room for me - ms + 32 bytes); returns its length. `rec`
 * has room for me - ms + 2 entries (where each marker ended, to rewind a port token). */
static Py_ssize_t
skeleton_masked(const Chunk *c, const uint8_t *buf, Py_ssize_t n, Py_ssize_t ms, Py_ssize_t me, uint8_t *dst,
                Py_ssize_t *rec)
{
    const uint64_t *land = MASK(c, M_LAND), *start = MASK(c, M_START), *delim = MASK(c, M_DELIM),
                   *letter = MASK(c, M_LETTER);
    const uint8_t *src = buf + c->w0, *end = buf + n;
    Py_ssize_t a = ms - c->w0, b = me - c->w0;  /* chunk offsets */
    Py_ssize_t cur = a, k = 0, nrec = 0;
    /* the landings in (a, b], word by word */
    Py_ssize_t w = (a + 1) >> 6, last = b >> 6;
    uint64_t x = land[w] & (~0ULL << ((a + 1) & 63));
    for (;;) {
        while (!x) {
            if (++w > last)
                goto done;
            x = land[w];
        }
        Py_ssize_t to = (w << 6) + __builtin_ctzll(x);
        x &= x - 1;
        if (to > b)
            break;
        if (to <= cur)  /* inside a UUID or port token already written */
            continue;
        /* the run [st, to) holds a digit: st is the last run start before `to` (not before cur) */
        uint64_t below = start[w] & ((1ULL << (to & 63)) - 1);
        Py_ssize_t st = below ? (w << 6) + 63 - __builtin_clzll(below) : prev_bit(start, cur, w << 6);
        if (st < cur)
            st = cur;
        int sign = st > a && src[st - 1] == '-' && (st - 1 == a || !(TABLE[src[st - 2]] & C_ALNUM));
        if ((to == b || bit_at(delim, to)) && st > a && src[st - 1] == ':' && next_bit(letter, st, to) >= to) {
            /* a token ending in `:` and digits: the whole token is one marker */
            Py_ssize_t d = prev_bit(delim, a, st), ts = d < 0 ? a : d + 1;
            if (ts >= cur)
                copy_bytes(dst + k, src + cur, ts - cur, end);
            while (nrec && rec[2 * nrec - 2] > ts)
                nrec--;
            k = nrec ? rec[2 * nrec - 1] + (ts - rec[2 * nrec - 2]) : ts - a;
            dst[k++] = 1;
            cur = to;
        }
        else {
            Py_ssize_t u = uuid_start(src, a, b, cur, st, to - st, sign);
            if (u >= 0) {
                copy_bytes(dst + k, src + cur, u - cur, end);
                k += u - cur;
                dst[k++] = 1;
                cur = u + 36;
            }
            else {
                copy_bytes(dst + k, src + cur, st - cur, end);
                k += st - cur;
                if (sign)
                    dst[k - 1] = 1;  /* the sign joins the marker */
                else
                    dst[k++] = 1;
                cur = to;
            }
        }
        rec[2 * nrec] = cur;
        rec[2 * nrec + 1] = k;
        nrec++;
    }
done:
    memcpy(dst + k, src + cur, (size_t)(b - cur));
    return k + b - cur;
}

/* ---- the table of distinct skeletons --------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    Py_ssize_t off, len;     /* the skeleton in the arena */
    Py_ssize_t start, end;   /* its first message in the block where it was first seen */
    Py_ssize_t count;        /* its lines in committed blocks */
    Py_ssize_t pending;      /* its lines in the pending block */
} Entry;

typedef struct {
    Entry *entries;
    Py_ssize_t n_entries, cap_entries;
    Py_ssize_t committed, arena_committed;  /* entries and arena bytes of committed blocks */
    int32_t *slots;          /* entry index, -1 = free */
    size_t mask;
    uint8_t *arena;
    Py_ssize_t arena_len, arena_cap;
    int32_t *touched;        /* entries with pending lines */
    Py_ssize_t n_touched, cap_touched;
    int32_t *uids;           /* the pending block's entry per line (when asked) */
    Py_ssize_t n_lines, cap_lines;
    uint8_t *scratch[2];     /* two line skeletons: one being built, one being looked up */
    Py_ssize_t scratch_cap[2];
    Py_ssize_t *rec;         /* skeleton_masked's marker ends */
    Py_ssize_t rec_cap;
    Chunk chunk;
    int flags;
} Scan;

static void
scan_free(Scan *s)
{
    free(s->entries);
    free(s->slots);
    free(s->arena);
    free(s->touched);
    free(s->uids);
    free(s->scratch[0]);
    free(s->scratch[1]);
    free(s->rec);
    free(s->chunk.m);
    memset(s, 0, sizeof(*s));
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

/* Put every entry of the table into a slot table of `size` slots (a power of two); 0 or -1. */
static int
rebuild_slots(Scan *s, size_t size)
{
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

/* Empty tables (first use, or after clear); 0 or -1. */
static int
init_table(Scan *s)
{
    s->cap_entries = 256;
    s->entries = malloc((size_t)s->cap_entries * sizeof(Entry));
    s->cap_touched = 256;
    s->touched = malloc((size_t)s->cap_touched * sizeof(int32_t));
    if (!s->entries || !s->touched)
        return -1;
    return rebuild_slots(s, 1024);
}

/* The entry of a skeleton with hash h (added when new, with its first message [start, end));
 * -1 when out of memory or past INT32_MAX skeletons. */
static int32_t
find_or_add(Scan *s, const uint8_t *key, Py_ssize_t len, uint64_t h, Py_ssize_t start, Py_ssize_t end)
{
    size_t i = (size_t)h & s->mask;
    int32_t e;
    while ((e = s->slots[i]) >= 0) {
        const Entry *ent = &s->entries[e];
        if (ent->hash == h && ent->len == len && (len == 0 || memcmp(s->arena + ent->off, key, (size_t)len) == 0))
            return e;
        i = (i + 1) & s->mask;
    }
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
    s->entries[e] = (Entry){h, s->arena_len, len, start, end, 0, 0};
    s->arena_len += len;
    s->slots[i] = e;
    if ((size_t)s->n_entries * 2 > s->mask + 1 && rebuild_slots(s, (s->mask + 1) * 2) < 0)
        return -1;
    return e;
}

/* `count` more pending lines for entry e; 0 or -1. */
static int
add_pending(Scan *s, int32_t e, Py_ssize_t count)
{
    Entry *ent = &s->entries[e];
    if (ent->pending == 0) {
        if (s->n_touched == s->cap_touched) {
            int32_t *grown = grow_array(s->touched, &s->cap_touched, sizeof(int32_t));
            if (!grown)
                return -1;
            s->touched = grown;
        }
        s->touched[s->n_touched++] = e;
    }
    ent->pending += count;
    return 0;
}

/* Append entry e to the pending block's lines (when they are kept); 0 or -1. */
static inline int
add_uid(Scan *s, int32_t e)
{
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

/* Count one line whose skeleton is `key` (followed by 16 zero bytes) in the pending block;
 * 0, or -1 when out of memory or past INT32_MAX distinct skeletons. */
static int
add_line(Scan *s, const uint8_t *key, Py_ssize_t len, Py_ssize_t start, Py_ssize_t end)
{
    int32_t e = find_or_add(s, key, len, hash_bytes(key, len), start, end);
    return e < 0 || add_pending(s, e, 1) < 0 || add_uid(s, e) < 0 ? -1 : 0;
}

/* The pending block's lines count. */
static void
commit(Scan *s)
{
    for (Py_ssize_t t = 0; t < s->n_touched; t++) {
        Entry *ent = &s->entries[s->touched[t]];
        ent->count += ent->pending;
        ent->pending = 0;
    }
    s->n_touched = 0;
    s->committed = s->n_entries;
    s->arena_committed = s->arena_len;
}

/* The pending block is forgotten: its lines and the skeletons it added; 0 or -1. */
static int
rollback(Scan *s)
{
    for (Py_ssize_t t = 0; t < s->n_touched; t++)
        s->entries[s->touched[t]].pending = 0;
    s->n_touched = 0;
    if (s->n_entries == s->committed)
        return 0;
    s->n_entries = s->committed;
    s->arena_len = s->arena_committed;
    return rebuild_slots(s, s->mask + 1);
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

/* One pass over the part buf[0, n) of a block of `total` bytes that starts at offset `base` of
 * the block (no Python API: runs without the GIL); its lines become the pending block (spans
 * are block offsets). 0 or -1 (no memory).
 * Software-pipelined: line i's skeleton is built while line i-1's is hashed and looked up,
 * so the hash never reads bytes the skeleton loop has just stored (a store-forwarding stall
 * per word otherwise). */
static int
scan_part(Scan *s, const uint8_t *buf, Py_ssize_t n, Py_ssize_t base, Py_ssize_t total, Py_ssize_t window, int want_lines,
          int fmt)
{
    if (!s->entries && init_table(s) < 0)
        return -1;
    s->n_lines = 0;
    if (want_lines && !s->uids) {
        s->cap_lines = 1024;
        if (!(s->uids = malloc((size_t)s->cap_lines * sizeof(int32_t))))
            return -1;
    }
    if (!want_lines) {
        free(s->uids);
        s->uids = NULL;
    }
    Lines it = lines_of(buf, n, &s->chunk);
    int flags = 0, cur = 0, pending = 0, rc;
    Py_ssize_t pos, stop, prev_k = 0, prev_start = 0, prev_stop = 0;
    while ((rc = next_line(&it, &pos, &stop)) == 0) {
        const Chunk *c = it.c;
        Py_ssize_t len = stop - pos;
        flags |= (c->control ? F_CONTROL : 0) | (c->high ? F_NONASCII : 0);
        if (len >= window && total > window) {
            /* the first aligned window (of the whole block) starting inside this line: does it end inside too? */
            Py_ssize_t first = (base + pos + window - 1) / window;
            if (first + 1 <= (base + stop) / window)
                flags |= F_LONG;
        }
        Py_ssize_t ms = 0, me = len;  /* the message: the whole line, or its span in `fmt` */
        Line ln;
        if (fmt != FMT_RAW && (ln = line_at(buf, pos, stop, c), message_span(fmt, &ln, &ms, &me) < 0)) {
            flags |= F_BAD;
            ms = 0;
            me = len;
        }
        Py_ssize_t mlen = me - ms;
        if (mlen > PY_SSIZE_T_MAX / 4 - 64 || reserve_scratch(s, cur, mlen + 64) < 0)
            return -1;
        if (s->rec_cap < 2 * mlen + 4) {
            Py_ssize_t *rec = realloc(s->rec, (size_t)(2 * mlen + 64) * sizeof(Py_ssize_t));
            if (!rec)
                return -1;
            s->rec = rec;
            s->rec_cap = 2 * mlen + 64;
        }
        uint8_t *dst = s->scratch[cur];
        const uint8_t *msg = buf + pos + ms;
        Py_ssize_t k;
        /* the masked skeleton wants a line without control bytes and a message between bytes
         * that are no letter or digit (as every format's message is) */
        if ((c->control && next_bit(MASK(c, M_CONTROL), pos - c->w0, stop - c->w0) < stop - c->w0)
            || (ms > 0 && (TABLE[msg[-1]] & C_ALNUM)) || (me < len && (TABLE[msg[mlen]] & C_ALNUM)))
            k = skeleton_line(msg, mlen, dst, &flags);
        else
            k = skeleton_masked(c, buf, n, pos + ms, pos + me, dst, s->rec);
        if (blank_skeleton(dst, k))
            flags |= F_EMPTY;
        memset(dst + k, 0, 16); /* the hash reads whole words */
        if (pending && add_line(s, s->scratch[cur ^ 1], prev_k, prev_start, prev_stop) < 0)
            return -1;
        pending = 1;
        prev_k = k;
        prev_start = base + pos + ms;
        prev_stop = base + pos + me;
        cur ^= 1;
    }
    if (rc < 0 || (pending && add_line(s, s->scratch[cur ^ 1], prev_k, prev_start, prev_stop) < 0))
        return -1;
    s->flags = flags;
    return 0;
}

static int
scan_block(Scan *s, const uint8_t *buf, Py_ssize_t n, Py_ssize_t window, int want_lines, int fmt)
{
    return scan_part(s, buf, n, 0, n, window, want_lines, fmt);
}

/* ---- a block in parts, one thread each ------------------------------------------------------ */

#define MAX_PARTS 8
static Py_ssize_t part_min_bytes = 256 * 1024;  /* a part is at least this long (settable for tests) */

/* Forget a side table's skeletons and lines; its buffers stay. */
static void
clear_table(Scan *s)
{
    free(s->entries);
    free(s->slots);
    free(s->arena);
    free(s->touched);
    s->entries = NULL;
    s->slots = NULL;
    s->arena = NULL;
    s->touched = NULL;
    s->n_entries = s->cap_entries = s->committed = s->arena_committed = 0;
    s->arena_len = s->arena_cap = s->n_touched = s->cap_touched = s->n_lines = 0;
    s->mask = 0;
    s->flags = 0;
}

/* Add the pending block of a side table (the lines after the main table's) to the main
 * table: its skeletons in their order of first appearance, counts, lines and flags, exactly as
 * if one table had scanned both parts. 0 or -1. */
static int
merge_part(Scan *s, const Scan *side)
{
    int32_t *map = malloc((size_t)(side->n_entries + 1) * sizeof(int32_t));
    if (!map)
        return -1;
    for (Py_ssize_t e = 0; e < side->n_entries; e++) {
        const Entry *se = &side->entries[e];
        int32_t m = find_or_add(s, side->arena + se->off, se->len, se->hash, se->start, se->end);
        if (m < 0 || add_pending(s, m, se->pending) < 0) {
            free(map);
            return -1;
        }
        map[e] = m;
    }
    if (s->uids && side->uids) {
        for (Py_ssize_t i = 0; i < side->n_lines; i++)
            if (add_uid(s, map[side->uids[i]]) < 0) {
                free(map);
                return -1;
            }
    }
    else
        s->n_lines += side->n_lines;
    s->flags |= side->flags;
    free(map);
    return 0;
}

#if !defined(_WIN32)
#include <pthread.h>

typedef struct {
    Scan *s;
    const uint8_t *buf;
    Py_ssize_t n, base, total, window;
    int want_lines, fmt, rc;
} Part;

static void *
run_part(void *arg)
{
    Part *p = arg;
    p->rc = scan_part(p->s, p->buf, p->n, p->base, p->total, p->window, p->want_lines, p->fmt);
    return NULL;
}

/* `scan_block` with the block cut at line starts into up to `parts` parts of at least
 * part_min_bytes, the first scanned into s, the others into side tables in threads of their
 * own, then merged in order: the same result as one pass. 0 or -1. */
static int
scan_parallel(Scan *s, Scan *side, int parts, const uint8_t *buf, Py_ssize_t n, Py_ssize_t window, int want_lines,
              int fmt)
{
    Py_ssize_t cut[MAX_PARTS + 1] = {0};
    int m = 0;
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    if (n / part_min_bytes < parts)
        parts = (int)(n / part_min_bytes);
    for (int k = 1; k < parts; k++) {
        Py_ssize_t at = n / parts * k;
        if (at <= cut[m])
            continue;
        const uint8_t *nl = memchr(buf + at, '\n', (size_t)(n - at));
        if (!nl)
            break;
        cut[++m] = (Py_ssize_t)(nl - buf) + 1;  /* part m starts after this newline */
    }
    if (m == 0)
        return scan_block(s, buf, n, window, want_lines, fmt);
    cut[m + 1] = n + 1;
    Part jobs[MAX_PARTS];
    pthread_t tid[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    for (int k = 1; k <= m; k++) {
        Scan *t = &side[k - 1];
        clear_table(t);
        if (want_lines && !t->uids) {
            t->cap_lines = 1024;
            if (!(t->uids = malloc((size_t)t->cap_lines * sizeof(int32_t))))
                return -1;
        }
        jobs[k] = (Part){t, buf + cut[k], cut[k + 1] - 1 - cut[k], cut[k], n, window, want_lines, fmt, 0};
        started[k] = pthread_create(&tid[k], NULL, run_part, &jobs[k]) == 0;
    }
    int rc = scan_part(s, buf, cut[1] - 1, 0, n, window, want_lines, fmt);
    for (int k = 1; k <= m; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            run_part(&jobs[k]);  /* no thread to be had: in this one */
    }
    for (int k = 1; k <= m && rc == 0; k++)
        rc = jobs[k].rc < 0 || merge_part(s, &side[k - 1]) < 0 ? -1 : 0;
    return rc;
}
#else
static int
scan_parallel(Scan *s, Scan *side, int parts, const uint8_t *buf, Py_ssize_t n, Py_ssize_t window, int want_lines,
              int fmt)
{
    (void)side;
    (void)parts;
    return scan_block(s, buf, n, window, want_lines, fmt);
}
#endif

/* in_format's pass: how many lines of the block are in fmt; -1 when out of memory. */
static Py_ssize_t
count_in_format(const uint8_t *buf, Py_ssize_t n, int fmt)
{
    Chunk c = {0};
    Lines it = lines_of(buf, n, &c);
    Py_ssize_t pos, stop, hits = 0, ms, me;
    int rc;
    while ((rc = next_line(&it, &pos, &stop)) == 0) {
        Line ln = line_at(buf, pos, stop, &c);
        hits += message_span(fmt, &ln, &ms, &me) == 0;
    }
    free(c.m);
    return rc < 0 ? -1 : hits;
}

/* ---- Python ----------------------------------------------------------------------------------- */

/* Lists of the skeletons [from, to) of a table, their first spans and (when `counts`) their
 * pending lines; new references in *sk, *sp, *co (co only when counts). 0 or -1. */
static int
entry_lists(const Scan *s, Py_ssize_t from, Py_ssize_t to, PyObject **sk, PyObject **sp, PyObject **co)
{
    *sk = PyList_New(to - from);
    *sp = PyList_New(to - from);
    if (co)
        *co = PyList_New(to - from);
    if (!*sk || !*sp || (co && !*co))
        goto fail;
    for (Py_ssize_t e = from; e < to; e++) {
        const Entry *ent = &s->entries[e];
        PyObject *item = PyBytes_FromStringAndSize((const char *)s->arena + ent->off, ent->len);
        if (!item)
            goto fail;
        PyList_SET_ITEM(*sk, e - from, item);
        if (!(item = Py_BuildValue("(nn)", ent->start, ent->end)))
            goto fail;
        PyList_SET_ITEM(*sp, e - from, item);
        if (co) {
            if (!(item = PyLong_FromSsize_t(ent->pending)))
                goto fail;
            PyList_SET_ITEM(*co, e - from, item);
        }
    }
    return 0;
fail:
    Py_CLEAR(*sk);
    Py_CLEAR(*sp);
    if (co)
        Py_CLEAR(*co);
    return -1;
}

static PyObject *
uids_bytes(const Scan *s, int want_lines)
{
    if (!want_lines)
        return Py_NewRef(Py_None);
    return PyBytes_FromStringAndSize((const char *)s->uids, s->n_lines * (Py_ssize_t)sizeof(int32_t));
}

static int
check_args(Py_ssize_t window, int fmt)
{
    if (window < 1 || fmt < 0 || fmt >= FMT_COUNT) {
        PyErr_SetString(PyExc_ValueError, window < 1 ? "window must be >= 1" : "unknown format code");
        return -1;
    }
    return 0;
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
    if (check_args(window, fmt) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Scan s;
    memset(&s, 0, sizeof(s));
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = scan_block(&s, (const uint8_t *)view.buf, view.len, window, want_lines, fmt);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *result = NULL, *sk, *sp, *co, *uids;
    if (rc < 0)
        PyErr_NoMemory();
    else if (entry_lists(&s, 0, s.n_entries, &sk, &sp, &co) == 0) {
        if ((uids = uids_bytes(&s, want_lines)))
            result = Py_BuildValue("(NNNNni)", sk, sp, co, uids, s.n_lines, s.flags);
        else {
            Py_DECREF(sk);
            Py_DECREF(sp);
            Py_DECREF(co);
        }
    }
    scan_free(&s);
    return result;
}

/* Scanner: a table of skeletons that lives across blocks (see the module doc). */
typedef struct {
    PyObject_HEAD
    Scan s;
    Scan side[MAX_PARTS - 1];  /* the tables of the other parts of a block (threads > 1) */
    Py_ssize_t window;
    int want_lines, fmt, threads;
    int pending;   /* a block was scanned and is neither committed nor rolled back */
    int busy;      /* a scan runs (without the GIL) */
} Scanner;

static int
Scanner_init(Scanner *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"fmt", "window", "want_lines", "threads", NULL};
    int fmt = FMT_RAW, want_lines = 1, threads = 1;
    Py_ssize_t window = (Py_ssize_t)1 << 30;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|inpi:Scanner", kwlist, &fmt, &window, &want_lines, &threads))
        return -1;
    if (check_args(window, fmt) < 0)
        return -1;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the scanner is busy");
        return -1;
    }
    scan_free(&self->s);
    for (int k = 0; k < MAX_PARTS - 1; k++)
        scan_free(&self->side[k]);
    self->fmt = fmt;
    self->window = window;
    self->want_lines = want_lines;
    self->threads = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
    self->pending = 0;
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    scan_free(&self->s);
    for (int k = 0; k < MAX_PARTS - 1; k++)
        scan_free(&self->side[k]);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int
Scanner_ready(Scanner *self, int need_pending)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the scanner is busy in another thread");
        return -1;
    }
    if (self->pending != need_pending) {
        PyErr_SetString(PyExc_RuntimeError, need_pending ? "no block is pending (scan one first)"
                                                         : "a scanned block is pending: commit() or rollback() it first");
        return -1;
    }
    return 0;
}

static PyObject *
Scanner_scan(Scanner *self, PyObject *arg)
{
    Py_buffer view;
    if (Scanner_ready(self, 0) < 0 || PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    if (self->threads > 1)
        rc = scan_parallel(&self->s, self->side, self->threads, (const uint8_t *)view.buf, view.len, self->window,
                           self->want_lines, self->fmt);
    else
        rc = scan_block(&self->s, (const uint8_t *)view.buf, view.len, self->window, self->want_lines, self->fmt);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    PyBuffer_Release(&view);
    self->pending = 1;
    if (rc < 0) {
        rollback(&self->s);
        self->pending = 0;
        return PyErr_NoMemory();
    }
    PyObject *sk, *sp, *uids;
    Scan *s = &self->s;
    if (entry_lists(s, s->committed, s->n_entries, &sk, &sp, NULL) < 0)
        return NULL;
    if (!(uids = uids_bytes(s, self->want_lines))) {
        Py_DECREF(sk);
        Py_DECREF(sp);
        return NULL;
    }
    return Py_BuildValue("(nNNNni)", s->committed, sk, sp, uids, s->n_lines, s->flags);
}

static PyObject *
Scanner_commit(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    if (Scanner_ready(self, 1) < 0)
        return NULL;
    commit(&self->s);
    self->pending = 0;
    Py_RETURN_NONE;
}

static PyObject *
Scanner_rollback(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    if (Scanner_ready(self, 1) < 0)
        return NULL;
    self->pending = 0;
    if (rollback(&self->s) < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *
Scanner_counts(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    if (Scanner_ready(self, 0) < 0)
        return NULL;
    PyObject *out = PyList_New(self->s.committed);
    for (Py_ssize_t e = 0; out && e < self->s.committed; e++) {
        PyObject *count = PyLong_FromSsize_t(self->s.entries[e].count);
        if (!count) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, e, count);
    }
    return out;
}

static PyObject *
Scanner_clear(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    if (Scanner_ready(self, 0) < 0)
        return NULL;
    Chunk chunk = self->s.chunk;  /* the mask buffer stays */
    self->s.chunk = (Chunk){0};
    scan_free(&self->s);
    self->s.chunk = chunk;
    Py_RETURN_NONE;
}

static Py_ssize_t
Scanner_len(Scanner *self)
{
    return self->s.committed;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_O,
     "scan(block) -> (first, skeletons, spans, uids, lines, flags): the block's new skeletons (ids from first); "
     "the block is pending until commit() or rollback()."},
    {"commit", (PyCFunction)Scanner_commit, METH_NOARGS, "commit(): the pending block's lines count."},
    {"rollback", (PyCFunction)Scanner_rollback, METH_NOARGS,
     "rollback(): forget the pending block (its lines and the skeletons it added)."},
    {"counts", (PyCFunction)Scanner_counts, METH_NOARGS, "counts() -> list[int]: committed lines per skeleton id."},
    {"clear", (PyCFunction)Scanner_clear, METH_NOARGS, "clear(): forget every skeleton (ids restart at 0)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Scanner_slots[] = {
    {Py_tp_doc, "Scanner(fmt=0, window=2**30, want_lines=True, threads=1): distinct line skeletons across blocks."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Scanner_init},
    {Py_tp_dealloc, Scanner_dealloc},
    {Py_tp_methods, Scanner_methods},
    {Py_sq_length, Scanner_len},
    {0, NULL},
};

static PyType_Spec Scanner_spec = {
    "lumos.tools.logs._scan.Scanner", sizeof(Scanner), 0, Py_TPFLAGS_DEFAULT, Scanner_slots,
};

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

/* simd(flag=None) -> bool: whether the AVX2 classification is used; with a flag, switch it (on
 * only where the CPU has AVX2). For tests of the portable path. */
static PyObject *
py_simd(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *flag = Py_None;
    if (!PyArg_ParseTuple(args, "|O:simd", &flag))
        return NULL;
#ifdef HAVE_AVX2
    if (flag != Py_None) {
        int on = PyObject_IsTrue(flag);
        if (on < 0)
            return NULL;
        use_avx2 = on && __builtin_cpu_supports("avx2");
    }
    return PyBool_FromLong(use_avx2);
#else
    return PyBool_FromLong(0);
#endif
}

/* chunk_size(n=None) -> int: the chunk size in bytes (set it small in tests of chunk edges). */
static PyObject *
py_chunk_size(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_ssize_t size = 0;
    if (!PyArg_ParseTuple(args, "|n:chunk_size", &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "chunk size must be >= 1");
        return NULL;
    }
    if (size > 0)
        chunk_bytes = size;
    return PyLong_FromSsize_t(chunk_bytes);
}

/* part_size(n=None) -> int: the least bytes of a part scanned in a thread of its own (or set it). */
static PyObject *
py_part_size(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_ssize_t size = 0;
    if (!PyArg_ParseTuple(args, "|n:part_size", &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "part size must be >= 1");
        return NULL;
    }
    if (size > 0)
        part_min_bytes = size;
    return PyLong_FromSsize_t(part_min_bytes);
}

/* in_format(block, fmt) -> int: how many lines of the block are in format fmt (for detection). */
static PyObject *
py_in_format(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    int fmt;
    if (!PyArg_ParseTuple(args, "y*i:in_format", &view, &fmt))
        return NULL;
    if (check_args(1, fmt) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t hits;
    Py_BEGIN_ALLOW_THREADS
    hits = count_in_format(view.buf, view.len, fmt);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return hits < 0 ? PyErr_NoMemory() : PyLong_FromSsize_t(hits);
}

static PyMethodDef scan_methods[] = {
    {"in_format", py_in_format, METH_VARARGS, "in_format(block, fmt) -> int: lines of the block in format fmt."},
    {"simd", py_simd, METH_VARARGS, "simd(flag=None) -> bool: is (or switch) the AVX2 classification in use."},
    {"chunk_size", py_chunk_size, METH_VARARGS, "chunk_size(n=None) -> int: the chunk size in bytes (or set it)."},
    {"part_size", py_part_size, METH_VARARGS,
     "part_size(n=None) -> int: the least bytes of a block part scanned in its own thread (or set it)."},
    {"scan", (PyCFunction)(void (*)(void))py_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(block, window, want_lines=True, fmt=0) -> (skeletons, spans, counts, uids, lines, flags)\n\n"
     "Distinct line skeletons of one block in one pass; see the module source for the fields."},
    {"remap", py_remap, METH_VARARGS,
     "remap(uids, table) -> bytes: int32 table[uid] for every int32 uid."},
    {NULL, NULL, 0, NULL},
};

static int
scan_exec(PyObject *module)
{
    PyObject *scanner = PyType_FromModuleAndSpec(module, &Scanner_spec, NULL);
    if (!scanner)
        return -1;
    int rc = PyModule_AddObjectRef(module, "Scanner", scanner);
    Py_DECREF(scanner);
    return rc < 0
        || PyModule_AddIntConstant(module, "CONTROL", F_CONTROL) < 0
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
    init_classes();
    init_words();
    init_seed();
#ifdef HAVE_AVX2
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2");
#endif
    return PyModuleDef_Init(&scan_module);
}
