"""The chaos benchmark's short form: 10 alerts, 4 kill -9 + restarts of `lumos serve`; nothing lost, stuck, repeated or unaudited."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO))
from benchmarks.serve_chaos import main  # noqa: E402


def test_short_chaos_run_loses_nothing(capsys):
    code = main(["--alerts", "10", "--kills", "4", "--seed", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "alerts=10 lost=0 stuck=0 duplicate_actions=0 audit_failures=0", lines
    assert "unapproved_actions=0" in lines[-2] and code == 0
