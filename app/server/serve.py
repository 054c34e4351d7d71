"""Run the app under uvicorn with settings from the environment and the command line."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings
from lumos.app.server.db import check_postgres
from lumos.tools.errors import InputError, LumosError


def preflight(config: ServerSettings) -> None:
    """Configuration mistakes found before serving, as one-line InputErrors (never a traceback from the lifespan)."""
    if config.fleet:
        if not config.lumos_settings().audit_key:
            raise InputError("fleet mode (a postgresql:// database) needs LUMOS_AUDIT_KEY, shared by every server: "
                             "at least 32 characters, e.g. `openssl rand -hex 32`", field="LUMOS_AUDIT_KEY")
        check_postgres(config.database_url or "")


def run(config: ServerSettings, *, log_level: str = "info") -> None:
    """Serve `config` until interrupted (SIGINT/SIGTERM stop it gracefully); raises InputError on a bad configuration."""
    preflight(config)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    """Parse --host/--port/--home/--workers, read LUMOS_* for the rest, and serve."""
    parser = argparse.ArgumentParser(prog="python -m lumos.app.server")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--home")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        run(ServerSettings.from_env(host=args.host, port=args.port, home=args.home, workers=args.workers), log_level=args.log_level)
    except LumosError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
