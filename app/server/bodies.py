"""Read and validate request bodies ourselves: size, content type, JSON, schema -> clear 4xx errors."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing non-JSON content types (415) and bodies over `limit` bytes (413)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise HTTPException(415, f"content type must be application/json, got {ctype or 'none'}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Decode JSON, with the position of a syntax error (400)."""
    if not body.strip():
        raise HTTPException(400, "empty body; expected a JSON object")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise HTTPException(400, "body is not UTF-8") from None
    except RecursionError:
        raise HTTPException(400, "JSON nested too deeply; webhook payloads are a few levels deep") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def validate(model: type[M], data: Any, what: str) -> M:
    """Validate decoded JSON against `model`; the errors name each field (422)."""
    if not isinstance(data, dict):
        raise HTTPException(422, f"{what} must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()[:10]
        ]
        raise HTTPException(422, {"message": f"invalid {what}", "problems": problems}) from None


def check_version(data: Any, expected: str, what: str) -> None:
    """Refuse payload versions this endpoint does not speak (422, naming the accepted one)."""
    if isinstance(data, dict) and "version" in data and str(data["version"]) != expected:
        raise HTTPException(422, f"unsupported {what} payload version {str(data['version'])[:20]!r}; this endpoint accepts version {expected}")
