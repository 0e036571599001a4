"""`recoverypbr assure monitor` as a user runs it: the JSON other tools read, the files, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import words
from typer.testing import CliRunner

from recoverypbr import load_extract, open_warehouse
from recoverypbr.assurance.frame import FAMILIES
from recoverypbr.cli import app
from recoverypbr.contract.load import load_contract
from recoverypbr.modelling.report import external_urls
from recoverypbr.synth import generate_area

ROOT = Path(__file__).parents[2]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
REQUIRED = ("provider_id", "family", "indicator", "period", "value", "expected", "limits", "flagged")


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("monitor")
    generate_area(600, 5, folder / "extract", "parquet", contract=load_contract(CONTRACT))
    with open_warehouse(folder / "area.duckdb") as wh:
        load_extract(wh, folder / "extract")
    return folder / "area.duckdb"


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_json_has_every_row_with_the_fields_tools_read(area: Path, tmp_path: Path) -> None:
    out = tmp_path / "mon"
    text = _run("assure", "monitor", "--contract", str(CONTRACT), "--as-of", "2014-03-31", "--format", "json",
                "--out", str(out), "--db", str(area))
    document = json.loads(text)
    assert document["as_of"] == "2014-03-31" and document["providers"] == ["P01", "P02"]
    rows = document["rows"]
    assert rows and all(all(key in row for key in REQUIRED) for row in rows)
    assert {row["family"] for row in rows} == set(FAMILIES)
    assert all(isinstance(row["flagged"], bool) for row in rows)
    assert {row["period_kind"] for row in rows} == {"quarter", "window", "baseline"}
    # the screen's JSON is the file's, and the other outputs are written beside it
    assert (out / "monitor.json").read_text(encoding="utf-8") == text
    for name in ("monitor.csv", "flag-rows.csv", "monitor-report.html"):
        assert (out / name).exists(), name
    # the report opens offline: nothing fetched from outside the file, its charts drawn in
    page = (out / "monitor-report.html").read_text(encoding="utf-8")
    assert external_urls(page) == [] and "<svg" in page and "<script" not in page
    # the same data give the same bytes
    _run("assure", "monitor", "--contract", str(CONTRACT), "--as-of", "2014-03-31", "--out", str(tmp_path / "again"),
         "--db", str(area))
    assert (tmp_path / "again" / "monitor.json").read_bytes() == (out / "monitor.json").read_bytes()


def test_one_provider_and_the_summary(area: Path, tmp_path: Path) -> None:
    shown = words(_run("assure", "monitor", "--contract", str(CONTRACT), "--as-of", "2014-03-31", "--provider", "P02",
                       "--out", str(tmp_path / "p02"), "--db", str(area)))
    assert "gaming indicators as of 2014-03-31" in shown and "Report:" in shown
    rows = json.loads((tmp_path / "p02" / "monitor.json").read_text(encoding="utf-8"))["rows"]
    assert rows and {r["provider_id"] for r in rows} == {"P02"}


@pytest.mark.parametrize(("args", "expected"), [
    (("--provider", "P9"), "unknown provider 'P9'"),
    (("--as-of", "2011-01-01"), "2011-01-01 is before the contract's start (2012-04-01)"),
    (("--as-of", "2014-02-30"), "2014-02-30"),
])
def test_bad_input_is_refused_with_a_clear_message(area: Path, tmp_path: Path, args: tuple[str, ...],
                                                  expected: str) -> None:
    options = {"--as-of": "2014-03-31"} | dict(zip(args[::2], args[1::2], strict=True))
    flat = [part for pair in options.items() for part in pair]
    shown = words(_run("assure", "monitor", "--contract", str(CONTRACT), *flat, "--out", str(tmp_path / "x"),
                       "--db", str(area), code=2))
    assert expected in shown
    assert "Traceback" not in shown
    assert not (tmp_path / "x").exists()
