"""The Chroma index against a real `chroma run` server (from the chromadb package) on a free loopback port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lumos.tools.runbooks import RunbookLibrary
from lumos.tools.runbooks.retrieval import ChromaConfig, open_runbook_index
from lumos.tools.runbooks.vector import ChromaRunbookIndex
from optional_parts import needs_embedding

CHROMA = shutil.which("chroma")
pytestmark = [pytest.mark.skipif(CHROMA is None, reason="the `chroma` server binary (chromadb package) is not on PATH"), needs_embedding]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path / "data"), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma run did not answer its heartbeat within 30 s")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    assert proc.returncode is not None  # nothing left running


def test_index_and_search_through_a_chroma_server(chroma_server: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = chroma_server
    config = ChromaConfig(host=host, port=port)
    library = RunbookLibrary.load()
    warnings: list[str] = []
    index = open_runbook_index(library, config, warn=warnings.append)
    assert warnings == [] and isinstance(index, ChromaRunbookIndex)
    assert len(index.stored_hashes()) == len(library)
    top = index.search("Error: connect ECONNREFUSED 10.0.4.12:6379 from session store clients",
                       fault_types=["dependency_outage"], service_kind="cache", k=2)
    assert top[0].id == "failover-cache-cluster"
    assert index.search("no space left on device", k=1)[0].id == "free-disk-space"
    # a second client sees the same collection, already up to date
    report = ChromaRunbookIndex.open(library, config, sync=False).sync()
    assert report.changed == 0 and report.unchanged == len(library)
    # the CLI talks to the same server when LUMOS_CHROMA_HOST/PORT are set
    from typer.testing import CliRunner

    from lumos.app.cli.runbooks_cmd import runbooks_app

    monkeypatch.setenv("LUMOS_CHROMA_HOST", host)
    monkeypatch.setenv("LUMOS_CHROMA_PORT", str(port))
    runner = CliRunner()
    indexed = runner.invoke(runbooks_app, ["index"])
    assert indexed.exit_code == 0 and f"chroma server {host}:{port}" in indexed.output
    assert f"0 added, 0 updated, 0 removed, {len(library)} unchanged" in indexed.stdout
    found = runner.invoke(runbooks_app, ["search", "could not connect to server on port 5432, primary db down", "-k", "1", "--json"])
    assert found.exit_code == 0 and json.loads(found.stdout)[0]["id"] == "failover-primary-database"


def test_unreachable_server_falls_back_to_bm25(tmp_path: Path) -> None:
    warnings: list[str] = []
    index = open_runbook_index(RunbookLibrary.load(), ChromaConfig(host="127.0.0.1", port=free_port()), warn=warnings.append)
    assert type(index).__name__ == "LexicalRunbookIndex"
    assert len(warnings) == 1 and "chroma server 127.0.0.1" in warnings[0]
