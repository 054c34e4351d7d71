"""The top-level `lumos` group: commands listed without importing them, loaded on use, help kept in sync."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lumos import __version__
from lumos.app.cli.main import COMMANDS, app, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_matches_the_command_it_stands_for(name: str) -> None:
    command = load_command(name, COMMANDS[name])[name]
    first_paragraph = (command.help or "").split("\n\n")[0]
    assert " ".join(first_paragraph.split()) == COMMANDS[name].help


def test_help_lists_every_command_without_importing_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lumos.app.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
        "heavy = sorted(m for m in ('langgraph', 'langchain_core', 'matplotlib', 'chromadb', 'numpy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert name in out
    assert "HEAVY []" in out


def test_invoking_a_command_loads_it_and_typos_get_suggestions() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["workflows", "list"])
    assert result.exit_code == 0, result.output
    assert "default" in result.output
    typo = runner.invoke(app, ["dem"])
    assert typo.exit_code == 2 and "demo" in typo.output


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"lumos {__version__}"
