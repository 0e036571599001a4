"""Fixtures of the web tests (see web_area.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web.web_area import CONTRACT, PASSWORD, PERIOD, USERS, WebArea, copy_area, sign_in

from recoverypbr.contract.load import load_contract
from recoverypbr.data.ingest import load_extract
from recoverypbr.payments.cli import write_period_set
from recoverypbr.payments.run import make_statements, statement_period
from recoverypbr.payments.set_records import SetRecord
from recoverypbr.reports import FORMATS
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import open_warehouse
from recoverypbr.web.app import create_app
from recoverypbr.web.context import Settings
from recoverypbr.web.users import add_user


@pytest.fixture(scope="session")
def web_area(tmp_path_factory: pytest.TempPathFactory) -> WebArea:
    folder = tmp_path_factory.mktemp("web-area")
    model = load_contract(CONTRACT)
    generate_area(400, 7, folder / "extract", "csv", dirty=True, contract=model)
    db = folder / "recoverypbr.duckdb"
    with open_warehouse(db) as wh:
        load_extract(wh, folder / "extract")
        period = statement_period(model, PERIOD)
        made = make_statements(wh, model, period, period.end)
        record = SetRecord((folder / "statements").resolve(), period.end, None, FORMATS)
        write_period_set(wh, model, period, record, made, datetime(2026, 1, 5, tzinfo=UTC))
        for name, (role, provider) in USERS.items():
            add_user(wh, name, role, provider, PASSWORD, datetime(2026, 1, 5, tzinfo=UTC))
    return WebArea(folder, db, CONTRACT, folder / "statements")


@pytest.fixture
def web_db(web_area: WebArea, tmp_path: Path) -> WebArea:
    """A copy of the area a test may write to (its statement sets too, re-recorded at the new folder)."""
    return copy_area(web_area, tmp_path / "area")


@pytest.fixture
def make_client(web_area: WebArea) -> Iterator[Callable[..., TestClient]]:
    """`make_client(user=None, area=None, **settings)`: a TestClient on the app (signed in as `user`)."""
    opened: list[TestClient] = []

    def make(user: str | None = None, area: WebArea | None = None, **settings: object) -> TestClient:
        chosen = area or web_area
        app = create_app(Settings(db=chosen.db, contract=chosen.contract, **settings))  # type: ignore[arg-type]
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        opened.append(client)
        if user:
            sign_in(client, user)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
