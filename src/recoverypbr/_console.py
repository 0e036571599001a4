"""What every command shares: the console, and how project errors reach the user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from recoverypbr.errors import RecoveryPbrError

console = Console()
#: Set by the main app's --debug: errors then show their traceback.
debug_mode = {"on": False}


@contextmanager
def user_errors() -> Iterator[None]:
    """Print project errors as a message and a hint, exit 2; with the main app's --debug, show the traceback."""
    try:
        yield
    except RecoveryPbrError as exc:
        if debug_mode["on"]:
            raise
        console.print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        if exc.hint:
            console.print(f"[yellow]Hint:[/] {exc.hint}", highlight=False)
        raise typer.Exit(2) from None
