"""What every command shares: the console, how tables are printed, how project errors reach the user, and how
`--help` shows flags."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from recoverypbr.errors import RecoveryPbrError
from recoverypbr.warehouse.connection import MEMORY_ENV

console = Console()
#: Set by the main app's --debug: errors then show their traceback.
debug_mode = {"on": False}


def _plain(cell: Any) -> str:
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def _widest(texts: Sequence[str], words: bool = False) -> int:
    """The widest line (or, with `words`, the widest word) of the texts, in terminal cells."""
    parts = [part for text in texts for part in (text.split() if words else text.splitlines())]
    return max((cell_len(part) for part in parts), default=1)


def print_table(table: Table, notes: Sequence[str] = ()) -> None:
    """Print a table so that nothing in it is cut, in a narrow terminal or a pipe (80 columns), then its notes.

    A table that fits is printed as it is. Otherwise it is printed compactly (no box, two spaces between columns):
    right-justified columns (numbers) keep their widest value and only their headers wrap; the other columns (words)
    wrap at spaces, the widest first, never narrower than their longest word or, if need be, 16 characters (a longer
    word, such as an outcome id, then folds onto the next line, whole). A table too wide even so is printed as one
    block per row, each value under its column's name."""
    cells = [[_plain(column.header)] + [_plain(cell) for cell in column.cells] for column in table.columns]
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = False
    natural = [_widest(texts) for texts in cells]
    if sum(natural) <= _room(table, natural):
        console.print(table)
    else:
        table.box, table.show_edge, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, False, True
        room = _room(table, natural)
        widths = _fitted(table, cells, natural, room)
        if widths is None:
            _print_rows(table)
        else:
            for column, width in zip(table.columns, widths, strict=True):
                column.width = width
            console.print(table)
    for note in notes:
        console.print(note, highlight=False)


#: The narrowest a column of words may be made when a table is too wide for the terminal: longer words fold.
FOLD_AT = 16


def _room(table: Table, natural: list[int]) -> int:
    """The console's width less the table's borders and padding: what its columns' contents may take."""
    overhead = Measurement.get(console, console.options.update_width(10_000), table).maximum - sum(natural)
    return console.width - overhead


def _fitted(table: Table, cells: list[list[str]], natural: list[int], room: int) -> list[int] | None:
    """Column widths within `room`, the widest column narrowed first, one cell at a time: a number column never
    below its widest value (nor its header's longest word), a word column never below its longest word; then, if
    need be, word columns down to `FOLD_AT`. None when that is still too wide."""
    numbers = [column.justify == "right" for column in table.columns]
    widths = list(natural)
    for fold_at in (None, FOLD_AT):
        floors = [max(_widest(texts[1:]), _widest(texts[:1], words=True)) if number
                  else min(_widest(texts, words=True), fold_at or natural[i])
                  for i, (texts, number) in enumerate(zip(cells, numbers, strict=True))]
        while sum(widths) > room:
            narrower = [i for i, width in enumerate(widths) if width > floors[i]]
            if not narrower:
                break
            widths[max(narrower, key=lambda i: widths[i])] -= 1
        if sum(widths) <= room:
            return widths
    return None


def _print_rows(table: Table) -> None:
    """The table as one block per row: the row's first value, then each other value under its column's name."""
    if table.title:
        console.print(Text.from_markup(table.title, style="italic") if isinstance(table.title, str) else table.title)
    names = [_plain(column.header) for column in table.columns]
    rows = list(zip(*(list(column.cells) for column in table.columns), strict=True))
    for row in rows:
        console.print(Text(f"{names[0]}: ", style="bold") + Text(_plain(row[0])))
        for name, cell in zip(names[1:], row[1:], strict=True):
            console.print(Text(f"  {name}: {_plain(cell)}"))


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
    except duckdb.OutOfMemoryException as exc:
        if debug_mode["on"]:
            raise
        # The embedded warehouse could not fit a step in its memory limit (and could not spill it to disk).
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.print(f"[bold red]Error:[/] the warehouse ran out of memory: {first}", highlight=False)
        console.print(f"[yellow]Hint:[/] raise the limit with the {MEMORY_ENV} environment variable (such as "
                      f"{MEMORY_ENV}=8GB; the default is 80% of this machine's memory), or close other programs, "
                      "then run the command again (the step that ran out left nothing half-written)",
                      highlight=False)
        raise typer.Exit(2) from None
    except Exception as exc:
        if debug_mode["on"] or not type(exc).__module__.startswith("psycopg"):
            raise
        # A PostgreSQL warehouse's server refused a statement or went away mid-command: say so, without a traceback.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.print(f"[bold red]Error:[/] the PostgreSQL server: {first}", highlight=False)
        console.print("[yellow]Hint:[/] check the server is running and that the user may read and write the "
                      "warehouse's tables (docs/postgresql.md); nothing of this command was committed unless it "
                      "said so", highlight=False)
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
