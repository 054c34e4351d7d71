"""The graph's runbook retrieval follows Settings.runbook_index (auto = Chroma once indexed)."""

from lumos.graph.resources import runbook_index
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import LexicalRunbookIndex
from lumos.tools.runbooks.vector import ChromaRunbookIndex
from lumos.tools.settings import Settings
from optional_parts import needs_embedding


@needs_embedding
def test_auto_is_lexical_until_indexed_then_chroma(isolated_env):
    library = RunbookLibrary.load([])
    settings = Settings.from_env(home=isolated_env)
    assert isinstance(runbook_index(settings, library), LexicalRunbookIndex)
    chroma = runbook_index(Settings.from_env(home=isolated_env, runbook_index="chroma"), library)
    assert isinstance(chroma, ChromaRunbookIndex)
    auto = runbook_index(settings, library)
    assert isinstance(auto, ChromaRunbookIndex)
    assert auto.search("roll back the release that broke checkout", k=1)[0].id
    lexical = runbook_index(Settings.from_env(home=isolated_env, runbook_index="lexical"), library)
    assert isinstance(lexical, LexicalRunbookIndex)
