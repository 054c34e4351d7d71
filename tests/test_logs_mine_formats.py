"""Mining every line format: the native scanner finds the same messages as the Python
reference (`spans`), `auto` picks the right format, every format gives the same result on
the native and pure-Python paths and with any number of workers, and a file mostly not in
its format is an error."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lumos.tools.logs import native
from lumos.tools.logs.filemine import detect_format, mine_file
from lumos.tools.logs.spans import FORMAT_CODES, SPANS

from tests.test_logs_filemine import _logs_cmd
from tests.test_logs_native import native_path

PIECES = {
    "jsonl": ['{', '}', '"', '\\', ':', ',', ' ', '[', ']', '"msg"', '"message"', '"a"', '1', 'true', '"x y"',
              '{"msg":"hi 1"}', '"log"'],
    "logfmt": ['msg=', 'message=', 'a=', '"', '\\"', ' ', 'x', '1', '=', 'level=info ', 'msg="a b"'],
    "syslog": ['<', '>', '1', ' ', '34', 'Jun', 'Feb', ' 5', '14', '15:16:01', ':', '[', ']', '-', 'host', 'app',
               '123', '"', 'x'],
    "plain": ['[', ']', '2024-01-02', 'T', ' ', '03:04:05', '.123', ',5', 'Z', '+01:00', 'UTC', 'INFO', 'warn',
              'hello', '1700000000', '.', ':', '12345678901234'],
    "header": ['081109', ' ', 'INFO', '[notice]', 'x', '1', '-', 'ERROR:', '(warn)', 'a', '\t', 'msg'],
}


@pytest.mark.skipif(not native.AVAILABLE, reason="native scanner not built (no C compiler)")
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), fmt=st.sampled_from(sorted(PIECES)))
def test_native_messages_are_the_reference_spans(data: st.DataObject, fmt: str) -> None:
    line = "".join(data.draw(st.lists(st.sampled_from(PIECES[fmt]), max_size=14))).encode()
    want = SPANS[fmt](line)
    scan = native.scan_block(line, fmt=FORMAT_CODES[fmt])
    assert native.in_format(line + b"\n" + line, FORMAT_CODES[fmt]) == (0 if isinstance(want, str) else 2)
    if isinstance(want, str):
        assert scan.flags & native.BAD, (line, want)
    else:
        assert not scan.flags & native.BAD and scan.spans[0] == want, (line, want, scan.spans)


def _lines(fmt: str, n: int, seed: int) -> list[str]:
    """`n` lines of a few events in `fmt` (names that recur across events, states that do not)."""
    rng = random.Random(seed)
    users = ["alice", "bob", "carol", "dave", "erin"]
    out = []
    for i in range(n):
        user = rng.choice(users)
        message = rng.choice([
            f"session opened for user {user} by uid={i % 3}",
            f"session closed for user {user}",
            f"job {rng.choice(['Started', 'Stopped'])} in {rng.randint(1, 900)} ms",
            f"connect to 10.0.{i % 7}.{i % 250}:5432 failed, retry {i % 4}",
        ])
        ts = f"2024-05-0{1 + i % 9}T10:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
        level = rng.choice(["INFO", "WARN", "ERROR"])
        out.append({
            "raw": message,
            "jsonl": json.dumps({"ts": ts, "level": level.lower(), "msg": message, "attrs": {"n": i}}),
            "logfmt": f'ts={ts} level={level.lower()} msg="{message}" n={i}',
            "syslog": f"<{13 + i % 8}>May {1 + i % 28:2d} 10:{i % 60:02d}:{(i * 7) % 60:02d} host{i % 3} app[{100 + i}]: {message}",
            "plain": f"{ts} {level} {message}",
            "header": f"24050{1 + i % 9} 10{i % 60:02d}{(i * 7) % 60:02d} {100 + i % 50} {level} svc.Worker: {message}",
        }[fmt])
    return out


@pytest.mark.parametrize("fmt", sorted(FORMAT_CODES))
def test_every_format_mines_alike_on_both_paths_and_any_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    import lumos.tools.logs.filemine as filemine
    import lumos.tools.logs.parallel as parallel

    monkeypatch.setattr(filemine, "BLOCK_BYTES", 4096)  # many blocks, one of them with bad lines
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_WORKER", 1024)
    lines = _lines(fmt, 600, seed=len(fmt))
    lines[150] = "\x00garbage"
    lines[151] = ""
    path = tmp_path / f"app.{fmt}"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path)[0] == fmt
    results = []
    for on in (True, False):
        with native_path(on):
            for workers in (1, 2, 3):
                r = mine_file(path, "auto", workers=workers)
                results.append((r.format, [(t.id, t.text, t.count) for t in r.templates], list(r.assignments()), r.skipped))
    assert all(r == results[0] for r in results)
    texts = {text for _, text, _ in results[0][1]}
    assert {"session opened for user <*> by uid=<*>", "session closed for user <*>", "job Started in <*> ms",
            "job Stopped in <*> ms"} <= {t.split(": ", 1)[-1] for t in texts}
    assert results[0][3] == {"binary": 1, "empty": 1}


def test_auto_says_which_format_and_a_wrong_format_is_an_error(tmp_path: Path) -> None:
    cmd = _logs_cmd()
    path = tmp_path / "syslog.log"
    path.write_text("\n".join(_lines("syslog", 50, 3)) + "\n")
    ok = CliRunner().invoke(cmd.logs_app, ["templates", str(path)])
    assert ok.exit_code == 0 and "format: syslog (detected: 50 of the first 50 lines are syslog)" in ok.stderr
    wrong = CliRunner().invoke(cmd.logs_app, ["templates", str(path), "--format", "plain"])
    assert wrong.exit_code == 1
    assert "50 of 50 lines are not plain; e.g. line 1 (bad_timestamp): '<13>May" in wrong.stderr
    assert wrong.stdout == ""


def test_workers_give_the_same_output_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lumos.tools.logs.parallel as parallel

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_WORKER", 1024)
    cmd = _logs_cmd()
    path = tmp_path / "app.log"
    lines = _lines("raw", 3000, 4)
    rng = random.Random(5)
    lines += [f"Deleting file /var/{rng.choice('abcdefghij')}{rng.choice('klmnop')}/data for {rng.choice(['x', 'y', 'z'])}"
              for _ in range(300)]  # paths and words that only some byte ranges hold
    path.write_text("\n".join(lines) + "\n")
    outputs = []
    for workers in ("1", "2", "3"):
        out = tmp_path / f"a{workers}.csv"
        res = CliRunner().invoke(cmd.logs_app, ["templates", str(path), "--json", "--workers", workers, "--assignments", str(out)])
        assert res.exit_code == 0, res.stderr
        outputs.append((res.stdout, out.read_text()))
    assert outputs[0] == outputs[1] == outputs[2]
