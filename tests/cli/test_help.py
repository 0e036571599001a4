"""`--help` of every command, as a user reads it (issue 11, defect 14): a flag is shown as a flag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from recoverypbr.cli import app

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command and group of the app, the app itself first (a group has `commands`)."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_walked() -> None:
    assert {("pay",), ("approve",), ("demo",), ("synth",), ("quarantine",), ("contract",)} <= set(COMMANDS)
    assert any(len(path) == 2 and path[0] == "contract" for path in COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "recoverypbr")
def test_help_shows_flags_as_flags_not_bool_values(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_the_main_flags_read_plainly() -> None:
    output = runner.invoke(app, ["--help"], terminal_width=100).output
    debug = next(line for line in output.splitlines() if "--debug" in line)
    assert "Show tracebacks" in debug and "<" not in debug
    dirty = next(line for line in runner.invoke(app, ["synth", "--help"], terminal_width=100).output.splitlines()
                 if "--dirty" in line)
    assert "<" not in dirty
