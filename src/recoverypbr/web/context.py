"""What the app holds while it runs: the settings, the open warehouse, the contract, sessions and the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from recoverypbr.contract.model import Contract
from recoverypbr.warehouse.connection import Warehouse, is_postgres, open_warehouse, resolve_db
from recoverypbr.web import audit
from recoverypbr.web.sessions import AttemptLimit, Sessions
from recoverypbr.web.users import User, get_user

#: The largest upload accepted, by default (an area's yearly extract as a zipped CSV folder fits well within it).
MAX_UPLOAD = 50 * 1024 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    db: Path
    contract: Path
    #: Folder holding the `model/` and `assurance/` reports (default: the warehouse's folder).
    reports: Path | None = None
    #: Where uploads are unpacked while they are loaded (default: a temporary folder).
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=8)
    max_upload: int = MAX_UPLOAD
    #: Secure cookies: True except in tests that speak plain HTTP to a server that is not on localhost.
    secure_cookies: bool = True
    clock: Callable[[], datetime] = utc_now
    #: The as-of date for explanations and client pages when none is asked for (default: the contract's last day or
    #: the latest data, whichever is earlier).
    as_of: date | None = None


@dataclass
class WebContext:
    settings: Settings
    contract: Contract
    warehouse: Warehouse
    sessions: Sessions
    attempts: AttemptLimit = field(default_factory=AttemptLimit)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    chain: audit.Chain = field(default_factory=audit.Chain)
    _local: threading.local = field(default_factory=threading.local)

    @classmethod
    def open(cls, settings: Settings, contract: Contract) -> WebContext:
        # On PostgreSQL each write waits for other writers in its own transaction, not for the app's whole life.
        wh = open_warehouse(settings.db, lock=False)
        return cls(settings, contract, wh, Sessions(settings.idle, settings.absolute))

    def close(self) -> None:
        self.warehouse.close()

    def now(self) -> datetime:
        return self.settings.clock()

    @property
    def wh(self) -> Warehouse:
        """This thread's connection to the warehouse (DuckDB connections are not shared across threads)."""
        wh: Warehouse | None = getattr(self._local, "wh", None)
        if wh is None:
            wh = self.warehouse.cursor()
            self._local.wh = wh
        return wh

    @contextmanager
    def writing(self) -> Iterator[Warehouse]:
        """One writer at a time (an approval or an upload), in its own transaction."""
        with self.write_lock:
            wh = self.wh
            yield wh

    def user(self, name: str) -> User | None:
        return get_user(self.wh, name)

    def log(self, actor: str, role: str, action: str, target: str = "", detail: str = "") -> None:
        self.chain.append(self.wh, self.now(), actor, role, action, target, detail)

    @property
    def reports(self) -> Path:
        if self.settings.reports:
            return self.settings.reports
        return Path.cwd() if is_postgres(resolve_db(self.settings.db)) else self.settings.db.resolve().parent
