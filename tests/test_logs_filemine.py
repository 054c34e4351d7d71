"""Mining files: fast path, formats, bad input, assignments, and the `logs templates` command."""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lumos.tools.errors import InputError
from lumos.tools.logs.filemine import mine_file

LINES = [f"worker {i % 7} processed job {1000 + i} in {i * 3} ms" for i in range(300)] + [
    f"cache miss for key user:{i}" for i in range(100)
]


def _logs_cmd():
    """Load app/cli/logs_cmd.py by path so this test does not depend on the other CLI groups."""
    path = Path(__file__).resolve().parents[1] / "app" / "cli" / "logs_cmd.py"
    spec = importlib.util.spec_from_file_location("lumos_test_logs_cmd", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_raw_file_counts_and_assignments(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("\n".join(LINES) + "\n")
    result = mine_file(path)
    assert result.lines_total == 400 and result.lines_mined == 400 and not result.skipped
    assert [t.count for t in result.templates] == [300, 100]
    rows = list(result.assignments())
    assert rows[0][0] == 1 and rows[-1][0] == 400
    assert {tid for _, tid in rows[:300]} == {result.templates[0].id}


def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    garbage = bytes(range(256)) * 4
    path.write_bytes(b"ok line 1\n" + garbage.replace(b"\n", b"") + b"\n\n" + b"x" * 100_000 + b"\nok line 2\r\n")
    result = mine_file(path)
    assert result.lines_total == 5
    assert result.skipped == {"binary": 1, "empty": 1, "too_long": 1}
    ids = [tid for _, tid in result.assignments()]
    assert ids[0] == ids[4] != "" and ids[1:4] == ["", "", ""]
    assert "skipped 3" in result.summary()


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert mine_file(empty).lines_total == 0
    with pytest.raises(InputError):
        mine_file(tmp_path / "nope.log")


def test_formats(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    records = [{"ts": f"2024-01-01T00:00:{i:02d}Z", "level": "INFO", "message": f"user {i} logged in"} for i in range(10)]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n" + '{"ts": "never", "message": "x"}\n')
    result = mine_file(path, "jsonl")  # mining reads no timestamp: "never" is no bad line
    assert result.lines_mined == 11 and result.skipped == {"invalid_json": 1}
    assert result.first_bad == (11, "invalid_json", "{broken")
    plain = tmp_path / "plain.log"
    plain.write_text("2024-01-01 00:00:01 INFO started 1\nnot a log line\n2024-01-01 00:00:02 ERROR failed 2\n")
    result = mine_file(plain, "plain")
    assert result.lines_mined == 2 and result.skipped == {"bad_timestamp": 1}


def test_cli_table_json_assignments(tmp_path: Path) -> None:
    cmd = _logs_cmd()
    path = tmp_path / "app.log"
    path.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "assign.csv"
    runner = CliRunner()
    res = runner.invoke(cmd.logs_app, ["templates", str(path), "--assignments", str(out), "--top", "1"])
    assert res.exit_code == 0, res.output
    assert "worker <*> processed job <*> in <*>" in res.output
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["line_id", "template_id"] and len(rows) == 401 and rows[1][0] == "1"
    res = runner.invoke(cmd.logs_app, ["templates", str(path), "--json"])
    payload = json.loads(res.stdout)
    assert payload["lines_mined"] == 400 and payload["templates"][0]["count"] == 300


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    cmd = _logs_cmd()
    res = CliRunner().invoke(cmd.logs_app, ["templates", str(tmp_path / "missing.log")])
    assert res.exit_code == 2
    assert "file not found" in res.output


def test_cli_bad_format_exits_2(tmp_path: Path) -> None:
    cmd = _logs_cmd()
    path = tmp_path / "a.log"
    path.write_text("x\n")
    assert CliRunner().invoke(cmd.logs_app, ["templates", str(path), "--format", "xml"]).exit_code == 2


def test_counting_only_gives_the_same_templates(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("\n".join(LINES * 3) + "\n")
    full, counts = mine_file(path), mine_file(path, assignments=False)
    assert [(t.id, t.count) for t in full.templates] == [(t.id, t.count) for t in counts.templates]
    assert counts.lines_total == 1200 and len(counts.line_clusters) == 0


def test_parallel_mining_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.logs.parallel as parallel

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_WORKER", 1024)
    path = tmp_path / "big.log"
    path.write_text("\n".join(LINES * 20) + "\n")
    one, two = mine_file(path), mine_file(path, workers=2)
    assert [(t.id, t.count) for t in one.templates] == [(t.id, t.count) for t in two.templates]
    assert list(one.assignments()) == list(two.assignments())
    ranges = parallel.split_ranges(path, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    data = path.read_bytes()
    assert all(data[a - 1:a] == b"\n" for a, _ in ranges[1:])


def test_a_huge_line_is_not_held_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.logs.filemine as filemine

    monkeypatch.setattr(filemine, "BLOCK_BYTES", 4096)
    path = tmp_path / "huge.log"
    path.write_bytes(b"line 1\n" + b"y" * 50_000 + b"\nline 2\n" + b"z" * 50_000)
    result = mine_file(path, max_line_chars=1000)
    assert result.lines_total == 4 and result.skipped == {"too_long": 2}
    ids = [tid for _, tid in result.assignments()]
    assert ids[0] == ids[2] != "" and ids[1] == ids[3] == ""
