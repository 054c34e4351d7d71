"""lumos.tools.logs: log template mining, line formats, window comparison and log sources.

- `TemplateMiner` (order-independent, stable ids) and `mine_file` (a file in one pass, any
  line format, with per-line assignments and bad-line accounting); `native` says whether
  the optional C scanner (`_scan`, built by `pip install` when a compiler is present) speeds
  them up;
- `compare_windows`: incident vs baseline per service and template (what the log agent uses);
- `LogSource` / `LogQuery`: query and aggregate logs; `FileLogSource` (files, the embedded
  default) and `lumos.tools.logs.elastic.ElasticLogSource` (Elasticsearch/OpenSearch, optional
  `elasticsearch` package); `safe_query`/`safe_aggregate` wrap either in a result envelope.

Names are imported on first use, so `import lumos.tools.logs.filemine` (the `lumos logs`
command) does not load pydantic models, the log sources or the comparison.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_HOMES = {
    "ServiceLogStats": "compare", "TemplateChange": "compare", "WindowComparison": "compare", "compare_windows": "compare",
    "MineResult": "filemine", "mine_file": "filemine",
    "LOG_FORMATS": "formats", "LogFormat": "formats", "ParsedLine": "formats", "parse_line": "formats",
    "parse_timestamp": "formats",
    "WILDCARD": "masking", "mask": "masking",
    "Template": "template", "template_id": "template", "TemplateMiner": "miner",
    "FileLogSource": "source", "LogAggregation": "source", "LogPage": "source", "LogQuery": "source",
    "LogSource": "source", "LogSourceError": "source", "LogToolResult": "source", "safe_aggregate": "source",
    "safe_query": "source",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` when it is first asked for (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
