"""A small Okapi BM25 scorer and the tokenizer it uses (no dependencies)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or so that the their then there this to was were "
    "will with without not no than when which who why how what into onto after before while".split()
)


def stem(word: str) -> str:
    """A deliberately light suffix stripper: 'crashing'/'crashes'/'crashed' -> 'crash', 'caches' -> 'cach'."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6:
        word = word[:-3]
    elif word.endswith("ed") and len(word) >= 5:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, lightly stemmed; '_', '-' and camelCase split words
    ('CPUThrottlingHigh' -> cpu throttl high)."""
    spaced = _CAMEL.sub(" ", text).replace("_", " ").lower()
    return [stem(w) for w in _WORD.findall(spaced) if w not in STOPWORDS]


class BM25:
    """Okapi BM25 over a fixed list of token lists (k1, b as usual)."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.4, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self._tf = [Counter(doc) for doc in documents]
        self._len = [len(doc) for doc in documents]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(documents)
        self._idf = {term: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for term, d in df.items()}

    def score(self, query: Sequence[str], index: int) -> float:
        """BM25 score of document `index` for the query tokens."""
        tf = self._tf[index]
        norm = self.k1 * (1.0 - self.b + self.b * (self._len[index] / self._avg if self._avg else 1.0))
        total = 0.0
        for term in set(query):
            freq = tf.get(term, 0)
            if freq:
                total += self._idf[term] * freq * (self.k1 + 1.0) / (freq + norm)
        return total
