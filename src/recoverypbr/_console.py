"""What every command shares: the console, and how project errors reach the user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar driven by the library's progress(step, done, total) callbacks (hidden off a terminal)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=f"{label}: {step}" if step else label, completed=done, total=total)

        yield update
