"""Runbook retrieval quality and speed: Chroma hybrid (MiniLM + BM25) vs pure BM25.

Prints recall@1 / recall@3 on the labelled alert texts in tests/data/runbook_queries.yaml over the
bundled library, then builds a 1,000-runbook library (bundled + generated variants), indexes it in
an embedded Chroma folder and reports index build time and p50/p95 query latency (every query text
distinct, so no cached query embedding is reused). Usage:

    python benchmarks/runbooks_retrieval.py [--runbooks 1000] [--queries 240]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from lumos.tools.domain import Runbook
from lumos.tools.runbooks import LexicalRunbookIndex, RunbookIndex, RunbookLibrary
from lumos.tools.runbooks.embedding import MiniLMEmbedder
from lumos.tools.runbooks.retrieval import ChromaConfig
from lumos.tools.runbooks.vector import ChromaRunbookIndex, RunbookEmbeddingFunction

QUERIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "runbook_queries.yaml"


def load_queries(path: Path = QUERIES) -> list[tuple[str, set[str]]]:
    """(text, accepted runbook ids) pairs of the labelled set."""
    return [(q["text"], set(q["expect"])) for q in yaml.safe_load(path.read_text())]


def base_id(runbook_id: str) -> str:
    """The bundled runbook a generated variant was made from (`free-disk-space-v17` -> `free-disk-space`)."""
    head, _, tail = runbook_id.rpartition("-v")
    return head if head and tail.isdigit() else runbook_id


def recall(index: RunbookIndex, queries: list[tuple[str, set[str]]], k: int) -> float:
    """Share of queries with an accepted runbook (or a variant of one) among the top k."""
    hits = sum(bool({base_id(m.id) for m in index.search(text, k=k)} & accepted) for text, accepted in queries)
    return hits / len(queries)


def synthetic_library(n: int, seed: int = 7) -> RunbookLibrary:
    """n runbooks: the bundled ones plus variants with re-mixed descriptions and a subset of symptoms (deterministic)."""
    rng = random.Random(seed)
    base = RunbookLibrary.load().all()
    words = sorted({w for rb in base for w in (rb.description + " " + " ".join(rb.symptoms)).split()})
    runbooks = {rb.id: rb for rb in base}
    i = 0
    while len(runbooks) < n:
        src = base[i % len(base)]
        i += 1
        extra = " ".join(rng.choices(words, k=30))
        runbooks[f"{src.id}-v{i}"] = Runbook.model_validate({
            **src.model_dump(mode="json"), "id": f"{src.id}-v{i}", "title": f"{src.title} (variant {i})",
            "description": f"{src.description} {extra}", "symptoms": rng.sample(src.symptoms, k=max(1, len(src.symptoms) // 2)),
        })
    return RunbookLibrary(runbooks=runbooks)


def latency_ms(index: RunbookIndex, texts: list[str], *, filtered: bool) -> list[float]:
    """Wall time of each search in milliseconds."""
    out = []
    for i, text in enumerate(texts):
        kwargs = {"fault_types": ["dependency_outage", "network_delay"][i % 2:i % 2 + 1], "service_kind": "service"} if filtered else {}
        t0 = time.perf_counter()
        index.search(text, k=5, **kwargs)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(values: list[float]) -> float:
    """95th percentile."""
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runbooks", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=240)
    args = parser.parse_args()
    queries = load_queries()
    t0 = time.perf_counter()
    embedder = MiniLMEmbedder()
    print(f"model load: {time.perf_counter() - t0:.2f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    ef = RunbookEmbeddingFunction(embedder)
    library = RunbookLibrary.load()
    with tempfile.TemporaryDirectory() as tmp:
        hybrid = ChromaRunbookIndex.open(library, ChromaConfig(path=Path(tmp) / "small"), embedding_function=ef)
        lexical = LexicalRunbookIndex(library)
        print(f"labelled set: {len(queries)} queries over {len(library)} bundled runbooks")
        for name, index in (("chroma hybrid", hybrid), ("BM25", lexical)):
            print(f"  {name:14s} recall@1={recall(index, queries, 1):.3f} recall@3={recall(index, queries, 3):.3f}")

        big = synthetic_library(args.runbooks)
        t0 = time.perf_counter()
        big_hybrid = ChromaRunbookIndex.open(big, ChromaConfig(path=Path(tmp) / "big"), embedding_function=ef)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        big_hybrid.sync()
        resync_s = time.perf_counter() - t0
        big_lexical = LexicalRunbookIndex(big)
        print(f"{len(big)} runbooks: chroma index build {build_s:.1f} s (embeds all), unchanged re-sync {resync_s * 1000:.0f} ms")
        texts = [f"{queries[i % len(queries)][0]} #{i}" for i in range(args.queries)]
        for name, index in (("chroma hybrid", big_hybrid), ("BM25", big_lexical)):
            index.search("warm-up query", k=5)
            for filtered in (False, True):
                ms = latency_ms(index, [f"{t} {'f' if filtered else 'u'}" for t in texts], filtered=filtered)
                label = "filtered" if filtered else "unfiltered"
                print(f"  {name:14s} {label:10s} p50={statistics.median(ms):6.2f} ms  p95={p95(ms):6.2f} ms  ({len(ms)} queries)")
            print(f"  {name:14s} recall@1={recall(index, queries, 1):.3f} recall@3={recall(index, queries, 3):.3f} "
                  f"(variants count as their base runbook)")


if __name__ == "__main__":
    main()
