"""Server-side sessions, CSRF tokens and the sign-in attempt limit, held in the server's memory.

A session id is 32 random bytes in a Secure, HttpOnly, SameSite=Lax cookie; the server keeps what it means. Signing
in always issues a new id (no session fixation), signing out forgets it, and a session ends after `idle` without a
request or `absolute` after sign-in, whichever is first. A restart signs everyone out."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

COOKIE = "recoverypbr_session"


@dataclass
class Session:
    session_id: str
    csrf: str
    started: datetime
    seen: datetime
    user_name: str | None = None
    flash: list[str] = field(default_factory=list)


class Sessions:
    """Every live session, by id."""

    def __init__(self, idle: timedelta, absolute: timedelta, limit: int = 100_000) -> None:
        self.idle, self.absolute, self.limit = idle, absolute, limit
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, now: datetime, user_name: str | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, user_name)
        with self._lock:
            if len(self._by_id) >= self.limit:
                self._sweep(now)
            if len(self._by_id) >= self.limit:  # still full: drop the longest idle anonymous ones first
                for old in sorted(self._by_id.values(), key=lambda s: (s.user_name is not None, s.seen))[:1000]:
                    self._by_id.pop(old.session_id, None)
            self._by_id[session.session_id] = session
        return session

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        """The live session with this id (its idle clock restarted), or None when unknown or expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if self.expired(session, now):
                del self._by_id[session_id]
                return None
            session.seen = now
            return session

    def expired(self, session: Session, now: datetime) -> bool:
        return now - session.seen > self.idle or now - session.started > self.absolute

    def end(self, session_id: str) -> None:
        with self._lock:
            self._by_id.pop(session_id, None)

    def end_user(self, user_name: str) -> None:
        with self._lock:
            for sid in [s.session_id for s in self._by_id.values() if s.user_name == user_name]:
                del self._by_id[sid]

    def _sweep(self, now: datetime) -> None:
        for sid in [s.session_id for s in self._by_id.values() if self.expired(s, now)]:
            del self._by_id[sid]


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class AttemptLimit:
    """At most `limit` failed sign-ins per user name, and `address_limit` per client address, within `window`.

    The address's limit is higher: people behind one office address share it, and a few colleagues' typos must not
    lock them all out; it still stops one machine trying many user names."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15), address_limit: int = 50) -> None:
        self.limit, self.window, self.address_limit = limit, window, address_limit
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _limit_of(self, key: str) -> int:
        return self.address_limit if key.startswith("address:") else self.limit

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked_for(self, keys: list[str], now: datetime) -> timedelta | None:
        """How long until another attempt is allowed, or None when it is allowed now."""
        with self._lock:
            waits = [times[0] + self.window - now for key in keys
                     if len(times := self._recent(key, now)) >= self._limit_of(key)]
        return max(waits) if waits else None

    def failed(self, keys: list[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
