"""Runbook retrieval: the `RunbookIndex` interface and its lexical (BM25) implementation.

`lumos.tools.runbooks.vector.ChromaRunbookIndex` implements the same protocol; callers only see
`search(text, fault_types=..., service_kind=..., k=...) -> list[RunbookMatch]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from lumos.tools.domain import FaultType, Runbook
from lumos.tools.runbooks.bm25 import BM25, tokenize
from lumos.tools.runbooks.library import RunbookLibrary

TITLE_WEIGHT = 2


class RunbookMatch(BaseModel):
    """One search hit: which runbook and how well it matched (higher is better)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    fault_types: list[str]
    score: float


@runtime_checkable
class RunbookIndex(Protocol):
    """Finds the runbooks that fit a symptom text, optionally filtered by fault type and service kind."""

    def search(self, text: str, *, fault_types: Iterable[FaultType | str] | None = None,
               service_kind: str | None = None, k: int = 5) -> list[RunbookMatch]:
        """Best matches first; at most k."""
        ...


def runbook_text(runbook: Runbook) -> str:
    """The searchable text of a runbook: title (weighted), description, symptoms and fault types."""
    parts = [runbook.title] * TITLE_WEIGHT + [runbook.description, *runbook.symptoms]
    parts += [str(ft) for ft in runbook.fault_types]
    return "\n".join(parts)


def kind_matches(runbook: Runbook, service_kind: str | None) -> bool:
    """A runbook with no kind selector fits every kind; otherwise the kind must be listed."""
    return service_kind is None or not runbook.selector.kinds or service_kind in runbook.selector.kinds


class LexicalRunbookIndex:
    """BM25 over title, description, symptoms and fault types, with metadata filters."""

    def __init__(self, library: RunbookLibrary):
        self._runbooks = library.all()
        self._bm25 = BM25([tokenize(runbook_text(rb)) for rb in self._runbooks])

    def __len__(self) -> int:
        return len(self._runbooks)

    def search(self, text: str, *, fault_types: Iterable[FaultType | str] | None = None,
               service_kind: str | None = None, k: int = 5) -> list[RunbookMatch]:
        """Best matches first. With a filter, every runbook that passes it is a candidate (even with
        no word in common); without one, only runbooks sharing a word with the query are returned."""
        wanted = {FaultType(f).value for f in fault_types} if fault_types else None
        query = tokenize(text)
        scored: list[tuple[float, Runbook]] = []
        for i, rb in enumerate(self._runbooks):
            if wanted is not None and not wanted.intersection(ft.value for ft in rb.fault_types):
                continue
            if not kind_matches(rb, service_kind):
                continue
            score = self._bm25.score(query, i)
            if score <= 0.0 and wanted is None and service_kind is None:
                continue
            scored.append((score, rb))
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [
            RunbookMatch(id=rb.id, title=rb.title, fault_types=[ft.value for ft in rb.fault_types], score=round(score, 4))
            for score, rb in scored[: max(k, 0)]
        ]
