"""Run the app under uvicorn with settings from the environment and the command line."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings


def run(config: ServerSettings, *, log_level: str = "info") -> None:
    """Serve `config` until interrupted (SIGINT/SIGTERM stop it gracefully)."""
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
    run(ServerSettings.from_env(host=args.host, port=args.port, home=args.home, workers=args.workers), log_level=args.log_level)
