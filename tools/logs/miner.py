"""Log template mining: group messages into templates with their variables as `<*>`.

Two stages keep it fast and independent of line order:
1. each line becomes a masked *key* (`masking.mask`: only universally variable parts are
   masked). Lines are looked up by their *skeleton* (`tokens.skeleton`, C-level regex passes
   per block, or one pass of the optional native scanner), which masks to the same key, so
   the common path per line is one dict lookup and Python works per distinct skeleton only;
2. the distinct keys are grouped into templates (`grouping.group_keys`) when templates are
   asked for, from the set of keys alone: the same lines in any order, in any block sizes or
   mined by any number of processes give the same templates, counts and ids.

Per-line results are *key indices* (stable while mining); `id_of`/`template` map them to the
template they belong to now. Template ids are a hash of the template text, so the same
template gets the same id in every run and on every machine.

Files go through a `ScanFeed` where the native scanner is built: the scanner keeps the distinct
skeletons of all blocks, so Python sees each skeleton once and computes its key from the
skeleton itself (`masking.keys_of_skeletons`, one regex pass per block over the new ones).

Memory: every distinct key is kept (the grouping needs the whole set), about 1 KB for an
80-character key with its tokens and count, so it grows with the number of distinct masked
lines, not of lines; the skeleton caches (the dict here, the native scanner's table) are
bounded and cleared when full.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter

from lumos.tools.logs import native
from lumos.tools.logs.grouping import GroupingParams, group_keys, render
from lumos.tools.logs.masking import WILDCARD, keys_of_skeletons, mask
from lumos.tools.logs.template import MAX_EXAMPLES, Template, template_id
from lumos.tools.logs.tokens import skeleton, skeleton_lines, tokenize_key

__all__ = ["ScanFeed", "Template", "TemplateMiner", "skeleton", "skeleton_lines", "template_id", "tokenize_key"]

DEFAULT_CACHE_SIZE = 200_000
_FEW_MISSES = 32


class _Solution:
    """Templates of one set of keys: the template index of each key, and the templates."""

    __slots__ = ("of_key", "texts", "ids", "members")

    def __init__(self, keys: list[tuple[str, ...]], params: GroupingParams):
        grouped = group_keys(keys, params)
        by_template: dict[tuple[str, ...], list[int]] = {}
        for i, key in enumerate(keys):
            by_template.setdefault(grouped[key], []).append(i)
        index: dict[str, int] = {}
        self.of_key = [0] * len(keys)
        self.texts: list[str] = []
        self.members: list[list[int]] = []
        for template, members in by_template.items():
            text = render(template, [keys[i] for i in members])
            t = index.get(text)
            if t is None:  # two groups may render alike: one template
                t = index[text] = len(self.texts)
                self.texts.append(text)
                self.members.append([])
            self.members[t].extend(members)
            for i in members:
                self.of_key[i] = t
        self.ids = [template_id(text) for text in self.texts]


class TemplateMiner:
    """Template miner: add lines (`add`, `add_many`, `add_block`...), then ask for templates.

    Deterministic and order-independent: the templates depend only on the set of distinct
    masked keys seen, their counts only on how many lines each key had.
    """

    def __init__(self, *, cache_size: int = DEFAULT_CACHE_SIZE, params: GroupingParams | None = None):
        self.cache_size = cache_size
        self.params = params or GroupingParams()
        self._key_index: dict[str, int] = {}
        self._keys: list[str] = []
        self._tokens: list[tuple[str, ...]] = []
        self._counts: list[int] = []
        self._skeleton_cache: dict[bytes, int] = {}
        self._issued: dict[str, int] = {}  # template id returned by `add` -> a key index
        self._solution: _Solution | None = None

    # -- keys ----------------------------------------------------------------------------------

    def add_key(self, key: str, count: int = 0) -> int:
        """The index of a masked key (added when new), with `count` more lines."""
        idx = self._key_index.get(key)
        if idx is None:
            idx = self._key_index[key] = len(self._keys)
            self._keys.append(key)
            self._tokens.append(tokenize_key(key))
            self._counts.append(0)
            self._solution = None
        self._counts[idx] += count
        return idx

    def add_keys(self, keys: Iterable[str]) -> list[int]:
        """`add_key` for many keys (no lines counted): their indices."""
        index, out = self._key_index, []
        for key in keys:
            idx = index.get(key)
            if idx is None:
                idx = index[key] = len(self._keys)
                self._keys.append(key)
                self._tokens.append(tokenize_key(key))
                self._counts.append(0)
                self._solution = None
            out.append(idx)
        return out

    def keys(self) -> list[tuple[str, int]]:
        """(masked key, line count) of every key, by key index (to merge miners: `add_key`)."""
        return list(zip(self._keys, self._counts))

    def _index_line(self, skel: bytes, line: bytes) -> int:
        idx = self._skeleton_cache.get(skel)
        if idx is None:
            idx = self.add_key(mask(line.decode("utf-8", "replace")))
            if len(self._skeleton_cache) >= self.cache_size:
                self._skeleton_cache.clear()
            self._skeleton_cache[skel] = idx
        return idx

    # -- templates -----------------------------------------------------------------------------

    def _solved(self) -> _Solution:
        if self._solution is None:
            self._solution = _Solution(self._tokens, self.params)
        return self._solution

    def id_of(self, key_index: int) -> str:
        """The current template id of a key index returned by `add_block`/`add_many`."""
        solution = self._solved()
        return solution.ids[solution.of_key[key_index]]

    def template_ids(self) -> list[str]:
        """The template id of every key index (index -> id), for per-line assignments."""
        solution = self._solved()
        return [solution.ids[t] for t in solution.of_key]

    def template(self, key_index: int) -> Template:
        """The template a key index (from `add_block`/`add_many`) belongs to now."""
        solution = self._solved()
        return self._snapshot(solution, solution.of_key[key_index])

    def _snapshot(self, solution: _Solution, t: int) -> Template:
        members = solution.members[t]
        counts = self._counts
        examples = sorted(members, key=lambda i: (-counts[i], self._keys[i]))[:MAX_EXAMPLES]
        return Template(id=solution.ids[t], text=solution.texts[t], count=sum(counts[i] for i in members),
                        examples=[self._keys[i][:500] for i in examples])

    def templates(self) -> list[Template]:
        """All templates with at least one line, most frequent first (ties by text)."""
        solution = self._solved()
        out = [self._snapshot(solution, t) for t in range(len(solution.texts))]
        return sorted((t for t in out if t.count > 0), key=lambda t: (-t.count, t.text))

    def resolve(self, template_id_: str) -> str:
        """The current id of a template id returned earlier by `add`."""
        idx = self._issued.get(template_id_)
        return template_id_ if idx is None else self.id_of(idx)

    def match(self, message: str) -> Template | None:
        """The template a message would join, without adding it (None if it would be new):
        a known key's template, or a template of the same length whose constants it has."""
        key = mask(message.replace("\n", " "))
        solution = self._solved()
        idx = self._key_index.get(key)
        if idx is not None:
            return self._snapshot(solution, solution.of_key[idx])
        tokens = tokenize_key(key)
        for t, text in enumerate(solution.texts):
            words = text.split()
            if len(words) == len(tokens) and all(_fits(w, tok) for w, tok in zip(words, tokens)):
                return self._snapshot(solution, t)
        return None

    # -- adding lines --------------------------------------------------------------------------

    def add(self, message: str) -> str:
        """Add one message; returns the id of its template as it stands now (`resolve` maps
        it to the current one later: templates change as keys arrive)."""
        line = message.replace("\n", " ").encode("utf-8", "replace")
        idx = self._index_line(skeleton(line), line)
        self._counts[idx] += 1
        tid = self.id_of(idx)
        self._issued[tid] = idx
        return tid

    def add_many(self, messages: Sequence[str]) -> list[int]:
        """Add many messages as one block; returns one key index per message."""
        if not messages:
            return []
        block = "\n".join(m.replace("\n", " ") for m in messages).encode("utf-8", "replace")
        return list(self.add_block(block))

    def add_block(self, block: bytes, *, count: bool = True, skeletons: list[bytes] | None = None) -> list[int]:
        """Add every line of a block of newline-separated UTF-8 lines (no trailing newline);
        returns one key index per line. `skeletons` may pass `skeleton_lines(block)` when the
        caller already has it; without it the native scanner is used when available."""
        if skeletons is None:
            if native.enabled():
                return self.add_scan(block, native.scan_block(block), count=count).tolist()
            skeletons = skeleton_lines(block)
        cache = self._skeleton_cache
        try:  # the common case, every skeleton known: one C-level lookup pass
            found = itemgetter(*skeletons)(cache)
            out = list(found) if len(skeletons) > 1 else [found]
        except KeyError:
            out = self._resolve_block(block, skeletons)
        if count:
            self.count(out)
        return out

    def _resolve_block(self, block: bytes, skeletons: list[bytes]) -> list[int]:
        """Key index per line of a block in which some skeletons are new."""
        cache = self._skeleton_cache
        lines = block.split(b"\n")
        for i in self._first_positions(skeletons, set(skeletons).difference(cache)):
            self._index_line(skeletons[i], lines[i])
        return self._lookup_lines(skeletons, lines)

    def _lookup_lines(self, skeletons: list[bytes], lines: list[bytes]) -> list[int]:
        """Key index per line once the new skeletons were resolved; a line whose skeleton
        left the cache (cleared while resolving, bounded memory) is resolved again."""
        out = list(map(self._skeleton_cache.get, skeletons))
        if None in out:
            index = self._index_line
            out = [index(sk, ln) if i is None else i for sk, ln, i in zip(skeletons, lines, out)]
        return out

    def _scan_table(self, block: native.BytesLike, scan: native.BlockScan) -> list[int]:
        """Key index of each distinct skeleton of a native scan (C-level lookups; new ones
        resolved through their first line)."""
        get = self._skeleton_cache.get
        table = list(map(get, scan.skeletons))
        if None in table:
            for i, idx in enumerate(table):
                if idx is None:
                    start, end = scan.spans[i]
                    table[i] = self._index_line(scan.skeletons[i], bytes(block[start:end]))
        return table  # type: ignore[return-value]  # no None left

    def add_scan(self, block: native.BytesLike, scan: native.BlockScan, *, count: bool = True) -> array:
        """`add_block` for a block already scanned natively (`native.scan_block` with
        `want_lines`): Python work per distinct skeleton only; array('i') of key indices."""
        if scan.uids is None:
            raise ValueError("add_scan needs a scan with per-line indices (want_lines=True)")
        table = self._scan_table(block, scan)
        if count:
            self._add_counts(table, scan.counts)
        return native.remap(scan.uids, table)

    def count_scan(self, block: native.BytesLike, scan: native.BlockScan) -> int:
        """`count_block` for a block already scanned natively; returns the number of lines."""
        self._add_counts(self._scan_table(block, scan), scan.counts)
        return scan.lines

    def count_block(self, block: bytes, *, skeletons: list[bytes] | None = None) -> int:
        """Like `add_block` but only counts (no per-line result): one Counter over the
        skeletons and work per distinct skeleton only. Returns the number of lines."""
        if skeletons is None:
            if native.enabled():
                return self.count_scan(block, native.scan_block(block, want_lines=False))
            skeletons = skeleton_lines(block)
        counts = Counter(skeletons)
        cache = self._skeleton_cache
        missing = {sk for sk in counts if sk not in cache}
        lines = block.split(b"\n") if missing else []
        for i in self._first_positions(skeletons, missing):
            self._index_line(skeletons[i], lines[i])
        table = list(map(cache.get, counts))
        if None in table:  # the cache was cleared while resolving (bounded memory)
            lines = lines or block.split(b"\n")
            table = [self._index_line(sk, lines[skeletons.index(sk)]) if i is None else i for sk, i in zip(counts, table)]
        self._add_counts(table, counts.values())
        return len(skeletons)

    def _add_counts(self, table: Iterable[int], counts: Iterable[int]) -> None:
        key_counts = self._counts
        for idx, n in zip(table, counts):
            key_counts[idx] += n

    def count(self, indices: Iterable[int]) -> None:
        """Add line counts for key indices returned by `add_block(..., count=False)`."""
        key_counts = self._counts
        for idx, n in Counter(indices).items():
            key_counts[idx] += n

    def _first_positions(self, skeletons: list[bytes], missing: set[bytes]) -> list[int]:
        """Sorted first positions of the `missing` skeletons in the block."""
        if len(missing) <= _FEW_MISSES:
            return sorted(skeletons.index(sk) for sk in missing)
        n = len(skeletons)  # C-level: filling a dict from the end leaves each first position
        position = dict(zip(reversed(skeletons), range(n - 1, -1, -1)))
        return sorted(position[sk] for sk in missing)

    def __len__(self) -> int:
        """The number of distinct keys (the range of key indices)."""
        return len(self._keys)


def _fits(word: str, token: str) -> bool:
    """Whether a key token fits a template word (`<*>` fits anything; `user=<*>` fits `user=x`)."""
    if WILDCARD not in word:
        return word == token
    head, _, tail = word.partition(WILDCARD)
    return token.startswith(head) and token.endswith(tail) and len(token) >= len(head) + len(tail)


class ScanFeed:
    """Blocks scanned by one native `Scanner` into a miner: the scanner keeps every skeleton it
    has seen across blocks and returns only new ones, so Python works once per skeleton.

    Use: `native.scan_blocks(feed.scanner, blocks)`, then `accept(scan)` a clean block or
    `reject()` it (then mine its lines another way), and `flush()` at the end: line counts are
    kept in the scanner until then.
    """

    def __init__(self, miner: TemplateMiner, fmt: int = 0, window: int = 1 << 30, want_lines: bool = True,
                 threads: int = 1):
        self.miner = miner
        self.scanner = native.new_scanner(fmt, window, want_lines, threads)
        self.max_skeletons = miner.cache_size  # as many as the miner's own skeleton cache
        self._table = array("i")  # skeleton id -> key index

    def accept(self, scan: native.PendingScan) -> array | None:
        """Count a clean scanned block; the key index of each of its lines (when the scanner
        keeps lines), as array('i')."""
        if scan.skeletons:
            self._table.extend(self.miner.add_keys(keys_of_skeletons(scan.skeletons)))
        self.scanner.commit()
        out = native.remap(scan.uids, self._table) if scan.uids is not None else None
        if len(self._table) > self.max_skeletons:  # bounded memory: counts to the miner, table cleared
            self.flush()
        return out

    def reject(self) -> None:
        """Forget the scanned block (its lines are mined another way)."""
        self.scanner.rollback()

    def flush(self) -> None:
        """Add the counted lines to the miner's keys and clear the scanner's table."""
        self.miner._add_counts(self._table, self.scanner.counts())
        self.scanner.clear()
        self._table = array("i")
