"""Hybrid runbook retrieval in Chroma: offline MiniLM vectors fused with BM25, metadata filters, incremental sync.

Embedded `chromadb.PersistentClient(path)` by default, `chromadb.HttpClient(host, port)` when a
Chroma server is configured (`ChromaConfig`). Each runbook is one Chroma record whose metadata
carries a content hash, so `sync` re-embeds only new or changed runbooks and deletes those no
longer in the library. Search embeds the query, asks Chroma for the nearest runbooks that pass
the filters, scores the same candidates (plus the best lexical ones) with BM25, and ranks by
`vector_weight * cosine + (1 - vector_weight) * bm25 / max_bm25`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import chromadb
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import FaultType, Runbook
from lumos.tools.runbooks.bm25 import BM25, tokenize
from lumos.tools.runbooks.embedding import MODEL_NAME, MiniLMEmbedder
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.retrieval import COLLECTION, ChromaConfig, Progress
from lumos.tools.runbooks.search import RunbookMatch, runbook_text

INDEX_FORMAT = "v1"  # bump when the stored text or metadata layout changes: every runbook is re-embedded
VECTOR_WEIGHT = 0.6
CANDIDATES = 30
UPSERT_BATCH = 64


def open_client(config: ChromaConfig) -> Any:
    """A Chroma client for the config (telemetry off); the embedded folder is created if needed."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if config.host:
        return chromadb.HttpClient(host=config.host, port=config.port, settings=settings)
    if config.path is None:
        raise ValueError("ChromaConfig needs a path (embedded) or a host (server)")
    config.path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.path), settings=settings)


class RunbookEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma EmbeddingFunction over the offline all-MiniLM-L6-v2 ONNX embedder (never downloads anything)."""

    def __init__(self, embedder: MiniLMEmbedder | None = None):
        self._embedder = embedder

    @property
    def embedder(self) -> MiniLMEmbedder:
        """The model, loaded on first use (an index that is already up to date never loads it for `sync`)."""
        if self._embedder is None:
            self._embedder = MiniLMEmbedder()
        return self._embedder

    def __call__(self, input: Documents) -> list[np.ndarray]:  # noqa: A002 - Chroma's parameter name
        """Unit-length 384-d vectors, one per document."""
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        """The name Chroma stores in the collection's configuration."""
        return "lumos-minilm-onnx"

    def get_config(self) -> dict[str, Any]:
        """Serializable configuration (the model name; weights come from the installed package)."""
        return {"model": MODEL_NAME}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "RunbookEmbeddingFunction":
        """A new instance (the model loads lazily on first use)."""
        return RunbookEmbeddingFunction()

    def default_space(self) -> str:
        """Vectors are unit length: cosine distance."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """Only cosine is meaningful for these vectors."""
        return ["cosine"]


class SyncReport(BaseModel):
    """What one `sync` changed in the collection, by runbook id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> int:
        """How many records were written or deleted."""
        return len(self.added) + len(self.updated) + len(self.removed)


def content_hash(runbook: Runbook) -> str:
    """Hash of everything that is stored for a runbook (its full JSON, the index format, the model)."""
    blob = f"{INDEX_FORMAT}|{MODEL_NAME}|{runbook.model_dump_json()}".encode()
    return hashlib.sha256(blob).hexdigest()


def runbook_metadata(runbook: Runbook) -> dict[str, str | bool]:
    """Filterable metadata: hash, title, one `ft_<fault>` flag per fault type, `kind_*` and `tag_*` flags."""
    meta: dict[str, str | bool] = {"hash": content_hash(runbook), "title": runbook.title,
                                   "fault_types": ",".join(ft.value for ft in runbook.fault_types),
                                   "kind_any": not runbook.selector.kinds, "tag_any": not runbook.selector.tags}
    meta.update({f"ft_{ft.value}": True for ft in runbook.fault_types})
    meta.update({f"kind_{k}": True for k in runbook.selector.kinds})
    meta.update({f"tag_{t}": True for t in runbook.selector.tags})
    return meta


def where_filter(fault_types: Iterable[FaultType | str] | None, service_kind: str | None,
                 tags: Iterable[str] | None = None) -> dict[str, Any] | None:
    """The Chroma `where` clause for the filters (None when there is none)."""
    clauses: list[dict[str, Any]] = []
    groups = []
    if fault_types:
        groups.append([f"ft_{FaultType(f).value}" for f in fault_types])
    if service_kind:
        groups.append(["kind_any", f"kind_{service_kind}"])
    if tags:
        groups.append(["tag_any", *(f"tag_{t}" for t in tags)])
    for keys in groups:
        ors = [{key: True} for key in dict.fromkeys(keys)]
        clauses.append(ors[0] if len(ors) == 1 else {"$or": ors})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaRunbookIndex:
    """`RunbookIndex` over a Chroma collection: vector similarity fused with BM25, with metadata filters."""

    def __init__(self, library: RunbookLibrary, *, client: Any, embedding_function: RunbookEmbeddingFunction | None = None,
                 collection: str = COLLECTION, vector_weight: float = VECTOR_WEIGHT, candidates: int = CANDIDATES):
        self._library = library
        self._runbooks = library.all()
        self._position = {rb.id: i for i, rb in enumerate(self._runbooks)}
        self._bm25 = BM25([tokenize(runbook_text(rb)) for rb in self._runbooks])
        self._ef = embedding_function or RunbookEmbeddingFunction()
        self._collection = client.get_or_create_collection(collection, embedding_function=self._ef,
                                                           metadata={"hnsw:space": "cosine"})
        self.vector_weight = vector_weight
        self.candidates = candidates
        self._query_cache: OrderedDict[str, list[float]] = OrderedDict()

    @classmethod
    def open(cls, library: RunbookLibrary, config: ChromaConfig, *, embedding_function: RunbookEmbeddingFunction | None = None,
             progress: Progress | None = None, sync: bool = True) -> "ChromaRunbookIndex":
        """Connect per `config` and (by default) bring the collection in line with `library`."""
        index = cls(library, client=open_client(config), embedding_function=embedding_function, collection=config.collection)
        if sync:
            index.sync(progress=progress)
        return index

    def __len__(self) -> int:
        return len(self._runbooks)

    def stored_hashes(self) -> dict[str, str]:
        """Runbook id -> content hash of every record in the collection."""
        got = self._collection.get(include=["metadatas"])
        return {rid: str((meta or {}).get("hash", "")) for rid, meta in zip(got["ids"], got["metadatas"] or [])}

    def sync(self, *, progress: Progress | None = None) -> SyncReport:
        """Embed and upsert new or changed runbooks, delete records whose runbook is gone; `progress(done, total)`."""
        stored = self.stored_hashes()
        todo = [rb for rb in self._runbooks if stored.get(rb.id) != content_hash(rb)]
        removed = sorted(set(stored) - set(self._position))
        if removed:
            self._collection.delete(ids=removed)
        total = len(todo)
        if progress:
            progress(0, total)
        for start in range(0, total, UPSERT_BATCH):
            batch = todo[start:start + UPSERT_BATCH]
            self._collection.upsert(ids=[rb.id for rb in batch], documents=[runbook_text(rb) for rb in batch],
                                    metadatas=[runbook_metadata(rb) for rb in batch])
            if progress:
                progress(min(start + UPSERT_BATCH, total), total)
        return SyncReport(added=sorted(rb.id for rb in todo if rb.id not in stored),
                          updated=sorted(rb.id for rb in todo if rb.id in stored),
                          removed=removed, unchanged=len(self._runbooks) - total)

    def _embed_query(self, text: str) -> list[float]:
        if text not in self._query_cache:
            self._query_cache[text] = [float(x) for x in self._ef([text])[0]]
            if len(self._query_cache) > 64:
                self._query_cache.popitem(last=False)
        return self._query_cache[text]

    def search(self, text: str, *, fault_types: Iterable[FaultType | str] | None = None,
               service_kind: str | None = None, k: int = 5, tags: Iterable[str] | None = None) -> list[RunbookMatch]:
        """Best matches first (hybrid score). Filters: any listed fault type; runbooks for this service kind
        (or for any kind); with `tags`, runbooks sharing a tag (or without a tag selector)."""
        if k <= 0 or not self._runbooks:
            return []
        fault_list = list(fault_types) if fault_types else None
        tag_list = list(tags) if tags else None
        where = where_filter(fault_list, service_kind, tag_list)
        got = self._collection.query(query_embeddings=[self._embed_query(text)], n_results=min(self.candidates, len(self._runbooks)),
                                     where=where, include=["distances"])
        vector = {rid: 1.0 - float(d) for rid, d in zip(got["ids"][0], got["distances"][0]) if rid in self._position}
        floor = min(vector.values()) if vector else 0.0
        query = tokenize(text)
        lexical = self._lexical_candidates(query, fault_list, service_kind, tag_list)
        pool = set(vector) | set(lexical)
        top_lex = max((lexical.get(rid, 0.0) for rid in pool), default=0.0)
        scored = []
        for rid in pool:
            lex = lexical.get(rid)
            if lex is None:
                lex = self._bm25.score(query, self._position[rid])
            lex_norm = lex / top_lex if top_lex > 0 else 0.0
            scored.append((self.vector_weight * vector.get(rid, floor) + (1 - self.vector_weight) * lex_norm, rid))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        out = []
        for score, rid in scored[:k]:
            rb = self._runbooks[self._position[rid]]
            out.append(RunbookMatch(id=rid, title=rb.title, fault_types=[ft.value for ft in rb.fault_types], score=round(score, 4)))
        return out

    def _lexical_candidates(self, query: list[str], fault_types: list[FaultType | str] | None, service_kind: str | None,
                            tags: list[str] | None) -> dict[str, float]:
        wanted = {FaultType(f).value for f in fault_types} if fault_types else None
        tag_set = set(tags or ())
        scores = []
        for i, rb in enumerate(self._runbooks):
            if wanted is not None and not wanted.intersection(ft.value for ft in rb.fault_types):
                continue
            if service_kind and rb.selector.kinds and service_kind not in rb.selector.kinds:
                continue
            if tag_set and rb.selector.tags and not tag_set.intersection(rb.selector.tags):
                continue
            score = self._bm25.score(query, i)
            if score > 0:
                scores.append((score, rb.id))
        scores.sort(key=lambda pair: (-pair[0], pair[1]))
        return {rid: score for score, rid in scores[: self.candidates]}
