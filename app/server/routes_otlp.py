"""The OTLP/HTTP trace receiver: `POST /v1/traces` (protobuf or JSON), spans into the server's span store."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from lumos.app.server.auth import Principal, require
from lumos.app.server.config import Role
from lumos.tools.live.otlp import Decoded, OtlpError, decode_json, decode_protobuf

router = APIRouter(tags=["otlp"])
PROTOBUF = "application/x-protobuf"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not an OTLP ExportTraceServiceRequest"},
    401: {"description": "Missing or unknown token"},
    404: {"description": "No live stack: start lumos serve --config with sources.traces"},
    413: {"description": "Body over server.otlp.max_body_bytes"},
    415: {"description": "Content type is neither application/x-protobuf nor application/json"},
}


async def _read(request: Request, limit: int) -> bytes:
    """The body, decompressed (gzip/deflate), refusing more than `limit` bytes before or after decompression."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise HTTPException(415, f"content encoding {encoding!r} is not supported (gzip, deflate)")
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
        out = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise HTTPException(400, f"body is not valid {encoding}: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise HTTPException(413, f"decompressed body is over the limit of {limit} bytes")
    return out


def _answer(decoded: Decoded, protobuf: bool) -> Response:
    """ExportTraceServiceResponse, with partial_success when spans were rejected."""
    if protobuf:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        message = ExportTraceServiceResponse()
        if decoded.rejected:
            message.partial_success.rejected_spans = decoded.rejected
            message.partial_success.error_message = decoded.reason
        return Response(message.SerializeToString(), media_type=PROTOBUF)
    body = '{"partialSuccess":{"rejectedSpans":"%d","errorMessage":%s}}' % (decoded.rejected, _json_str(decoded.reason)) if decoded.rejected else "{}"
    return Response(body, media_type="application/json")


def _json_str(text: str) -> str:
    import json

    return json.dumps(text)


@router.post("/v1/traces", responses=ERRORS)
async def traces(request: Request, who: Principal = Depends(require(Role.responder))) -> Response:
    """OTLP/HTTP trace export (protobuf or JSON); spans are stored for live investigations (bounded retention)."""
    live = request.app.state.runtime.resources.live
    if live is None or live.config.sources.traces is None:
        raise HTTPException(404, "the OTLP receiver is off: start lumos serve --config with sources.traces configured")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in (PROTOBUF, "application/json"):
        raise HTTPException(415, f"content type must be {PROTOBUF} or application/json, got {ctype or 'none'}")
    body = await _read(request, live.config.server.otlp.max_body_bytes)
    try:
        decoded = decode_protobuf(body) if ctype == PROTOBUF else decode_json(body)
    except OtlpError as exc:
        raise HTTPException(400, f"not an OTLP trace export request: {exc}") from None
    await run_in_threadpool(live.stack.spans.add, decoded.spans)
    return _answer(decoded, ctype == PROTOBUF)
