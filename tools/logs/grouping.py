"""Group masked log keys into templates, finding the variable positions from the data.

Input: the distinct masked keys of a log (token tuples, `tokens.tokenize_key`). Output: one
template (a token tuple with `<*>` at variable positions) per key. The result depends only on
the *set* of keys, never on their order or on how often each occurred, so the same lines in
any order, or mined by any number of processes, give the same templates.

Method (in the spirit of Brain, Yu et al. 2023; this is its own, simpler implementation):
1. keys are grouped by token count;
2. within a length group, each key's *pattern* is the set of its (position, token) pairs
   whose frequency (number of keys with that token there) is the frequency most of its
   tokens share, plus every more frequent token: the tokens of one template's constant part
   occur together, so they share a frequency; keys with the same pattern form a group;
3. within a group, a position holding more than one value is a variable when any of these
   holds, and otherwise a constant that splits the group (different events):
   * one of its values is `<*>` (a token that is sometimes masked is a value);
   * all its values are `key=value` pairs of one key (a field's value);
   * it takes more than `max_constants` values;
   * at least half of its values (and at least two) also occur in keys outside the group,
     while occurring in at most `max_shared_share` of all keys: names of users, hosts,
     programs or files recur across events, while the words that tell events apart are
     specific to their event (and function words, which occur everywhere, prove nothing).

The two numbers are chosen on data: see `benchmarks/logs_accuracy.py`, which reports the
leave-one-system-out figure of that choice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from os.path import commonprefix

from lumos.tools.logs.masking import WILDCARD

__all__ = ["GroupingParams", "group_keys", "render"]

Key = tuple[str, ...]


class GroupingParams:
    """The threshold of `group_keys` (the default chosen by leave-one-system-out on Loghub);
    immutable (a plain class: the mining path does not import dataclasses)."""

    __slots__ = ("max_constants",)

    def __init__(self, max_constants: int = 10):
        object.__setattr__(self, "max_constants", max_constants)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"GroupingParams is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupingParams) and other.max_constants == self.max_constants

    def __hash__(self) -> int:
        return hash(self.max_constants)

    def __repr__(self) -> str:
        return f"GroupingParams(max_constants={self.max_constants})"


DEFAULT_PARAMS = GroupingParams()


def group_keys(keys: Iterable[Key], params: GroupingParams = DEFAULT_PARAMS) -> dict[Key, Key]:
    """The template of every distinct key (see the module doc). Every step depends on the set
    of keys only (counts, sets, and a template taken from any member of its event), so the
    keys need no sorting."""
    by_length: dict[int, list[Key]] = defaultdict(list)
    for key in set(keys):
        by_length[len(key)].append(key)
    groups: list[list[Key]] = []
    out: dict[Key, Key] = {}
    for length, same_length in by_length.items():
        if length <= 1:
            out.update((key, key) for key in same_length)
        else:
            groups.extend(_patterns(same_length))
    columns = [[set(column) for column in zip(*members)] if len(members) > 1 else [] for members in groups]
    varying = [set().union(*(values for values in cols if len(values) > 1)) for cols in columns]
    seen_varying = Counter(tok for values in varying for tok in values)  # in how many groups
    for members, cols, own in zip(groups, columns, varying):
        def recurs(tok: str, own: set[str] = own) -> bool:
            return seen_varying[tok] > (tok in own)
        _split(members, cols, params, recurs, out)
    return out


def _patterns(group: list[Key]) -> list[list[Key]]:
    """Keys of one length grouped by their frequency pattern (step 2 of the module doc)."""
    freq = [Counter(column) for column in zip(*group)]
    for f in freq:
        if WILDCARD in f:
            f[WILDCARD] = 0  # a wildcard is no pattern token
    patterns: dict[tuple, list[Key]] = defaultdict(list)
    get = dict.__getitem__
    tops: dict[tuple[int, ...], int] = {}  # keys of one event mostly share their frequencies
    for key in group:
        fs = tuple(map(get, freq, key))
        top = tops.get(fs)
        if top is None:
            live = [f for f in fs if f]
            top = tops[fs] = max(set(live), key=lambda f: (live.count(f), f)) if live else 1
        patterns[tuple([tok if f >= top else None for f, tok in zip(fs, key)])].append(key)
    return list(patterns.values())


def _is_variable(values: set[str], params: GroupingParams, recurs: Callable[[str], bool]) -> bool:
    """Whether a position holding these values (more than one) is a variable (step 3)."""
    if WILDCARD in values:
        return True
    names = {v.split("=", 1)[0] for v in values}
    if len(names) == 1 and all("=" in v[1:] for v in values):
        return True
    if len(values) > params.max_constants:
        return True
    recurring = sum(1 for v in values if recurs(v))
    return recurring >= max(2, len(values) / 2)


def _split(members: list[Key], columns: list[set[str]], params: GroupingParams, recurs: Callable[[str], bool],
           out: dict[Key, Key]) -> None:
    """Assign a template to every key of one pattern group, given the set of values at each of
    its positions (step 3 of the module doc)."""
    if len(members) == 1:
        out[members[0]] = members[0]
        return
    varying = [p for p, values in enumerate(columns) if len(values) > 1]
    variable = {p for p in varying if _is_variable(columns[p], params, recurs)}
    constant = [p for p in varying if p not in variable]
    events: dict[tuple, list[Key]] = defaultdict(list)
    for key in members:
        events[tuple([key[p] for p in constant])].append(key)
    for keys in events.values():
        template = tuple([WILDCARD if p in variable else tok for p, tok in enumerate(keys[0])])
        for key in keys:
            out[key] = template


def render(template: Key, keys: Sequence[Key]) -> str:
    """The text of a template: at a variable position, the prefix and suffix that all of its
    values share up to punctuation are kept (`user=<*>`, `blk_<*>`)."""
    words = []
    for p, tok in enumerate(template):
        if tok == WILDCARD:
            tok = _common_shape([key[p] for key in keys])
        words.append(tok)
    return " ".join(words)


def _common_shape(values: Sequence[str]) -> str:
    """`<*>` with the prefix and suffix shared by every value (cut after/before punctuation)."""
    if WILDCARD in values:
        return WILDCARD
    first = values[0]
    n = min(map(len, values))
    pre = len(commonprefix(values))  # C-level: compares the smallest and largest value
    while pre and first[pre - 1].isalnum():
        pre -= 1
    suf = min(len(commonprefix([v[::-1] for v in values])), n - pre)
    while suf and first[len(first) - suf].isalnum():
        suf -= 1
    if WILDCARD in first[:pre] or WILDCARD in first[len(first) - suf:]:
        return WILDCARD
    return first[:pre] + WILDCARD + (first[len(first) - suf:] if suf else "")
