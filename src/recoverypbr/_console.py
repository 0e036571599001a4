"""What every command shares: the console, how project errors reach the user, and how `--help` shows flags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

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


def _plain_flags(params: list[Any]) -> list[Any]:
    """The params with every flag (an option taking no value: `--debug`, `--help`) given an empty metavar, so that
    Typer's Rich help shows `--debug` rather than `--debug <bool>` (it prints a type for flags too, as if they took
    a value)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class PlainFlagsGroup(TyperGroup):
    """A command group whose help, and every subcommand's help, shows flags as flags (pass as `typer.Typer(cls=...)`
    to the app and to each sub-app)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            # The help option is made once per command and kept: giving it (and the flags) an empty metavar here
            # lasts for the subcommand's own help.
            _plain_flags(command.get_params(ctx))
        return command
