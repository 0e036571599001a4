"""`recoverypbr users ...`, `recoverypbr audit verify` and `recoverypbr serve`'s refusal of a warehouse without users,
run in-process as a user would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from helpers import words
from typer.testing import CliRunner
from web.web_area import PASSWORD, USERS, WebArea, csrf

from recoverypbr.cli import app
from recoverypbr.warehouse.connection import open_warehouse

MakeClient = Callable[..., TestClient]
NEW_PASSWORD = "a fresh river of paper kites"


def cli(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, words(result.output)


def _twice(password: str) -> str:
    return f"{password}\n{password}\n"


def _sign_in_status(make_client: MakeClient, area: WebArea, user: str, password: str) -> int:
    client = make_client(area=area)
    token = csrf(client.get("/sign-in").text)
    response: Any = client.post("/sign-in", data={"user_name": user, "password": password, "csrf_token": token},
                                follow_redirects=False)
    return int(response.status_code)


def test_users_add_refuses_what_it_should(web_db: WebArea) -> None:
    db = str(web_db.db)
    code, out = cli("users", "add", "newbie", "--role", "finance", "--db", db, input=_twice("short"))
    assert code == 2 and "too short" in out
    code, out = cli("users", "add", "newbie", "--role", "finance", "--db", db, input=_twice("newbie"))
    assert code == 2
    code, out = cli("users", "add", "newbie", "--role", "treasurer", "--db", db, input=_twice(NEW_PASSWORD))
    assert code == 2 and "unknown role 'treasurer'" in out and "commissioner" in out
    code, out = cli("users", "add", "newbie", "--role", "provider", "--db", db, input=_twice(NEW_PASSWORD))
    assert code == 2 and "needs --provider" in out
    code, out = cli("users", "add", "newbie", "--role", "provider", "--provider", "P99", "--db", db,
                    input=_twice(NEW_PASSWORD))
    assert code == 2 and "unknown provider 'P99'" in out
    code, out = cli("users", "add", "newbie", "--role", "finance", "--provider", "P01", "--db", db,
                    input=_twice(NEW_PASSWORD))
    assert code == 2 and "only for the provider role" in out
    code, out = cli("users", "add", "pat", "--role", "provider", "--provider", "P01", "--db", db,
                    input=_twice(NEW_PASSWORD))
    assert code == 2 and "already a user 'pat'" in out
    code, out = cli("users", "add", "newbie", "--role", "finance", "--db", db,
                    input=f"{NEW_PASSWORD}\n{NEW_PASSWORD} but different\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert code == 0, out  # a mistyped confirmation asks again
    with open_warehouse(web_db.db) as wh:
        names = [r[0] for r in wh.execute("SELECT user_name FROM web_users ORDER BY 1")]
    assert names == sorted([*USERS, "newbie"])


def test_users_add_list_disable_reset(web_db: WebArea, make_client: MakeClient) -> None:
    db = str(web_db.db)
    code, out = cli("users", "add", "pia", "--role", "provider", "--provider", "P02", "--db", db,
                    input=_twice(NEW_PASSWORD))
    assert code == 0, out
    assert "Added pia (provider, provider P02)" in out
    assert NEW_PASSWORD not in out

    code, out = cli("users", "list", "--db", db)
    assert code == 0, out
    for name in [*USERS, "pia"]:
        assert name in out
    with open_warehouse(web_db.db) as wh:
        hashes = [str(r[0]) for r in wh.execute("SELECT password_hash FROM web_users")]
    assert "$argon2" not in out and not any(h in out or h.split("$")[-1] in out for h in hashes)
    assert PASSWORD not in out and NEW_PASSWORD not in out

    assert _sign_in_status(make_client, web_db, "pia", NEW_PASSWORD) == 303
    code, out = cli("users", "disable", "pia", "--db", db)
    assert code == 0 and "Disabled pia" in out
    assert "disabled" in cli("users", "list", "--db", db)[1]
    assert _sign_in_status(make_client, web_db, "pia", NEW_PASSWORD) == 401
    code, out = cli("users", "disable", "nobody", "--db", db)
    assert code == 2 and "no user 'nobody'" in out

    code, out = cli("users", "disable", "pia", "--enable", "--db", db)
    assert code == 0 and "Enabled pia" in out
    code, out = cli("users", "reset", "pia", "--db", db, input=_twice("tiny"))
    assert code == 2 and "too short" in out
    code, out = cli("users", "reset", "pia", "--db", db, input=_twice("another long passphrase here"))
    assert code == 0 and "Set a new password for pia" in out
    assert _sign_in_status(make_client, web_db, "pia", NEW_PASSWORD) == 401
    assert _sign_in_status(make_client, web_db, "pia", "another long passphrase here") == 303

    with open_warehouse(web_db.db) as wh:
        logged = wh.execute("SELECT action, target FROM audit_log WHERE actor = '(command line)' ORDER BY seq")
        detail = " ".join(str(v) for row in wh.execute("SELECT * FROM audit_log") for v in row)
    assert ("user added", "user:pia") in logged and ("user disabled", "user:pia") in logged
    assert ("password reset", "user:pia") in logged
    assert NEW_PASSWORD not in detail and "another long passphrase" not in detail


def test_audit_verify_finds_an_edited_and_a_deleted_entry(web_db: WebArea, make_client: MakeClient) -> None:
    client = make_client("fin", area=web_db)
    for _ in range(3):
        assert client.get("/adjustments").status_code == 200
    db = str(web_db.db)
    code, out = cli("audit", "verify", "--db", db)
    assert code == 0, out
    assert "The audit log holds" in out
    with open_warehouse(web_db.db) as wh:
        total = int(wh.execute("SELECT count(*) FROM audit_log")[0][0])
        middle = total // 2
        (actor,) = wh.execute("SELECT actor FROM audit_log WHERE seq = ?", [middle])[0]
        wh.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = ?", [middle])
    assert total >= 4
    code, out = cli("audit", "verify", "--db", db)
    assert code == 1
    assert f"broken at entry {middle} of {total}" in out and "changed after it was written" in out

    with open_warehouse(web_db.db) as wh:
        wh.execute("UPDATE audit_log SET actor = ? WHERE seq = ?", [actor, middle])
    assert cli("audit", "verify", "--db", db)[0] == 0  # put back as it was, the chain holds again

    with open_warehouse(web_db.db) as wh:
        wh.execute("DELETE FROM audit_log WHERE seq = ?", [middle])
    code, out = cli("audit", "verify", "--db", db)
    assert code == 1
    assert f"broken at entry {middle + 1}" in out and f"entry {middle} is missing" in out


def test_serve_refuses_a_warehouse_without_users(tmp_path: Path, web_area: WebArea) -> None:
    db = tmp_path / "empty.duckdb"
    with open_warehouse(db):
        pass
    code, out = cli("serve", "--contract", str(web_area.contract), "--db", str(db))
    assert code == 2
    assert "has no users, so no one could sign in" in out and "recoverypbr users add" in out
    code, out = cli("serve", "--contract", str(web_area.contract), "--db", str(tmp_path / "missing.duckdb"))
    assert code == 2 and "no warehouse at" in out
