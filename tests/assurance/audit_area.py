"""The small audit area (tests/fixtures/assurance/area.yaml) as a warehouse file and a contract file, and the audit
commands run in-process through a Typer app that registers them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
import yaml
from helpers import FIXTURES, words
from typer.testing import CliRunner

from recoverypbr.assurance.audit_cli import register
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows
from recoverypbr.warehouse.connection import open_warehouse

AREA = FIXTURES / "assurance" / "area.yaml"


def area_case() -> dict[str, Any]:
    return dict(yaml.safe_load(AREA.read_text(encoding="utf-8")))


def make_area(folder: Path) -> tuple[Path, Path]:
    """(contract file, warehouse file) of the fixture area, in the folder."""
    case = area_case()
    merged = BASE_CONTRACT | case["contract"]
    contract = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in merged.items()}
    contract["years"] = [{k: str(v) for k, v in y.items()} for y in contract["years"]]
    contract_file = folder / "contract.yaml"
    contract_file.write_text(yaml.safe_dump(contract), encoding="utf-8")
    db = folder / "area.duckdb"
    with open_warehouse(db) as wh:
        for name, rows in case["input"].items():
            wh.insert(name, wh.register_arrow(f"_{name}", arrow_rows(name, rows)))
            wh.unregister(f"_{name}")
    return contract_file, db


def audit_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def run(*args: str, code: int = 0) -> str:
    """Run an audit command; it must exit with `code`; its output with wrapping undone."""
    result = CliRunner().invoke(audit_app(), list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return words(result.output)


def count(db: Path, table: str) -> int:
    with open_warehouse(db, read_only=True) as wh:
        return int(wh.execute(f"SELECT count(*) FROM {table}")[0][0])
