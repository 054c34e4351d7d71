"""The FastAPI application factory: `create_app(config)` builds a self-contained app (no globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources as pkg_resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from lumos.app.server.auth import Principal, TokenBook, require
from lumos.app.server.config import Role, ServerSettings
from lumos.app.server.payloads import GenericPayload, PagerDutyWebhook
from lumos.app.server.routes_changes import router as changes_router
from lumos.app.server.routes_incidents import router as incidents_router
from lumos.app.server.routes_otlp import router as otlp_router
from lumos.app.server.routes_webhooks import router as webhooks_router
from lumos.app.server.runtime import ServerRuntime
from lumos.app.server.views import ApprovalRequest, Health
from lumos.app.server.workers import WorkerPool
from lumos.tools.domain import AlertmanagerPayload

STATIC = pkg_resources.files("lumos.app.server") / "static"
BODY_MODELS = (AlertmanagerPayload, PagerDutyWebhook, GenericPayload, ApprovalRequest)
CONSOLE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the hand-validated request bodies and the bearer scheme."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in BODY_MODELS:
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    app.openapi_schema = schema
    return schema


def create_app(config: ServerSettings, runtime: ServerRuntime | None = None) -> FastAPI:
    """Build the app; the store, graph runner and workers are opened when it starts (lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or await run_in_threadpool(ServerRuntime.open, config)
        app.state.runtime = rt
        app.state.workers = WorkerPool(rt)
        app.state.closing = False
        app.state.workers.start()
        try:
            yield
        finally:
            app.state.closing = True
            await run_in_threadpool(app.state.workers.stop)
            if runtime is None:
                rt.close()

    app = FastAPI(
        title="LUMOS incident server",
        version="0.1.0",
        description="Alerts in (Alertmanager, PagerDuty, generic webhooks), incidents run on the LUMOS graph, "
        "humans approve destructive steps. Every endpoint but /healthz needs `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.tokens = TokenBook(config.api_tokens)
    app.include_router(webhooks_router)
    app.include_router(incidents_router)
    app.include_router(changes_router)
    app.include_router(otlp_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(who: Principal = Depends(require(Role.viewer))) -> JSONResponse:
        """The OpenAPI document (any valid token)."""
        return JSONResponse(app.openapi())

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(request: Request) -> Health:
        """Liveness (no token needed): process id, fleet mode, busy workers and incidents per run state."""
        rt = request.app.state.runtime
        return Health(status="ok", node_id=rt.config.node_id, fleet=rt.config.fleet,
                      busy_workers=request.app.state.workers.busy, incidents=rt.store.counts())

    @app.get("/", include_in_schema=False)
    def console() -> Response:
        """The web console shell (static; it holds no data and calls the API with the user's token)."""
        return FileResponse(str(STATIC / "index.html"), headers=CONSOLE_HEADERS)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
