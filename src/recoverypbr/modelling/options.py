"""What the `model` commands share: their common options and how figures are written for people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

BaselineOption = Annotated[
    Path, typer.Option("--baseline", help="The baseline folder (or its baseline.json) from model baseline.")
]
RunsOption = Annotated[int, typer.Option("--runs", help="Simulated runs.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the random draws: the same seed, the same figures.")]


def money(value: Any) -> str:
    """Pounds to the penny (`£1,234.50`); empty for none."""
    return "" if value is None else f"£{value:,.2f}"


def whole_pounds(value: Any) -> str:
    """Pounds to the pound (`£1,235`); empty for none."""
    return "" if value is None else f"£{value:,.0f}"


def share(value: Any) -> str:
    """A fraction as a percentage to one place (`12.5%`); empty for none."""
    return "" if value is None else f"{value * 100:.1f}%"
