"""Shared fixtures: every test gets its own LUMOS state folder and no model credentials."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_CASE = REPO / "evals" / "cases" / "demo" / "shop-bad-deploy"
SHARED_CASES = REPO.parent / "shared" / "datasets" / "cases"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point LUMOS_HOME at a fresh folder and hide the user's model configuration."""
    home = tmp_path / "lumos-home"
    monkeypatch.setenv("LUMOS_HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "LUMOS_")) and name != "LUMOS_HOME":
            monkeypatch.delenv(name, raising=False)
    return home
