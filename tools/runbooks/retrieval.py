"""Which runbook index to use: the Chroma hybrid index when it can be opened, else BM25 with one warning line.

This module stays importable without chromadb, onnxruntime or the model package installed;
`lumos.tools.runbooks.vector` (which needs them) is imported only when an index is opened.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.runbooks.embedding import EmbeddingUnavailable
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import LexicalRunbookIndex, RunbookIndex

log = logging.getLogger("lumos.runbooks")

COLLECTION = "lumos-runbooks"

Progress = Callable[[int, int], None]


class ChromaConfig(BaseModel):
    """Where the runbook vectors live: an embedded folder (default) or a Chroma server (`host` set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = Field(default=None, description="Folder of the embedded PersistentClient (state_dir/chroma).")
    host: str | None = Field(default=None, description="Chroma server host; when set, HttpClient is used instead of `path`.")
    port: int = Field(default=8000, ge=1, le=65535, description="Chroma server port.")
    collection: str = Field(default=COLLECTION, min_length=3, description="Collection holding the runbooks.")

    @classmethod
    def from_env(cls, state_dir: Path, env: Mapping[str, str] | None = None) -> "ChromaConfig":
        """Embedded at `state_dir/chroma`, unless LUMOS_CHROMA_HOST (and LUMOS_CHROMA_PORT) name a server."""
        env = os.environ if env is None else env
        host = env.get("LUMOS_CHROMA_HOST") or None
        return cls(path=state_dir / "chroma", host=host, port=int(env.get("LUMOS_CHROMA_PORT") or 8000),
                   collection=env.get("LUMOS_CHROMA_COLLECTION") or COLLECTION)

    def describe(self) -> str:
        """Human-readable location, e.g. `chroma server 127.0.0.1:8000` or `chroma folder /x/chroma`."""
        return f"chroma server {self.host}:{self.port}" if self.host else f"chroma folder {self.path}"


def open_runbook_index(library: RunbookLibrary, config: ChromaConfig, *, progress: Progress | None = None,
                       warn: Callable[[str], None] | None = None) -> RunbookIndex:
    """The Chroma hybrid index (synced), or the BM25 index with one warning line when the model or Chroma is unavailable."""
    try:
        from lumos.tools.runbooks.embedding import MiniLMEmbedder
        from lumos.tools.runbooks.vector import ChromaRunbookIndex, RunbookEmbeddingFunction

        ef = RunbookEmbeddingFunction(MiniLMEmbedder())  # load the model now, so a failure falls back here
        return ChromaRunbookIndex.open(library, config, embedding_function=ef, progress=progress)
    except EmbeddingUnavailable as exc:
        reason = f"offline embedding model unavailable ({exc})"
    except ImportError as exc:
        reason = f"{exc.name or 'chromadb'} is not installed"
    except Exception as exc:  # noqa: BLE001 - any Chroma failure degrades to lexical search, and says so
        reason = f"{config.describe()} unusable ({type(exc).__name__}: {exc})"
    (warn or log.warning)(f"warning: runbook search falls back to lexical BM25: {reason}")
    return LexicalRunbookIndex(library)
