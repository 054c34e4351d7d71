"""Server-sent events for one incident, read from the audit trail and the store (works across a fleet)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

POLL_S = 0.5


def sse(event: str, data: str, event_id: str | None = None) -> str:
    """One server-sent event in wire format."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def event_stream(request: Request, incident_id: str, after: int) -> AsyncIterator[str]:
    """Yield new audit records and status changes until the client leaves or the stream's time is up."""
    rt = request.app.state.runtime
    deadline = time.monotonic() + rt.config.sse_max_s
    last_status: tuple[str, str, str] | None = None
    yield "retry: 2000\n\n"
    while time.monotonic() < deadline and not getattr(request.app.state, "closing", False):
        if await request.is_disconnected():
            return
        records = await run_in_threadpool(rt.resources.audit.events, incident_id)
        for record in records:
            if record.seq > after:
                after = record.seq
                yield sse("audit", record.model_dump_json(), str(record.seq))
        row = await run_in_threadpool(rt.store.get, incident_id)
        if row is not None:
            status = (row.run_state, row.status, row.alert_status)
            if status != last_status:
                last_status = status
                payload = {"run_state": row.run_state, "status": row.status, "alert_status": row.alert_status, "pending": row.pending}
                yield sse("status", json.dumps(payload))
        await asyncio.sleep(POLL_S)
    yield sse("end", json.dumps({"reason": "stream time limit or shutdown"}))
