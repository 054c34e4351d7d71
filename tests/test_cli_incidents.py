"""The CLI user paths: demo, interrupt + resume in a new process, audit, bad input."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

from tests.conftest import DEMO_CASE


def lumos(*args: str, env_home, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LUMOS_HOME": str(env_home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from lumos.app.cli import main; main()", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
    )


def test_demo_yes_resolves_and_names_root_cause(isolated_env):
    result = lumos("demo", "--yes", env_home=isolated_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resolved" in result.stdout
    assert "inventory" in result.stdout
    assert "lumos audit show" in result.stdout


def test_gate_without_terminal_then_resume_in_new_process(isolated_env):
    first = lumos("demo", env_home=isolated_env)
    assert first.returncode == 0, first.stderr
    match = re.search(r"lumos resume (\S+) --gate (g-[0-9a-f]{32}) --approve", first.stdout)
    assert match, first.stdout
    incident, gate = match.groups()
    stale = lumos("resume", incident, "--gate", "g-" + "0" * 32, "--approve", env_home=isolated_env)
    assert stale.returncode == 1 and "nothing was run" in stale.stderr
    second = lumos("resume", incident, "--gate", gate, "--approve", "--yes", "--comment", "go", env_home=isolated_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resolved" in second.stdout
    verify = lumos("audit", "verify", incident, env_home=isolated_env)
    assert verify.returncode == 0 and verify.stdout.startswith("ok:")
    show = lumos("audit", "show", incident, "--json", env_home=isolated_env)
    assert '"approval.decided"' in show.stdout and "cli:" in show.stdout
    conn = sqlite3.connect(isolated_env / "audit.sqlite")
    conn.execute("UPDATE audit_events SET data='{}' WHERE incident_id=? AND seq=3", (incident,))
    conn.commit()
    conn.close()
    tampered = lumos("audit", "verify", incident, env_home=isolated_env)
    assert tampered.returncode == 1 and "record 3" in tampered.stdout


def test_resume_unknown_incident_is_a_usage_error(isolated_env):
    result = lumos("resume", "inc-nope", "--approve", env_home=isolated_env)
    assert result.returncode == 2
    assert "unknown incident" in result.stderr and "Traceback" not in result.stderr


def test_bad_case_is_one_line_exit_2(isolated_env, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("case.yaml", "alert.json"):
        (bad / name).write_text((DEMO_CASE / name).read_text())
    (bad / "logs.jsonl").write_text('{"ts": "2024-01-01T00:00:00Z", "service": "a"}\n')
    result = lumos("run", "--case", str(bad), env_home=isolated_env)
    assert result.returncode == 2
    assert "logs.jsonl:1" in result.stderr and "message" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = lumos("run", "--case", str(tmp_path / "nope"), env_home=isolated_env)
    assert missing.returncode == 2 and "case folder not found" in missing.stderr
