"""`lumos serve` registration: options, help, and configuration errors as one-line messages."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from lumos.app.cli.serve_cmd import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        """A second command so that `serve` is a subcommand."""

    return app


def test_serve_help_lists_options():
    result = CliRunner().invoke(_app(), ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--home", "--workers", "--database-url", "--data-case"):
        assert option in result.output


def test_bad_configuration_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("LUMOS_API_TOKENS", "bob:root:0123456789abcdef0123")
    result = CliRunner().invoke(_app(), ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "LUMOS_API_TOKENS" in result.output and "unknown role 'root'" in result.output
