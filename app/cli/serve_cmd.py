"""`lumos serve`: the HTTP server (webhooks, incident API, approvals, web console)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lumos.app.cli.errors import user_errors


def register(app: typer.Typer) -> None:
    """Add `lumos serve` to the CLI."""

    @app.command("serve")
    @user_errors
    def serve(
        host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (LUMOS_HOST; default 127.0.0.1)."),
        port: Optional[int] = typer.Option(None, "--port", help="Port (LUMOS_PORT; default 8080)."),
        home: Optional[Path] = typer.Option(None, "--home", help="State folder (LUMOS_HOME; default ~/.lumos)."),
        workers: Optional[int] = typer.Option(None, "--workers", help="Incidents run at once (LUMOS_WORKERS; default 2)."),
        database_url: Optional[str] = typer.Option(None, "--database-url", help="postgresql://... for fleet mode (LUMOS_DATABASE_URL)."),
        data_case: Optional[Path] = typer.Option(None, "--data-case", help="Case folder serving webhook incidents' data (LUMOS_DATA_CASE)."),
        log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    ) -> None:
        """Serve webhooks (Alertmanager, PagerDuty, generic), the incident API and the web console.

        Tokens come from LUMOS_API_TOKENS="name:role:token,..." (roles: viewer, responder, approver, admin).
        """
        from lumos.app.server.config import ServerSettings
        from lumos.app.server.serve import run

        config = ServerSettings.from_env(host=host, port=port, home=home, workers=workers,
                                         database_url=database_url, data_case=data_case)
        if not config.api_tokens:
            typer.echo("warning: no API tokens configured (LUMOS_API_TOKENS); every authenticated endpoint will answer 401", err=True)
        typer.echo(f"lumos serve on http://{config.host}:{config.port}/ ({'postgres' if config.fleet else 'sqlite'}, {config.workers} workers)")
        run(config, log_level=log_level)
