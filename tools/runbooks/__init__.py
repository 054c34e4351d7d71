"""lumos.tools.runbooks: the validated runbook library, safe placeholder rendering and retrieval (BM25, Chroma hybrid)."""

from lumos.tools.runbooks.library import (
    RunbookLibrary,
    bundled_runbook_dir,
    check_runbook_file,
    load_runbook,
    runbook_json_schema,
)
from lumos.tools.runbooks.retrieval import ChromaConfig, open_runbook_index
from lumos.tools.runbooks.search import LexicalRunbookIndex, RunbookIndex, RunbookMatch
from lumos.tools.runbooks.templating import TEMPLATE_VARIABLES, TemplateError, render

__all__ = [
    "TEMPLATE_VARIABLES",
    "ChromaConfig",
    "LexicalRunbookIndex",
    "RunbookIndex",
    "RunbookLibrary",
    "RunbookMatch",
    "TemplateError",
    "bundled_runbook_dir",
    "check_runbook_file",
    "load_runbook",
    "open_runbook_index",
    "render",
    "runbook_json_schema",
]
