"""Commands `recoverypbr serve`, `recoverypbr users ...` and `recoverypbr audit verify`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recoverypbr._console import PlainFlagsGroup, console, print_table, user_errors
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.warehouse.connection import (
    DB_HELP,
    DEFAULT_DB,
    Warehouse,
    describe_db,
    open_warehouse,
    warehouse_exists,
)
from recoverypbr.web import audit
from recoverypbr.web.users import ROLE_WORDS, ROLES, add_user, list_users, reset_password, set_disabled

DbOption = Annotated[Path, typer.Option("--db", help=DB_HELP, show_default=True)]
users_app = typer.Typer(cls=PlainFlagsGroup, help="The web app's users: add, list, disable, reset a password.",
                        no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(cls=PlainFlagsGroup, help="The web app's tamper-evident audit log.", no_args_is_help=True,
                        add_completion=False)


def _existing(db: Path) -> Warehouse:
    if not warehouse_exists(db):
        raise RecoveryPbrError(f"no warehouse at {db}", hint="load an extract first (recoverypbr load) or pass --db")
    return open_warehouse(db)


def _password(confirm: bool = True) -> str:
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user name they sign in with.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    provider: Annotated[str | None, typer.Option("--provider", help="The provider id (provider role only).")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add a user; the password is prompted for (twice) and stored only as an Argon2 hash."""
    with user_errors(), _existing(db) as wh:
        if role not in ROLES:
            raise RecoveryPbrError(f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}")
        user = add_user(wh, name, role, provider, _password(), datetime.now(UTC))
        audit.append(wh, datetime.now(UTC), "(command line)", "-", "user added", f"user:{name}", role)
    console.print(f"Added {user.user_name} ({user.role}{f', provider {user.provider_id}' if user.provider_id else ''}"
                  f"): {ROLE_WORDS[user.role]}.", highlight=False)


@users_app.command("list")
def users_list(db: DbOption = DEFAULT_DB) -> None:
    """Every user with their role, provider and whether they are disabled (never a password or hash)."""
    with user_errors(), _existing(db) as wh:
        rows = list_users(wh)
    table = Table(title=f"Users of {db}")
    for name in ("user", "role", "provider", "status", "added", "password set"):
        table.add_column(name)
    for r in rows:
        table.add_row(str(r["user_name"]), str(r["role"]), str(r["provider_id"] or ""),
                      "disabled" if r["disabled"] else "active", str(r["created_at"])[:16],
                      str(r["password_set_at"])[:16])
    print_table(table, [] if rows else ["No users yet: `recoverypbr users add NAME --role ROLE` adds one."])


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="The user name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again instead.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Disable a user (they cannot sign in; a running server ends their sessions at their next request)."""
    with user_errors(), _existing(db) as wh:
        set_disabled(wh, name, not enable)
        audit.append(wh, datetime.now(UTC), "(command line)", "-", "user enabled" if enable else "user disabled",
                     f"user:{name}")
    console.print(f"{'Enabled' if enable else 'Disabled'} {name}.", highlight=False)


@users_app.command("reset")
def users_reset(name: Annotated[str, typer.Argument(help="The user name.")], db: DbOption = DEFAULT_DB) -> None:
    """Set a new password for a user (prompted for twice)."""
    with user_errors(), _existing(db) as wh:
        reset_password(wh, name, _password(), datetime.now(UTC))
        audit.append(wh, datetime.now(UTC), "(command line)", "-", "password reset", f"user:{name}")
    console.print(f"Set a new password for {name}.", highlight=False)


@audit_app.command("verify")
def audit_verify(db: DbOption = DEFAULT_DB) -> None:
    """Check the audit log's hash chain from its first entry to its last; say where it breaks."""
    with user_errors(), _existing(db) as wh:
        result = audit.verify_chain(wh)
    if result.broken_at is None:
        console.print(f"The audit log holds: {result.entries:,} entries, each chained to the one before.",
                      highlight=False)
        return
    console.print(f"[bold red]The audit log is broken at entry {result.broken_at}[/] of {result.entries:,}: "
                  f"{result.reason}. Entries before it hold; restore the warehouse from a backup taken before the "
                  "change and compare.", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def serve_command(
    contract: Annotated[Path, typer.Option("--contract", help="The contract file (YAML) the warehouse is paid by.")],
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    reports: Annotated[Path | None, typer.Option(
        "--reports", help="Folder holding the model/ and assurance/ reports (default: the warehouse's folder)."
    )] = None,
    session_minutes: Annotated[int, typer.Option("--session-minutes",
                                                 help="Minutes without use before a session ends.")] = 30,
) -> None:
    """Start the web app on the warehouse: every role signs in (users come from `recoverypbr users add`).

    Stop it (Ctrl+C) before running commands that write to the same warehouse file; DuckDB allows one writer."""
    from datetime import timedelta

    import uvicorn

    from recoverypbr.web.app import create_app
    from recoverypbr.web.context import Settings

    with user_errors():
        if not warehouse_exists(db):
            raise RecoveryPbrError(f"no warehouse at {db}",
                                   hint="load an extract first (recoverypbr load) or pass --db")
        with open_warehouse(db) as wh:
            count = len(list_users(wh))
        if count == 0:
            raise RecoveryPbrError(f"the warehouse {describe_db(db)} has no users, so no one could sign in",
                                   hint="add one with `recoverypbr users add NAME --role commissioner --db "
                                        f"{db}` (or run `recoverypbr demo`)")
        app = create_app(Settings(db=db, contract=contract, reports=reports,
                                  idle=timedelta(minutes=session_minutes)))
    console.print(f"recoverypbr web app on http://{host}:{port}/ (warehouse {describe_db(db)}, {count} users). "
                  "Ctrl+C stops it.", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=True)
