"""lumos.yaml: the example is valid, mistakes are reported as file:line: field: message, secrets come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumos.tools.errors import InputError
from lumos.tools.live.config import StackConfig, check_config, load_config, read_secret
from lumos.tools.live.example import EXAMPLE


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lumos.yaml"
    path.write_text(text)
    return path


def test_example_is_valid_and_dry_run_by_default(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, EXAMPLE))
    assert config.sources.configured() == ["metrics", "logs", "traces", "topology", "changes"]
    assert config.actions.default.dry_run is True
    assert config.actions.route("rollback_deploy").backend == "simulated"


def test_misspelt_key_names_line_field_and_suggestion(tmp_path: Path) -> None:
    text = EXAMPLE.replace("max_lines: 20000", "max_line: 20000")
    line = next(i for i, l in enumerate(text.splitlines(), start=1) if "max_line:" in l)
    _, errors = check_config(_write(tmp_path, text))
    assert len(errors) == 1
    assert str(errors[0]).startswith(f"{tmp_path / 'lumos.yaml'}:{line}: sources.logs.max_line: unknown field; did you mean 'max_lines'?")


def test_every_error_is_reported_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "sources:\n  metrics:\n    url: ftp://x\n  traces: {type: otlp}\nactions:\n  default: {backend: k8s}\n")
    _, errors = check_config(path)
    assert [(e.line, e.field) for e in errors] == [(3, "sources.metrics.url"), (6, "actions.default.backend")]


def test_backend_without_its_section_and_bad_yaml(tmp_path: Path) -> None:
    _, errors = check_config(_write(tmp_path, "actions:\n  per_action:\n    restart_service: {backend: kubernetes}\n"))
    assert "backend kubernetes is used but has no `kubernetes:` section" in str(errors[0])
    _, errors = check_config(_write(tmp_path, "sources: [\n"))
    assert "invalid YAML" in str(errors[0]) and errors[0].line is not None


def test_secrets_are_read_from_named_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMOS_TEST_SECRET", "s3cret")
    assert read_secret("LUMOS_TEST_SECRET", "x") == "s3cret"
    monkeypatch.delenv("LUMOS_TEST_SECRET")
    with pytest.raises(InputError, match="LUMOS_TEST_SECRET is not set"):
        read_secret("LUMOS_TEST_SECRET", "sources.metrics.bearer_token_env")
    assert StackConfig().sources.configured() == []


def test_cli_example_check_and_exit_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lumos.app.cli.main import app

    example = CliRunner().invoke(app, ["config", "example"]).output
    good = _write(tmp_path, example)
    ok = CliRunner().invoke(app, ["config", "check", str(good)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(example.replace("  traces:\n", "  tracess:\n"))
    failed = CliRunner().invoke(app, ["config", "check", str(bad)])
    assert failed.exit_code == 2
    assert "sources.tracess: unknown field; did you mean 'traces'?" in failed.output and "Traceback" not in failed.output
