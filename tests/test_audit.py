"""The keyed audit trail: chains, tampering with and without the key, deleted incidents, anchors, legacy trails."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from lumos.graph.audit import AuditTrail
from lumos.graph.audit_chain import canonical_json, head_mac, record_body
from lumos.graph.audit_keys import AuditKey, load_audit_key
from lumos.tools.errors import InputError


def _trail(tmp_path, n=4):
    trail = AuditTrail(tmp_path / "audit.sqlite")
    for i in range(n):
        trail.append("inc-1", f"kind{i}", {"i": i, "approver": "alice"})
    trail.append("inc-2", "other", {})
    return trail


def _sql(tmp_path, statement, *args):
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def _rows(tmp_path, incident="inc-1"):
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    rows = conn.execute("SELECT seq, ts, kind, actor, data, prev_hash, hash FROM audit_events WHERE incident_id=? ORDER BY seq",
                        (incident,)).fetchall()
    conn.close()
    return rows


def lumos(*args, home):
    env = {**os.environ, "LUMOS_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", "from lumos.app.cli import main; main()", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_chain_verifies_is_keyed_and_per_incident(tmp_path):
    trail = _trail(tmp_path)
    assert trail.verify("inc-1").ok and trail.verify("inc-1").records == 4 and trail.verify("inc-2").records == 1
    events = trail.events("inc-1")
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(e.prev_hash == p.hash for p, e in zip(events, events[1:]))
    assert {e.alg for e in events} == {"hmac-sha256"} and {e.key_id for e in events} == {trail.key.key_id}
    assert all(trail.authentic(e) for e in events)
    assert set(trail.indexed()) == {"inc-1", "inc-2"} and trail.incidents() == ["inc-1", "inc-2"]
    key_file = tmp_path / "audit.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_dedupe_key_makes_appends_idempotent(tmp_path):
    trail = AuditTrail(tmp_path / "a.sqlite")
    assert trail.append("i", "k", {}, dedupe_key="x") is not None
    assert trail.append("i", "k", {}, dedupe_key="x") is None
    assert trail.verify("i").records == 1


def test_edited_record_fails(tmp_path):
    trail = _trail(tmp_path)
    _sql(tmp_path, "UPDATE audit_events SET data=? WHERE incident_id='inc-1' AND seq=2", '{"i":99}')
    result = trail.verify("inc-1")
    assert not result.ok and any("record 2" in p and "edited" in p for p in result.problems)


def test_rewriting_an_approver_and_recomputing_every_sha256_fails(tmp_path):
    """Finding 5: the unkeyed chain could be recomputed by anyone; the MACs cannot without the key."""
    trail = _trail(tmp_path)
    prev = "0" * 64
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    for seq, ts, kind, actor, data, _, _ in _rows(tmp_path):
        forged = json.loads(data) | {"approver": "mallory"}
        digest = hashlib.sha256(record_body("inc-1", seq, ts, kind, actor, forged, prev)).hexdigest()
        conn.execute("UPDATE audit_events SET data=?, prev_hash=?, hash=? WHERE incident_id='inc-1' AND seq=?",
                     (canonical_json(forged), prev, digest, seq))
        prev = digest
    conn.execute("UPDATE audit_heads SET hash=? WHERE incident_id='inc-1'", (prev,))
    conn.commit()
    conn.close()
    result = trail.verify("inc-1")
    assert not result.ok and sum(p.startswith("record") and "edited" in p for p in result.problems) == 4
    # Claiming the records are unkeyed legacy ones does not help either: the incident was opened with keys.
    _sql(tmp_path, "UPDATE audit_events SET alg=NULL, key_id=NULL WHERE incident_id='inc-1'")
    assert any("unkeyed" in p and "opened with audit keys" in p for p in trail.verify("inc-1").problems)


def test_removed_middle_record_fails(tmp_path):
    trail = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-1' AND seq=2")
    assert not trail.verify("inc-1").ok


def test_removed_last_record_with_the_head_rolled_back_fails(tmp_path):
    """Finding 5: delete the last record and roll `audit_heads` back to the record before it."""
    trail = _trail(tmp_path)
    third = _rows(tmp_path)[2]
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-1' AND seq=4")
    _sql(tmp_path, "UPDATE audit_heads SET seq=3, hash=? WHERE incident_id='inc-1'", third[6])
    result = trail.verify("inc-1")
    assert not result.ok and any("head MAC" in p for p in result.problems)


def test_reordered_records_fail(tmp_path):
    trail = _trail(tmp_path)
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    rows = conn.execute("SELECT * FROM audit_events WHERE incident_id='inc-1' ORDER BY seq").fetchall()
    conn.execute("DELETE FROM audit_events WHERE incident_id='inc-1'")
    conn.executemany(f"INSERT INTO audit_events VALUES ({','.join('?' * len(rows[0]))})", [rows[0], rows[2], rows[1], rows[3]])
    conn.commit()
    conn.close()
    assert not trail.verify("inc-1").ok


def test_a_deleted_incident_is_tampering_exit_1(tmp_path):
    """Finding 5: deleting a whole incident used to be exit 2 "unknown incident"."""
    trail = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-2'")
    _sql(tmp_path, "DELETE FROM audit_heads WHERE incident_id='inc-2'")
    assert any("incident deleted" in p for p in trail.verify("inc-2").problems)
    one = lumos("audit", "verify", "inc-2", home=tmp_path)
    assert one.returncode == 1 and "incident deleted" in one.stdout, one.stdout + one.stderr
    every = lumos("audit", "verify", home=tmp_path)
    assert every.returncode == 1 and "inc-2" in every.stdout
    unknown = lumos("audit", "verify", "never-existed", home=tmp_path)
    assert unknown.returncode == 2 and "unknown incident" in unknown.stderr


def test_anchor_catches_truncation_and_rewrites_even_with_the_key(tmp_path):
    trail = _trail(tmp_path)
    made = lumos("audit", "anchor", "--out", str(tmp_path / "anchor.json"), home=tmp_path)
    assert made.returncode == 0 and "anchored 2 incidents" in made.stderr
    anchor = json.loads((tmp_path / "anchor.json").read_text())
    assert anchor["heads"]["inc-1"][0] == 4 and len(anchor["root"]) == 64
    ok = lumos("audit", "verify", "--anchor", str(tmp_path / "anchor.json"), home=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 2 incidents, 5 records"), ok.stdout + ok.stderr
    trail.append("inc-1", "later", {})  # growth after the anchor is fine
    assert lumos("audit", "verify", "inc-1", "--anchor", str(tmp_path / "anchor.json"), home=tmp_path).returncode == 0

    # A key holder truncates inc-1 back to 3 records, fixing the head and its MAC: the chain alone looks intact.
    third = _rows(tmp_path)[2]
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-1' AND seq>3")
    _sql(tmp_path, "UPDATE audit_heads SET seq=3, hash=?, mac=? WHERE incident_id='inc-1'", third[6],
         head_mac(trail.key, "inc-1", 3, third[6]))
    assert trail.verify("inc-1").ok
    caught = lumos("audit", "verify", "--anchor", str(tmp_path / "anchor.json"), home=tmp_path)
    assert caught.returncode == 1 and "incident inc-1: anchored with 4 records, now has 3 (truncated)" in caught.stdout

    # ...or rewrites inc-2's only record with a fresh, valid MAC.
    seq, ts, kind, actor, _, prev, _ = _rows(tmp_path, "inc-2")[0]
    digest = trail.key.mac(record_body("inc-2", seq, ts, kind, actor, {"forged": True}, prev))
    _sql(tmp_path, "UPDATE audit_events SET data=?, hash=? WHERE incident_id='inc-2'", '{"forged":true}', digest)
    _sql(tmp_path, "UPDATE audit_heads SET hash=?, mac=? WHERE incident_id='inc-2'", digest, head_mac(trail.key, "inc-2", 1, digest))
    assert any("not the one the index recorded" in p for p in trail.verify("inc-2").problems)
    rewritten = lumos("audit", "verify", "inc-2", "--anchor", str(tmp_path / "anchor.json"), home=tmp_path)
    assert rewritten.returncode == 1 and "rewritten" in rewritten.stdout


def test_bad_anchor_file_is_a_usage_error(tmp_path):
    _trail(tmp_path)
    (tmp_path / "bad.json").write_text('{"root": 1}')
    out = lumos("audit", "verify", "--anchor", str(tmp_path / "bad.json"), home=tmp_path)
    assert out.returncode == 2 and "not a LUMOS audit anchor" in out.stderr and "Traceback" not in out.stderr


def test_a_trail_written_with_another_key_does_not_verify(tmp_path):
    _trail(tmp_path)
    other = AuditTrail(tmp_path / "audit.sqlite", AuditKey(secret=b"x" * 40, source="test"))
    result = other.verify("inc-1")
    assert not result.ok and "signed with audit key" in result.problems[0]
    assert not other.authentic(other.events("inc-1")[0])


def test_key_from_the_environment_and_key_file_rules(tmp_path):
    assert load_audit_key(tmp_path, "k" * 32).source == "LUMOS_AUDIT_KEY"
    with pytest.raises(InputError, match="at least 32 characters"):
        load_audit_key(tmp_path, "short")
    key_file = tmp_path / "audit.key"
    load_audit_key(tmp_path)
    assert load_audit_key(tmp_path).key_id == load_audit_key(tmp_path).key_id, "created once, then reused"
    key_file.chmod(0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_audit_key(tmp_path)


def test_a_legacy_unkeyed_trail_is_reported_not_crashed(tmp_path):
    """An audit.sqlite from before audit keys: old schema, plain sha256 records."""
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    conn.executescript("""
        CREATE TABLE audit_events (incident_id TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL, kind TEXT NOT NULL,
            actor TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, dedupe_key TEXT,
            PRIMARY KEY (incident_id, seq));
        CREATE TABLE audit_heads (incident_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL);
    """)
    prev = "0" * 64
    for seq in (1, 2):
        ts, data = f"2025-01-01T00:00:0{seq}+00:00", {"n": seq}
        digest = hashlib.sha256(record_body("old-1", seq, ts, "k", "lumos", data, prev)).hexdigest()
        conn.execute("INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,NULL)", ("old-1", seq, ts, "k", "lumos", canonical_json(data), prev, digest))
        prev = digest
    conn.execute("INSERT INTO audit_heads VALUES ('old-1', 2, ?)", (prev,))
    conn.commit()
    conn.close()
    out = lumos("audit", "verify", "old-1", home=tmp_path)
    assert out.returncode == 3 and "UNKEYED: old-1: 2 of 2 records" in out.stdout and "Traceback" not in out.stderr
    assert lumos("audit", "verify", home=tmp_path).returncode == 3
    assert lumos("audit", "show", "old-1", home=tmp_path).returncode == 0
