"""The tamper-evident audit log: every sign-in, view of client-level data, download, upload and approval.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields (canonical JSON), so editing,
deleting, inserting or reordering an entry breaks the chain from that entry on; `verify_chain` says where. Entries
name people by user name and clients only by pseudonymous ids."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recoverypbr.warehouse.connection import Warehouse

#: The hash the first entry chains from.
GENESIS = "0" * 64
_FIELDS = ("seq", "logged_at", "actor", "role", "action", "target", "detail")
_lock = threading.Lock()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = json.dumps({k: str(entry[k]) if k == "logged_at" else entry[k] for k in _FIELDS}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


def _last(wh: Warehouse) -> tuple[int, str]:
    last = wh.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(last[0][0]), str(last[0][1])) if last else (0, GENESIS)


def _insert(wh: Warehouse, last: tuple[int, str], at: datetime, actor: str, role: str, action: str, target: str,
            detail: str) -> tuple[int, str]:
    seq, prev = last[0] + 1, last[1]
    entry = {"seq": seq, "logged_at": at.replace(tzinfo=None), "actor": actor, "role": role, "action": action,
             "target": target, "detail": detail}
    digest = entry_hash(prev, entry)
    wh.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [seq, entry["logged_at"], actor, role, action, target, detail, prev, digest])
    return seq, digest


def append(wh: Warehouse, at: datetime, actor: str, role: str, action: str, target: str = "", detail: str = "") -> int:
    """Append one entry, chained to the last one in the warehouse; return its sequence number."""
    with _lock:
        return _insert(wh, _last(wh), at, actor, role, action, target, detail)[0]


class Chain:
    """The server's writer of the log: it is the warehouse's only writer while it runs, so it keeps the last entry's
    number and hash in memory and appends with one insert (no read of the log per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[int, str] | None = None

    def append(self, wh: Warehouse, at: datetime, actor: str, role: str, action: str, target: str = "",
               detail: str = "") -> int:
        with self._lock:
            last = self._last if self._last is not None else _last(wh)
            try:
                with wh.savepoint():  # on PostgreSQL a refused insert must not end an enclosing transaction
                    self._last = _insert(wh, last, at, actor, role, action, target, detail)
            except Exception as exc:
                if not wh.is_constraint_violation(exc):
                    raise
                # Another writer appended since (the command line before this server, another app on the file in
                # the same process): chain to the entry that is really last, then keep going from there.
                self._last = _insert(wh, _last(wh), at, actor, role, action, target, detail)
            return self._last[0]


@dataclass(frozen=True)
class Verified:
    entries: int
    broken_at: int | None
    """The sequence number of the first entry that does not chain, or None when the whole chain holds."""
    reason: str


def verify_chain(wh: Warehouse) -> Verified:
    """Walk the log in order, recomputing every hash."""
    rows = wh.execute("SELECT seq, logged_at, actor, role, action, target, detail, prev_hash, hash FROM audit_log "
                      "ORDER BY seq")
    prev, expected_seq = GENESIS, 1
    for row in rows:
        entry = dict(zip((*_FIELDS, "prev_hash", "hash"), row, strict=True))
        seq = entry["seq"]
        if seq != expected_seq:
            return Verified(len(rows), seq, f"entry {expected_seq} is missing (the next entry is {seq})")
        if entry["prev_hash"] != prev:
            return Verified(len(rows), seq, f"entry {seq} does not name the hash of entry {seq - 1}: an entry "
                                            "before it was changed, removed or reordered")
        if entry_hash(prev, entry) != entry["hash"]:
            return Verified(len(rows), seq, f"entry {seq} was changed after it was written (its hash does not "
                                            "match its fields)")
        prev, expected_seq = entry["hash"], seq + 1
    return Verified(len(rows), None, "")


def recent(wh: Warehouse, limit: int = 200) -> list[dict[str, Any]]:
    rows = wh.execute("SELECT seq, logged_at, actor, role, action, target, detail FROM audit_log "
                      "ORDER BY seq DESC LIMIT ?", [limit])
    return [dict(zip(_FIELDS, r, strict=True)) for r in rows]
