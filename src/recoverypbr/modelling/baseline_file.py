"""The baseline as a file: what `model baseline` writes and `model tariffs|risk|compare|gaming` read.

A baseline folder holds `baseline.json` (this module's `Baseline`, every figure) and CSV copies of its tables for
spreadsheets. Rates and interval ends are decimal strings (exact, as computed), counts are integers, dates ISO.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from recoverypbr.errors import RecoveryPbrError

KIND = "recoverypbr.baseline"
VERSION = 1
FILE = "baseline.json"
#: Cells with fewer eligible clients than this are flagged `small` (official statistics suppress them).
SMALL_CELL = 10


class BaselineError(RecoveryPbrError):
    """A baseline that cannot be made or read."""


@dataclass(frozen=True)
class Cell:
    """One outcome x complexity group: eligible clients (episodes started in the window that the outcome could be
    decided for), those achieving it, the rate with its 95% interval, and days from episode start to achievement."""

    outcome_id: str
    complexity_group: str
    eligible: int
    achieved: int
    rate: str
    low: str
    high: str
    interval: str
    lag_q1: int | None
    lag_median: int | None
    lag_q3: int | None
    small: bool


@dataclass(frozen=True)
class Flow:
    """New presentations (episodes started) in one calendar month of the window, per complexity group."""

    month: str
    complexity_group: str
    new: int


@dataclass(frozen=True)
class Stock:
    """Clients in treatment on the go-live day (an episode started before it and not discharged), per group."""

    complexity_group: str
    clients: int


@dataclass(frozen=True)
class Baseline:
    """Every figure of a baseline, with where it came from."""

    contract_area: str
    contract_version: date
    contract_sha256: str
    window_from: date
    window_to: date
    go_live: date
    as_of: date
    groups: tuple[str, ...]
    cells: tuple[Cell, ...]
    flow: tuple[Flow, ...]
    stock: tuple[Stock, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def cell(self, outcome_id: str, group: str) -> Cell | None:
        return next((c for c in self.cells if c.outcome_id == outcome_id and c.complexity_group == group), None)

    def months(self) -> list[str]:
        return sorted({f.month for f in self.flow})

    def new_per_year(self, group: str) -> float:
        """New presentations of a group per 12 months of the window (the window's count scaled to a year)."""
        months = len(self.months()) or 1
        return sum(f.new for f in self.flow if f.complexity_group == group) * 12 / months

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        for key in ("contract_version", "window_from", "window_to", "go_live", "as_of"):
            doc[key] = doc[key].isoformat()
        return {"kind": KIND, "version": VERSION, **doc}


def write_baseline(baseline: Baseline, folder: Path) -> Path:
    """Write `baseline.json` into the folder (made if need be); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    path.write_text(json.dumps(baseline.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_baseline(path: Path) -> Baseline:
    """A baseline from `baseline.json` or the folder holding it; a clear error for anything else."""
    file = path / FILE if path.is_dir() else path
    if not file.exists():
        raise BaselineError(f"no baseline at {path}",
                            hint="make one with: recoverypbr model baseline --contract F --from D --to D --out DIR")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BaselineError(f"{file} is not a readable baseline: {e}") from e
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise BaselineError(f"{file} is not a recoverypbr baseline (no kind {KIND!r})")
    if doc.get("version") != VERSION:
        raise BaselineError(f"{file} is baseline format {doc.get('version')}; this program reads {VERSION}",
                            hint="make the baseline again with this program's model baseline")
    try:
        return Baseline(
            contract_area=doc["contract_area"],
            contract_version=date.fromisoformat(doc["contract_version"]),
            contract_sha256=doc["contract_sha256"],
            window_from=date.fromisoformat(doc["window_from"]),
            window_to=date.fromisoformat(doc["window_to"]),
            go_live=date.fromisoformat(doc["go_live"]),
            as_of=date.fromisoformat(doc["as_of"]),
            groups=tuple(doc["groups"]),
            cells=tuple(Cell(**c) for c in doc["cells"]),
            flow=tuple(Flow(**f) for f in doc["flow"]),
            stock=tuple(Stock(**s) for s in doc["stock"]),
            notes=tuple(doc.get("notes", ())),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BaselineError(f"{file} is an incomplete baseline: {e}") from e
