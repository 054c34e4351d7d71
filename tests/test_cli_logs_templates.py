"""`lumos logs templates` runs without typer from the console script, with the same output and
exit codes as through the typer tree (`lumos.app.cli.main.app`), errors included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lumos.app.cli.main import app

HEAVY = ("typer", "click", "pydantic", "rich", "langgraph", "langchain_core")
# the console script's code, plus a report of which heavy modules the process imported
_CONSOLE = (
    "import atexit, sys\n"
    f"atexit.register(lambda: sys.stderr.write('HEAVY ' + ','.join(m for m in {HEAVY!r} if m in sys.modules) + '\\n'))\n"
    "from lumos.app.cli import main\n"
    "main()\n"
)
_ENV = {"COLUMNS": "100"}  # --help wraps at the same width on both paths


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("logs")
    raw = base / "app.log"
    raw.write_text("".join(f"worker {i % 3} processed job {i} in {i * 7} ms\n" for i in range(60))
                   + "".join(f"user u{i} logged in from 10.0.0.{i}\n" for i in range(20)))
    syslog = base / "sys.log"
    syslog.write_text("".join(f"<13>May  1 10:00:{i:02d} web-1 shop[42]: request {i} took {i} ms\n" for i in range(30)))
    return {"raw": raw, "syslog": syslog, "missing": base / "missing.log", "dir": base, "out": base / "assign.csv"}


CASES = {
    "table": ["{raw}"],
    "json top": ["{raw}", "--json", "--top", "1"],
    "assignments": ["{raw}", "--assignments", "{out}", "--top", "1"],
    "format given": ["{syslog}", "--format", "syslog", "--workers", "2"],
    "help": ["--help"],
    "missing file": ["{missing}"],
    "a directory": ["{dir}"],
    "unknown format": ["{raw}", "--format", "xml"],
    "top 0": ["{raw}", "--top", "0"],
    "no file": [],
    "unknown option": ["{raw}", "--bogus"],
    "not in the format": ["{syslog}", "--format", "plain"],
    "unwritable assignments": ["{raw}", "--assignments", "{dir}/no/such/dir/a.csv"],
}
EXIT = {"missing file": 2, "a directory": 2, "unknown format": 2, "top 0": 2, "no file": 2, "unknown option": 2,
        "not in the format": 1, "unwritable assignments": 2}


def _console(args: list[str]) -> tuple[int, str, str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", _CONSOLE, "logs", "templates", *args], capture_output=True, text=True,
                          env={**os.environ, **_ENV}, timeout=120)
    *stderr, heavy = proc.stderr.splitlines(keepends=True)
    imported = [m for m in heavy.removeprefix("HEAVY ").strip().split(",") if m]
    return proc.returncode, proc.stdout, "".join(stderr), imported


@pytest.mark.parametrize("case", sorted(CASES))
def test_console_script_and_typer_tree_agree(case: str, files: dict[str, Path]) -> None:
    args = [a.format(**files) for a in CASES[case]]
    code, stdout, stderr, imported = _console(args)
    assert imported == [], f"the fast path imported {imported}"
    assert code == EXIT.get(case, 0), stderr
    written = files["out"].read_text() if case == "assignments" else None
    result = CliRunner().invoke(app, ["logs", "templates", *args], env=_ENV)
    assert (result.exit_code, result.stdout, result.stderr) == (code, stdout, stderr)
    if written is not None:
        assert files["out"].read_text() == written and written.startswith("line_id,template_id\n1,")
    if code:  # errors are one line (after the format note, when mining ran)
        lines = [ln for ln in stderr.splitlines() if not ln.startswith("format: ")]
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert stdout == ""


def test_help_lists_the_command_and_its_options(files: dict[str, Path]) -> None:
    listed = CliRunner().invoke(app, ["logs", "--help"], env=_ENV)
    assert listed.exit_code == 0 and "templates" in listed.stdout and "Mine the templates of FILE" in listed.stdout
    _, stdout, _, _ = _console(["--help"])
    for option in ("--assignments", "--json", "--top", "--format", "--workers", "FILE"):
        assert option in stdout
