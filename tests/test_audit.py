import sqlite3

from lumos.graph.audit import AuditTrail


def _trail(tmp_path, n=4):
    trail = AuditTrail(tmp_path / "audit.sqlite")
    for i in range(n):
        trail.append("inc-1", f"kind{i}", {"i": i})
    trail.append("inc-2", "other", {})
    return trail


def test_chain_verifies_and_is_per_incident(tmp_path):
    trail = _trail(tmp_path)
    assert trail.verify("inc-1").ok
    assert trail.verify("inc-1").records == 4
    assert trail.verify("inc-2").records == 1
    events = trail.events("inc-1")
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(e.prev_hash == p.hash for p, e in zip(events, events[1:]))


def test_dedupe_key_makes_appends_idempotent(tmp_path):
    trail = AuditTrail(tmp_path / "a.sqlite")
    assert trail.append("i", "k", {}, dedupe_key="x") is not None
    assert trail.append("i", "k", {}, dedupe_key="x") is None
    assert trail.verify("i").records == 1


def _sql(tmp_path, statement, *args):
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def test_edited_record_fails(tmp_path):
    trail = _trail(tmp_path)
    _sql(tmp_path, "UPDATE audit_events SET data=? WHERE incident_id='inc-1' AND seq=2", '{"i":99}')
    result = trail.verify("inc-1")
    assert not result.ok
    assert any("record 2" in p and "edited" in p for p in result.problems)


def test_removed_middle_record_fails(tmp_path):
    trail = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-1' AND seq=2")
    assert not trail.verify("inc-1").ok


def test_removed_last_record_fails(tmp_path):
    trail = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_events WHERE incident_id='inc-1' AND seq=4")
    result = trail.verify("inc-1")
    assert not result.ok
    assert any("removed" in p for p in result.problems)


def test_reordered_records_fail(tmp_path):
    trail = _trail(tmp_path)
    conn = sqlite3.connect(tmp_path / "audit.sqlite")
    rows = conn.execute("SELECT * FROM audit_events WHERE incident_id='inc-1' ORDER BY seq").fetchall()
    conn.execute("DELETE FROM audit_events WHERE incident_id='inc-1'")
    swapped = [rows[0], rows[2], rows[1], rows[3]]
    conn.executemany("INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?)", swapped)
    conn.commit()
    conn.close()
    assert not trail.verify("inc-1").ok
