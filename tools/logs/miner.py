"""Streaming log template mining: group messages into templates with variables masked.

Three stages keep it fast and bounded:
1. a *skeleton* of the line (each token with a digit a marker byte, other words kept:
   `tokens.skeleton`, C-level regex passes per block) is looked up in a bounded cache: lines
   that differ only in tokens with digits (numbers, hex ids, IPs, durations: the bulk of any
   log) share a skeleton and mask to one key: the common path per line is one dict lookup,
   no regex (with the optional native scanner, one C pass per block finds the distinct
   skeletons, Python works per distinct skeleton only: `add_scan`/`count_scan`, see native);
2. for a new skeleton, masking (one regex) turns the line into a *key*; identical keys share
   a template through a second bounded cache;
3. a new key is matched against the clusters of the same token count and leading constant
   token (a Drain-style similarity search); the positions where a merged key differs
   become `<*>` in the cluster's template.

Template ids are a hash of the template text, so the same template gets the same id in
every run and on every machine. When a cluster's template generalises, its id changes; the
old id is kept as an alias (`resolve`).
"""

from __future__ import annotations

from collections import Counter
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter

from lumos.tools.logs import native
from lumos.tools.logs.masking import MASK_RE, WILDCARD
from lumos.tools.logs.template import MAX_EXAMPLES, Template, _Cluster, template_id
from lumos.tools.logs.tokens import similarity, skeleton, skeleton_lines, tokenize_key

__all__ = ["Template", "TemplateMiner", "skeleton", "skeleton_lines", "template_id", "tokenize_key"]

DEFAULT_SIMILARITY = 0.85
DEFAULT_CACHE_SIZE = 200_000
DEFAULT_SLOT_VALUES = 10
_FEW_MISSES = 32
_MAX_FAMILY_TOKENS = 40


class TemplateMiner:
    """Streaming template miner: `add(message)` returns the message's template id.

    Memory is bounded by the number of templates plus two caches of `cache_size` entries
    (cleared when full). Deterministic: the same messages in the same order give the same
    templates and ids.
    """

    def __init__(
        self,
        *,
        similarity: float = DEFAULT_SIMILARITY,
        cache_size: int = DEFAULT_CACHE_SIZE,
        slot_values: int = DEFAULT_SLOT_VALUES,
    ):
        self.similarity = similarity
        self.cache_size = cache_size
        self._clusters: list[_Cluster] = []
        self._buckets: dict[tuple[int, str], list[int]] = {}
        self._key_cache: dict[str, int] = {}
        self._skeleton_cache: dict[bytes, int] = {}
        self._aliases: dict[str, int] = {}
        self._redirect: dict[int, int] = {}
        self._families: dict[tuple, list[int]] = {}
        self.slot_values = slot_values

    # -- the slow path: one masked key -------------------------------------------------------

    def _bucket_key(self, tokens: list[str]) -> tuple[int, str]:
        first = tokens[0] if tokens else ""
        return (len(tokens), first)

    def _best(self, bucket: list[int], tokens: list[str]) -> tuple[int, float]:
        best, best_sim = -1, -1.0
        for idx in bucket:
            sim = similarity(self._clusters[idx].tokens, tokens)
            if sim > best_sim:
                best, best_sim = idx, sim
        return best, best_sim

    def _generalise(self, idx: int, tokens: list[str]) -> None:
        """Widen cluster `idx` so that it also covers `tokens` (differing positions -> `<*>`)."""
        cluster = self._clusters[idx]
        merged = [a if a == b else WILDCARD for a, b in zip(cluster.tokens, tokens)]
        if merged != cluster.tokens:
            self._aliases[cluster.id] = idx
            cluster.tokens = merged
            cluster.text = " ".join(merged)
            cluster.id = template_id(cluster.text)

    def _match(self, key: str) -> int:
        """Find or create the cluster for a masked key; returns the cluster index."""
        tokens = tokenize_key(key)
        bucket_key = self._bucket_key(tokens)
        best, best_sim = self._best(self._buckets.get(bucket_key, []), tokens)
        if best_sim < self.similarity and bucket_key[1] != WILDCARD:
            best, best_sim = self._best(self._buckets.get((len(tokens), WILDCARD), []), tokens)
        if best >= 0 and best_sim >= self.similarity:
            self._generalise(best, tokens)
            cluster = self._clusters[best]
            if len(cluster.examples) < MAX_EXAMPLES:
                cluster.examples.append(key[:500])
            return best
        idx = len(self._clusters)
        self._clusters.append(_Cluster(tokens, key))
        self._buckets.setdefault(bucket_key, []).append(idx)
        return self._join_slot_family(idx, tokens)

    def _join_slot_family(self, idx: int, tokens: list[str]) -> int:
        """Record a new cluster in its one-slot families; when the clusters that differ only
        in one slot reach `slot_values` distinct values, that slot is a variable (user and host
        names, which carry no digit): they merge into one cluster with `<*>` there."""
        if len(tokens) > _MAX_FAMILY_TOKENS:
            return idx
        if len(self._families) >= self.cache_size:
            self._families.clear()  # bounded memory; families re-form from new clusters
        for pos, tok in enumerate(tokens):
            if tok == WILDCARD or WILDCARD in tok:
                continue
            signature = (pos, tuple(tokens[:pos]), tuple(tokens[pos + 1:]))
            family = self._families.setdefault(signature, [])
            family.append(idx)
            live = sorted({self.final_index(i) for i in family})
            if len(live) >= self.slot_values:
                target = live[0]
                if len(self._clusters[target].tokens) == len(tokens):
                    widened = list(self._clusters[target].tokens)
                    widened[pos] = WILDCARD
                    self._generalise(target, widened)
                    for other in live[1:]:
                        self._merge_into(other, target)
                    del self._families[signature]
                    return self.final_index(idx)
        return idx

    def _merge_into(self, source: int, target: int) -> None:
        """Fold cluster `source` into `target` (counts, cache entries, aliases)."""
        src, dst = self._clusters[source], self._clusters[target]
        dst.count += src.count
        src.count = 0
        self._aliases[src.id] = target
        self._redirect[source] = target
        for bucket in self._buckets.values():
            if source in bucket:
                bucket.remove(source)
        for cache in (self._key_cache, self._skeleton_cache):
            for k, v in cache.items():
                if v == source:
                    cache[k] = target

    def finalize(self, indices: Sequence[int]) -> array:
        """Map cluster indices returned earlier to the live clusters they were merged into."""
        if not self._redirect:
            return indices if isinstance(indices, array) else array("i", indices)
        table = [self.final_index(i) for i in range(len(self._clusters))] + [-1]  # table[-1] == -1
        return array("i", map(table.__getitem__, indices))

    def final_index(self, cluster_index: int) -> int:
        """The live cluster a (possibly merged) cluster index now belongs to."""
        while cluster_index in self._redirect:
            cluster_index = self._redirect[cluster_index]
        return cluster_index

    def _index_message(self, message: str) -> int:
        """Cluster index of one message through the key cache (no counting)."""
        key = MASK_RE.sub(WILDCARD, message)
        idx = self._key_cache.get(key)
        if idx is None:
            idx = self._match(key)
            if len(self._key_cache) >= self.cache_size:
                self._key_cache.clear()
            self._key_cache[key] = idx
        return idx

    def _index_line(self, skeleton: bytes, line: bytes) -> int:
        idx = self._skeleton_cache.get(skeleton)
        if idx is None:
            idx = self._index_message(line.decode("utf-8", "replace"))
            if len(self._skeleton_cache) >= self.cache_size:
                self._skeleton_cache.clear()
            self._skeleton_cache[skeleton] = idx
        return idx

    # -- public API ----------------------------------------------------------------------------

    def add(self, message: str) -> str:
        """Add one message; returns the id of its template as it stands now."""
        line = message.replace("\n", " ").encode("utf-8", "replace")
        idx = self._index_line(skeleton(line), line)
        cluster = self._clusters[self.final_index(idx)]
        cluster.count += 1
        return cluster.id

    def add_block(self, block: bytes, *, count: bool = True, skeletons: list[bytes] | None = None) -> list[int]:
        """Add every line of a block of newline-separated UTF-8 lines (no trailing newline);
        returns one cluster index per line (the fast path: C-level work per line).
        `skeletons` may pass `skeleton_lines(block)` when the caller already computed it;
        without it the native scanner is used when available (same result)."""
        if skeletons is None:
            if native.enabled():
                return self.add_scan(block, native.scan_block(block), count=count).tolist()
            skeletons = skeleton_lines(block)
        cache = self._skeleton_cache
        try:  # the common case, every skeleton known: one C-level lookup pass, no None scan
            found = itemgetter(*skeletons)(cache)
            out = list(found) if len(skeletons) > 1 else [found]
        except KeyError:
            out = self._resolve_block(block, skeletons)
        if count:
            self.count(out)
        return out

    def _resolve_block(self, block: bytes, skeletons: list[bytes]) -> list[int]:
        """Cluster index per line of a block in which some skeletons are new."""
        cache = self._skeleton_cache
        out = list(map(cache.get, skeletons))
        if None in out:
            # resolve each new skeleton once, through its first line, in order of first
            # appearance (deterministic); then look the whole block up again (C-level)
            lines = block.split(b"\n")
            index = self._index_line
            for i in self._first_positions(skeletons, set(skeletons).difference(cache)):
                index(skeletons[i], lines[i])
            out = self._lookup_lines(skeletons, lines)
        return out

    def _lookup_lines(self, skeletons: list[bytes], lines: list[bytes]) -> list[int]:
        """Cluster index per line once the new skeletons were resolved; a line whose skeleton
        left the cache (cleared while resolving, bounded memory) is resolved again."""
        out = list(map(self._skeleton_cache.get, skeletons))
        if None in out:
            index = self._index_line
            out = [index(sk, ln) if i is None else i for sk, ln, i in zip(skeletons, lines, out)]
        return out

    def _scan_table(self, block: native.BytesLike, scan: native.BlockScan) -> list[int | None]:
        """Cluster index of each distinct skeleton of a native scan (C-level lookups), the new
        ones resolved first, once each, through their first line, in order of first appearance
        (as the pure-Python path does); None where the cache was cleared while resolving."""
        get = self._skeleton_cache.get
        table = list(map(get, scan.skeletons))
        if None in table:
            for i in [i for i, idx in enumerate(table) if idx is None]:
                start, end = scan.spans[i]
                self._index_line(scan.skeletons[i], bytes(block[start:end]))
            table = list(map(get, scan.skeletons))
        return table

    def _add_counts(self, table: Sequence[int], counts: Sequence[int]) -> None:
        """Add `counts[i]` lines to the live cluster of `table[i]` (summed per cluster first)."""
        clusters = self._clusters
        sums: dict[int, int] = {}  # per distinct cluster: cost follows the block, not the template count
        for idx, n in zip(table, counts):
            sums[idx] = sums.get(idx, 0) + n
        for idx, n in sums.items():
            clusters[self.final_index(idx)].count += n

    def add_scan(self, block: native.BytesLike, scan: native.BlockScan, *, count: bool = True) -> array:
        """`add_block` for a block already scanned natively (`native.scan_block` with
        `want_lines`): Python work per distinct skeleton only; array('i') of cluster indices."""
        if scan.uids is None:
            raise ValueError("add_scan needs a scan with per-line indices (want_lines=True)")
        table = self._scan_table(block, scan)
        if None in table:  # the cache was cleared while resolving: the exact per-line path
            block = bytes(block)
            out = array("i", self._lookup_lines(skeleton_lines(block), block.split(b"\n")))
            if count:
                self.count(out)
            return out
        if count:
            self._add_counts(table, scan.counts)  # type: ignore[arg-type]  # no None left
        return native.remap(scan.uids, table)

    def count_block(self, block: bytes, *, skeletons: list[bytes] | None = None) -> int:
        """Like `add_block` but only counts (no per-line result): one Counter over the skeletons
        and work per distinct skeleton only. Returns the number of lines."""
        if skeletons is None:
            if native.enabled():
                return self.count_scan(block, native.scan_block(block, want_lines=False))
            skeletons = skeleton_lines(block)
        counts = Counter(skeletons)
        cache = self._skeleton_cache
        missing = [sk for sk in counts if sk not in cache]
        lines: list[bytes] | None = None
        if missing:
            lines = block.split(b"\n")
            for i in self._first_positions(skeletons, set(missing)):
                self._index_line(skeletons[i], lines[i])
        clusters = self._clusters
        for sk, n in counts.items():
            idx = cache.get(sk)
            if idx is None:  # the cache was cleared while resolving (bounded memory)
                if lines is None:
                    lines = block.split(b"\n")
                idx = self._index_line(sk, lines[skeletons.index(sk)])
            clusters[self.final_index(idx)].count += n
        return len(skeletons)

    def count_scan(self, block: native.BytesLike, scan: native.BlockScan) -> int:
        """`count_block` for a block already scanned natively; returns the number of lines."""
        table = self._scan_table(block, scan)
        if None in table:  # the cache was cleared while resolving (bounded memory): one by one
            cache = self._skeleton_cache
            for i, (sk, (start, end)) in enumerate(zip(scan.skeletons, scan.spans)):
                idx = cache.get(sk)
                table[i] = self._index_line(sk, bytes(block[start:end])) if idx is None else idx
        self._add_counts(table, scan.counts)  # type: ignore[arg-type]  # no None left
        return scan.lines

    def _first_positions(self, skeletons: list[bytes], missing: set[bytes]) -> list[int]:
        """Sorted first positions of the `missing` skeletons in the block (C-level scans when few)."""
        if len(missing) <= _FEW_MISSES:
            return sorted(skeletons.index(sk) for sk in missing)
        # C-level: filling a dict from the end leaves each skeleton's first position
        n = len(skeletons)
        position = dict(zip(reversed(skeletons), range(n - 1, -1, -1)))
        return sorted(position[sk] for sk in missing)

    def absorb(self, template_text: str, count: int, examples: Sequence[str] = ()) -> int:
        """Merge a template mined elsewhere (another miner, another process) into this one:
        its text is matched like a masked key; returns the cluster index it joined."""
        idx = self._key_cache.get(template_text)
        if idx is None:
            idx = self._match(template_text)
            if len(self._key_cache) >= self.cache_size:
                self._key_cache.clear()
            self._key_cache[template_text] = idx
        cluster = self._clusters[self.final_index(idx)]
        cluster.count += count
        for example in examples:
            if len(cluster.examples) >= MAX_EXAMPLES:
                break
            if example not in cluster.examples:
                cluster.examples.append(example)
        return idx

    def export(self) -> list[tuple[int, str, int, list[str]]]:
        """(cluster index, template text, count, examples) of every live cluster, in creation
        order, and via `final_index` the live cluster of any merged one (for `absorb`)."""
        return [(i, c.text, c.count, list(c.examples)) for i, c in enumerate(self._clusters)
                if self.final_index(i) == i]

    def count(self, indices: Iterable[int]) -> None:
        """Add line counts for cluster indices returned by `add_block(..., count=False)`."""
        clusters = self._clusters
        for idx, n in Counter(indices).items():
            clusters[self.final_index(idx)].count += n

    def add_many(self, messages: Sequence[str]) -> list[int]:
        """Add many messages as one block; returns one cluster index per message."""
        if not messages:
            return []
        block = "\n".join(m.replace("\n", " ") for m in messages).encode("utf-8", "replace")
        return list(self.finalize(self.add_block(block)))

    def id_of(self, cluster_index: int) -> str:
        """The current template id of a cluster index returned by `add_block`/`add_many`."""
        return self._clusters[self.final_index(cluster_index)].id

    def resolve(self, template_id_: str) -> str:
        """The current id of a template id returned earlier (templates generalise while mining)."""
        seen: set[str] = set()
        while template_id_ in self._aliases and template_id_ not in seen:
            seen.add(template_id_)
            current = self._clusters[self.final_index(self._aliases[template_id_])].id
            if current == template_id_:
                break
            template_id_ = current
        return template_id_

    def match(self, message: str) -> Template | None:
        """The template a message would join, without adding it (None if it would be new)."""
        key = MASK_RE.sub(WILDCARD, message)
        idx = self._key_cache.get(key)
        if idx is None:
            tokens = tokenize_key(key)
            for i in self._buckets.get(self._bucket_key(tokens), []):
                if similarity(self._clusters[i].tokens, tokens) >= self.similarity:
                    idx = i
                    break
        return None if idx is None else self._snapshot(self.final_index(idx))

    def template(self, cluster_index: int) -> Template:
        """The template a cluster index (from `add_block`/`add_many`) belongs to now."""
        return self._snapshot(self.final_index(cluster_index))

    def _snapshot(self, idx: int) -> Template:
        c = self._clusters[idx]
        return Template(id=c.id, text=c.text, count=c.count, examples=list(c.examples))

    def templates(self) -> list[Template]:
        """All templates with at least one line, most frequent first (ties by text)."""
        order = sorted(range(len(self._clusters)), key=lambda i: (-self._clusters[i].count, self._clusters[i].text))
        return [self._snapshot(i) for i in order if self._clusters[i].count > 0]

    def __len__(self) -> int:
        return len(self._clusters)
