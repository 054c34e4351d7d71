"""lumos.tools.logs: log template mining, line formats, window comparison and log sources.

- `TemplateMiner` (streaming, stable ids) and `mine_file` (a file in one pass, with per-line
  assignments and bad-line accounting); `native` says whether the optional C scanner
  (`_scan`, built by `pip install` when a compiler is present) speeds them up;
- `compare_windows`: incident vs baseline per service and template (what the log agent uses);
- `LogSource` / `LogQuery`: query and aggregate logs; `FileLogSource` (files, the embedded
  default) and `lumos.tools.logs.elastic.ElasticLogSource` (Elasticsearch/OpenSearch, optional
  `elasticsearch` package); `safe_query`/`safe_aggregate` wrap either in a result envelope.
"""

from lumos.tools.logs.compare import ServiceLogStats, TemplateChange, WindowComparison, compare_windows
from lumos.tools.logs.filemine import MineResult, mine_file
from lumos.tools.logs.formats import LOG_FORMATS, LogFormat, ParsedLine, parse_line, parse_timestamp
from lumos.tools.logs.masking import WILDCARD, mask
from lumos.tools.logs.miner import Template, TemplateMiner, template_id
from lumos.tools.logs.source import (
    FileLogSource,
    LogAggregation,
    LogPage,
    LogQuery,
    LogSource,
    LogSourceError,
    LogToolResult,
    safe_aggregate,
    safe_query,
)

__all__ = [
    "LOG_FORMATS",
    "WILDCARD",
    "FileLogSource",
    "LogAggregation",
    "LogFormat",
    "LogPage",
    "LogQuery",
    "LogSource",
    "LogSourceError",
    "LogToolResult",
    "MineResult",
    "ParsedLine",
    "ServiceLogStats",
    "Template",
    "TemplateChange",
    "TemplateMiner",
    "WindowComparison",
    "compare_windows",
    "mask",
    "mine_file",
    "parse_line",
    "parse_timestamp",
    "safe_aggregate",
    "safe_query",
    "template_id",
]
