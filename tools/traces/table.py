"""Spans as columns: integer codes for the repeated strings, numpy arrays for the numbers.

A million spans as pydantic objects take over a gigabyte and seconds to build; as columns they take
about a tenth of that. `read_spans_jsonl` parses a spans.jsonl file straight into a `SpanTable`
block by block (msgspec decodes and validates each block in C); a block that fails is parsed again
line by line with the `Span` model, so an error names the same file, line and field as before and
anything the model accepts is accepted. `table_from_spans` builds the same table from span objects
(live sources). Both give codes in order of first appearance, so analyses come out identical.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import numpy as np

from lumos.tools.domain import Span

BLOCK_BYTES = 8 << 20
_STATUS = (None, "OK", "ERROR")
_STATUS_CODE = {None: 0, "OK": 1, "ERROR": 2}
# Hash keys of (trace id, span id) match parents fast; `index_table` checks every match on the
# strings and falls back to exact codes if two ids ever collide.


class _Row(msgspec.Struct, gc=False):
    """One spans.jsonl line as msgspec decodes it (the fields of `Span`; unknown fields ignored)."""

    trace_id: str
    span_id: str
    service: str
    start: Annotated[datetime, msgspec.Meta(tz=True)]  # a naive time fails here and is read by the model (as UTC)
    duration_ms: Annotated[float, msgspec.Meta(ge=0)]
    parent_span_id: str | None = None
    operation: str = ""
    status: Literal["OK", "ERROR"] | None = None
    instance: str | None = None


_DECODER = msgspec.json.Decoder(_Row)


@dataclass(frozen=True, eq=False)
class SpanTable:
    """Spans as aligned columns. `trace` codes index `traces`; `service`, `operation` and
    `instance` (-1 = none) codes index `names`; `status` 0 none, 1 OK, 2 ERROR; `start` in epoch
    seconds. Span and parent ids stay strings (`span_id`, `parent_id`), keyed for matching by
    `key`/`parent_key`: the hash of (trace id, span id) and of (trace id, parent id); `has_parent`
    is False where the parent id is null."""

    trace: np.ndarray
    key: np.ndarray
    parent_key: np.ndarray
    has_parent: np.ndarray
    service: np.ndarray
    operation: np.ndarray
    instance: np.ndarray
    status: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    span_id: list[str]
    parent_id: list[str | None]
    traces: list[str]
    names: list[str]

    def __len__(self) -> int:
        return len(self.start)

    def take(self, rows: np.ndarray) -> "SpanTable":
        """The table restricted to `rows` (in that order); the name lists are shared."""
        picked = rows.tolist()
        return SpanTable(
            trace=self.trace[rows], key=self.key[rows], parent_key=self.parent_key[rows], has_parent=self.has_parent[rows],
            service=self.service[rows], operation=self.operation[rows], instance=self.instance[rows], status=self.status[rows],
            start=self.start[rows], duration=self.duration[rows], span_id=[self.span_id[i] for i in picked],
            parent_id=[self.parent_id[i] for i in picked], traces=self.traces, names=self.names,
        )

    def sorted_by_start(self) -> "SpanTable":
        """Rows in start order (stable: equal starts keep their order), as `sorted(spans, key=start)`."""
        order = np.argsort(self.start, kind="stable")
        if np.array_equal(order, np.arange(len(order))):
            return self
        return self.take(order)

    def spans(self) -> list[Span]:
        """The rows as `Span` objects: for code that needs objects, not the analyses."""
        names, traces = self.names, self.traces
        rows = zip(self.trace.tolist(), self.span_id, self.parent_id, self.service.tolist(), self.operation.tolist(),
                   self.instance.tolist(), self.status.tolist(), self.start.tolist(), self.duration.tolist())
        return [Span.model_construct(trace_id=traces[tr], span_id=sid, parent_span_id=pid, service=names[svc], operation=names[op],
                                     start=datetime.fromtimestamp(t, tz=UTC), duration_ms=d, status=_STATUS[st],
                                     instance=names[inst] if inst >= 0 else None)
                for tr, sid, pid, svc, op, inst, st, t, d in rows]


def _intern(table: dict[str | None, int], values: list[str | None]) -> np.ndarray:
    """Codes of `values` in `table` (None is -1), adding the new ones in order of first appearance.
    Lookups run at C speed (map over dict.get); only the distinct values of a block with new ones
    go through a Python loop."""
    codes = list(map(table.get, values))
    if None in codes:
        fresh = [v for v in dict.fromkeys(values) if v not in table]
        base = len(table) - (None in table)
        table.update(zip(fresh, range(base, base + len(fresh))))
        codes = list(map(table.__getitem__, values))
    return np.fromiter(codes, dtype=np.int64, count=len(codes))


def _hashes(pairs: Iterable[tuple[str, str | None]], n: int) -> np.ndarray:
    return np.fromiter(map(hash, pairs), dtype=np.int64, count=n)


class _Builder:
    """Accumulates rows block by block, interning the repeated strings as it goes."""

    def __init__(self) -> None:
        self.traces: dict[str | None, int] = {}
        self.names: dict[str | None, int] = {None: -1}
        self.blocks: list[tuple[np.ndarray, ...]] = []
        self.span_ids: list[str] = []
        self.parent_ids: list[str | None] = []

    def add(self, trace_ids: list[str], span_ids: list[str], parents: list[str | None], services: list[str],
            operations: list[str], instances: list[str | None], statuses: list[str | None], starts: Iterable[float],
            durations: list[float]) -> None:
        """One block of rows, field by field."""
        n = len(span_ids)
        self.span_ids.extend(span_ids)
        self.parent_ids.extend(parents)
        self.blocks.append((
            _intern(self.traces, trace_ids), _hashes(zip(trace_ids, span_ids), n), _hashes(zip(trace_ids, parents), n),
            np.fromiter(map(operator.is_not, parents, repeat(None)), dtype=bool, count=n),
            _intern(self.names, services), _intern(self.names, operations), _intern(self.names, instances),
            np.fromiter(map(_STATUS_CODE.__getitem__, statuses), dtype=np.int8, count=n),
            np.fromiter(starts, dtype=float, count=n), np.fromiter(durations, dtype=float, count=n),
        ))

    def add_spans(self, spans: Sequence[Span]) -> None:
        """A block of span objects."""
        self.add([s.trace_id for s in spans], [s.span_id for s in spans], [s.parent_span_id for s in spans], [s.service for s in spans],
                 [s.operation for s in spans], [s.instance for s in spans], [s.status for s in spans],
                 [s.start.timestamp() for s in spans], [s.duration_ms for s in spans])

    def add_rows(self, rows: Sequence[_Row]) -> None:
        """A block of decoded rows (their start times carry a time zone: see `_Row`)."""
        cols = [list(map(attrgetter(f), rows)) for f in _Row.__struct_fields__]
        by = dict(zip(_Row.__struct_fields__, cols))
        self.add(by["trace_id"], by["span_id"], by["parent_span_id"], by["service"], by["operation"], by["instance"], by["status"],
                 map(datetime.timestamp, by["start"]), by["duration_ms"])

    def table(self) -> SpanTable:
        if self.blocks:
            cols = [np.concatenate(parts) for parts in zip(*self.blocks)]
        else:
            cols = [np.zeros(0, dtype=np.int64)] * 3 + [np.zeros(0, dtype=bool)] + [np.zeros(0, dtype=np.int64)] * 3
            cols += [np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0)]
        self.blocks = []
        return SpanTable(*cols, span_id=self.span_ids, parent_id=self.parent_ids, traces=list(self.traces),
                         names=[k for k in self.names if k is not None])


def table_from_spans(spans: Iterable[Span]) -> SpanTable:
    """The table of span objects, in their order."""
    b = _Builder()
    b.add_spans(list(spans))
    return b.table()


def read_spans_jsonl(path: Path, *, block_bytes: int = BLOCK_BYTES) -> SpanTable:
    """A spans.jsonl file as a table sorted by start; InputError (file, line, field) on bad input."""
    from lumos.tools.casefiles import iter_jsonl_lines

    b = _Builder()
    lineno = 0
    buf = bytearray(block_bytes)
    view = memoryview(buf)
    filled = 0
    with path.open("rb") as fh:
        while True:
            if filled == len(buf):  # a line longer than the buffer: grow it
                view.release()
                buf.extend(bytes(len(buf)))
                view = memoryview(buf)
            got = fh.readinto(view[filled:])
            end = filled + got
            cut = end if not got else buf.rfind(b"\n", 0, end) + 1
            if cut:
                block = view[:cut]
                try:
                    b.add_rows(_DECODER.decode_lines(block))
                except (msgspec.DecodeError, UnicodeDecodeError):
                    # The model decides (and words the error): it is more lenient, and names the line.
                    b.add_spans(list(iter_jsonl_lines(bytes(block), path, Span, first_line=lineno + 1)))
                lineno += buf.count(b"\n", 0, cut)
                block.release()
                buf[:end - cut] = buf[cut:end]  # the unfinished last line moves to the front
            filled = end - cut
            if not got:
                break
    view.release()
    return b.table().sorted_by_start()
