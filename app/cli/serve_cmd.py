"""`lumos serve`: the HTTP server (webhooks, incident API, approvals, web console)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from lumos.app.cli.errors import fail, user_errors


def file_defaults(config_file: Path) -> dict[str, Any]:
    """The `server:` section of lumos.yaml as ServerSettings values, where no LUMOS_* variable sets them."""
    from lumos.tools.live.config import load_config
    from lumos.tools.live.stack import database_url

    stack = load_config(config_file)
    values = {"host": stack.server.host, "port": stack.server.port, "home": stack.server.home, "workers": stack.server.workers,
              "database_url": database_url(stack) if stack.server.database_url_env else None}
    return {k: v for k, v in values.items() if v is not None and not os.environ.get("LUMOS_" + k.upper())}


def register(app: typer.Typer) -> None:
    """Add `lumos serve` to the CLI."""

    @app.command("serve")
    @user_errors
    def serve(
        config: Optional[Path] = typer.Option(None, "--config", help="lumos.yaml: live sources, OTLP receiver, changes webhook, actions (LUMOS_CONFIG)."),
        host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (LUMOS_HOST; default 127.0.0.1)."),
        port: Optional[int] = typer.Option(None, "--port", help="Port (LUMOS_PORT; default 8080)."),
        home: Optional[Path] = typer.Option(None, "--home", help="State folder (LUMOS_HOME; default ~/.lumos)."),
        workers: Optional[int] = typer.Option(None, "--workers", help="Incidents run at once (LUMOS_WORKERS; default 2)."),
        database_url: Optional[str] = typer.Option(None, "--database-url", help="postgresql://... for fleet mode (LUMOS_DATABASE_URL)."),
        data_case: Optional[Path] = typer.Option(None, "--data-case", help="Case folder serving every webhook incident's data (LUMOS_DATA_CASE; demos)."),
        log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    ) -> None:
        """Serve webhooks (Alertmanager, PagerDuty, generic, changes), OTLP traces, the incident API and the web console.

        With --config lumos.yaml, each incident reads the live sources (Prometheus, Elasticsearch/OpenSearch,
        spans received on /v1/traces, topology, changes) for its alert's window. Tokens come from
        LUMOS_API_TOKENS="name:role:token,..." (roles: viewer, responder, approver, admin).
        """
        from lumos.app.server.config import ServerSettings
        from lumos.app.server.serve import run
        from lumos.tools.live.config import config_path

        config_file = config_path(config)
        defaults = file_defaults(config_file) if config_file else {}
        flags = {"host": host, "port": port, "home": home, "workers": workers, "database_url": database_url}
        settings = ServerSettings.from_env(**{**defaults, **{k: v for k, v in flags.items() if v is not None}},
                                           data_case=data_case, config=config_file)
        if settings.config is None and settings.data_case is None:
            raise fail("no data source: give --config lumos.yaml (live sources; see `lumos config example`) "
                       "or --data-case DIR (a recorded case, for demos)")
        if not settings.api_tokens:
            typer.echo("warning: no API tokens configured (LUMOS_API_TOKENS); every authenticated endpoint will answer 401", err=True)
        source = f"live sources of {settings.config}" if settings.config else f"case {settings.data_case}"
        typer.echo(f"lumos serve on http://{settings.host}:{settings.port}/ ({'postgres' if settings.fleet else 'sqlite'}, "
                   f"{settings.workers} workers, {source})")
        run(settings, log_level=log_level)
