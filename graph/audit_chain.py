"""Record MACs, chain verification and anchors: the storage-independent half of the audit trail.

A record's `hash` is HMAC-SHA256 (keyed, see `audit_keys`) of its canonical JSON -- seq, incident,
time, kind, actor, data and the previous record's hash. Records written before keys existed carry
a plain sha256 (`alg` "sha256"); they still chain, but anyone could have recomputed them, so
verification reports them as unkeyed legacy records instead of as proof.

Every incident's first record is also entered in an index chain (incident id `@index`), so a whole
deleted incident is tampering, not an unknown id. Each chain's head row carries a MAC of (incident,
seq, hash), so a truncation needs the key; an anchor (`lumos audit anchor`, published elsewhere)
catches truncations and rewrites even by someone holding the key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field

from lumos.graph.audit_keys import ALG, LEGACY_ALG, AuditKey

GENESIS = "0" * 64
INDEX_ID = "@index"
"""The chain that records every incident's opening (not a valid incident id: ids never start with '@')."""
ANCHOR_FORMAT = "lumos-audit-anchor/1"

ROW_COLUMNS = "seq, incident_id, ts, kind, actor, data, prev_hash, hash, alg, key_id"
"""The columns every store reads, in this order."""


def canonical_json(record: Any) -> str:
    """The canonical form that is hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_body(incident_id: str, seq: int, ts: str, kind: str, actor: str, data: Any, prev_hash: str) -> bytes:
    """The bytes a record's hash covers."""
    fields = {"seq": seq, "incident_id": incident_id, "ts": ts, "kind": kind, "actor": actor, "data": data, "prev_hash": prev_hash}
    return canonical_json(fields).encode()


def record_digest(body: bytes, alg: str | None, key: AuditKey) -> str:
    """A record's hash under its algorithm (legacy records: plain sha256)."""
    return key.mac(body) if alg == ALG else hashlib.sha256(body).hexdigest()


def head_mac(key: AuditKey, incident_id: str, seq: int, digest: str) -> str:
    """The MAC of a chain head (so rolling a head back to an earlier record needs the key)."""
    return key.mac(canonical_json({"head": incident_id, "seq": seq, "hash": digest}).encode())


def now_iso() -> str:
    """The timestamp stored in a new record."""
    return datetime.now(timezone.utc).isoformat()


class VerifyResult(BaseModel):
    """Outcome of verifying one incident's chain."""

    incident_id: str
    ok: bool
    records: int
    problems: list[str]
    legacy: int = Field(default=0, description="Records hashed without a key (written before audit keys): intact is not proof.")
    key_id: str | None = Field(default=None, description="The key the chain's keyed records were signed with.")


def check_chain(incident_id: str, rows: list[tuple], head: tuple | None, key: AuditKey, *, keyed_era: bool) -> VerifyResult:
    """Recompute a chain from its rows in insertion order and compare with its stored head.

    `rows` are (seq, incident_id, ts, kind, actor, data, prev_hash, hash, alg, key_id); `head` is (seq, hash, mac).
    `keyed_era`: the incident was opened with audit keys (it is in the index), so unkeyed records in it are forged.
    """
    problems: list[str] = []
    prev, legacy = GENESIS, 0
    for expected_seq, row in enumerate(rows, start=1):
        seq, _, ts, kind, actor, data, prev_hash, stored, alg, key_id = row
        if seq != expected_seq:
            problems.append(f"record {expected_seq}: sequence number is {seq} (removed or reordered records)")
        if prev_hash != prev:
            problems.append(f"record {seq}: prev_hash does not match the previous record (chain broken)")
        if alg == ALG and key_id != key.key_id:
            problems.append(f"record {seq}: signed with audit key {key_id}, but the configured key is {key.key_id} (wrong key, or forged)")
        elif record_digest(record_body(incident_id, seq, ts, kind, actor, json.loads(data), prev_hash), alg, key) != stored:
            problems.append(f"record {seq}: content does not match its {'MAC' if alg == ALG else 'hash'} (edited)")
        if alg != ALG:
            legacy += 1
            if keyed_era:
                problems.append(f"record {seq}: unkeyed ({alg or LEGACY_ALG}) in an incident opened with audit keys (rewritten)")
        prev = stored
    if head is None:
        if rows:
            problems.append("chain head is missing")
    else:
        seq, digest, mac = head
        if not rows or seq != len(rows) or digest != prev:
            problems.append(f"chain head says {seq} records ending in {digest[:12]}, found {len(rows)} (records removed)")
        elif mac is not None and mac != head_mac(key, incident_id, seq, digest):
            problems.append("chain head MAC does not match (head rolled back or edited)")
        elif mac is None and legacy < len(rows):
            problems.append("chain head has no MAC although the chain has keyed records (head rewritten)")
    key_ids = {r[9] for r in rows if r[8] == ALG}
    return VerifyResult(incident_id=incident_id, ok=not problems, records=len(rows), problems=problems, legacy=legacy,
                        key_id=next(iter(key_ids)) if len(key_ids) == 1 else None)


class Anchor(BaseModel):
    """A snapshot of every chain head, to publish outside the trail (ticket, git, WORM storage)."""

    format: str = ANCHOR_FORMAT
    created_at: str
    key_id: str
    incidents: int = Field(description="Incident chains anchored (the index chain not counted).")
    records: int = Field(description="Records in every anchored chain, the index included.")
    root: str = Field(description="sha256 over every (chain, seq, head hash), sorted: the one value to publish.")
    heads: dict[str, tuple[int, str]] = Field(description="Chain -> (records, head hash).")
    mac: str = Field(description="HMAC of the anchor under the audit key (made by a key holder).")


def anchor_root(heads: dict[str, tuple[int, str]]) -> str:
    """The root hash of a set of chain heads."""
    return hashlib.sha256(canonical_json(sorted([k, v[0], v[1]] for k, v in heads.items())).encode()).hexdigest()


def make_anchor(heads: dict[str, tuple[int, str]], key: AuditKey) -> Anchor:
    """An anchor of these heads, signed with the key."""
    created = now_iso()
    root = anchor_root(heads)
    mac = key.mac(canonical_json({"root": root, "created_at": created}).encode())
    return Anchor(created_at=created, key_id=key.key_id, incidents=sum(1 for k in heads if k != INDEX_ID),
                  records=sum(v[0] for v in heads.values()), root=root, heads=heads, mac=mac)


def check_anchor(anchor: Anchor, now: dict[str, tuple[int, str | None]], key: AuditKey) -> list[str]:
    """Problems between an anchor and the trail now: `now[chain]` is (records now, stored hash of the anchored head record)."""
    problems = []
    if anchor.format != ANCHOR_FORMAT:
        return [f"anchor format {anchor.format!r} is not {ANCHOR_FORMAT}"]
    if anchor_root(anchor.heads) != anchor.root:
        problems.append("anchor: its root does not match its heads (the anchor file was edited)")
    if anchor.key_id != key.key_id:
        problems.append(f"anchor: made with audit key {anchor.key_id}, the configured key is {key.key_id}")
    elif key.mac(canonical_json({"root": anchor.root, "created_at": anchor.created_at}).encode()) != anchor.mac:
        problems.append("anchor: its MAC does not match (not made with this key, or edited)")
    for chain, (seq, digest) in sorted(anchor.heads.items()):
        count, stored = now.get(chain, (0, None))
        name = "the incident index" if chain == INDEX_ID else f"incident {chain}"
        if count == 0:
            problems.append(f"{name}: anchored with {seq} records, now has none (deleted)")
        elif count < seq or stored is None:
            problems.append(f"{name}: anchored with {seq} records, now has {count} (truncated)")
        elif stored != digest:
            problems.append(f"{name}: record {seq} differs from the anchored head {digest[:12]} (rewritten)")
    return problems
