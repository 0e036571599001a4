"""Shared by the web tests: a small area served by the web app (two providers, draft statements, users).

`web_area` is built once per test process (synthetic area, load, pay 2013-Q1 into a set); `web_db` copies its
warehouse for a test that writes (approve, upload); `client_for(role)` gives a signed-in TestClient."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
PASSWORD = "correct horse battery staple"
#: user name -> (role, provider)
USERS = {
    "cora": ("commissioner", None),
    "fin": ("finance", None),
    "lara": ("lasars", None),
    "pat": ("provider", "P01"),
    "quin": ("provider", "P02"),
    "aud": ("auditor", None),
}
ROLE_USER = {"commissioner": "cora", "finance": "fin", "lasars": "lara", "provider": "pat", "auditor": "aud"}
PERIOD = "2013-Q1"


@dataclass(frozen=True)
class WebArea:
    folder: Path
    db: Path
    contract: Path
    statements: Path




def csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> None:
    token = csrf(client.get("/sign-in").text)
    response = client.post("/sign-in", data={"user_name": user, "password": password, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def copy_area(area: WebArea, folder: Path) -> WebArea:
    """A copy of the area in `folder` that a test may write to (its statement sets re-recorded at the new folder)."""
    from recoverypbr.warehouse.connection import open_warehouse

    shutil.copytree(area.folder, folder, symlinks=True)
    db = folder / "recoverypbr.duckdb"
    with open_warehouse(db) as wh:
        wh.execute("UPDATE statement_sets SET folder = ?", [str((folder / "statements").resolve())])
    return WebArea(folder, db, area.contract, folder / "statements")
