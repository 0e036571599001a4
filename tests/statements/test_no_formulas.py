"""No cell of any CSV or XLSX the project writes can run as a spreadsheet formula (issue 11, defect 1).

Hostile text (ids and free text drawn from an alphabet of formula starters, quotes, separators and control
characters) is put into a statement document, a provider's name and the quarantine, and every file written is read
back: a text cell starting with `=`, `+`, `-`, `@`, tab or carriage return must be quoted with an apostrophe (or be
a plain number), and no XLSX cell may be a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.payments.run import make_statements, statement_period
from recoverypbr.reports import write_statement
from recoverypbr.reports.cells import is_formula_like, safe_cell, safe_table

CONTRACT = Contract.model_validate(
    BASE_CONTRACT
    | {
        "effective_from": dt.date(2013, 4, 1),
        "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": {"completion": {"type": "successful_completion", "tariffs": {"all": "612.35"}}},
        "caps": {"p1_quarter": {"provider": "P1", "amount": "2000", "period": "quarter"}},
    }
)
EPISODES = [
    {
        "episode_id": f"E{i:03d}", "client_id": f"C{i:03d}", "provider_id": "P1",
        "start_date": dt.date(2012, 1, 1), "substances": "opiates",
        "discharge_date": dt.date(2013, 4, 2) + dt.timedelta(days=i), "discharge_reason": "completed_drug_free",
    }
    for i in range(6)
]
HOSTILE = st.text(alphabet="=+-@\t\r\"',;|!()ACcmd/: 01.", min_size=1, max_size=24)


def _document() -> dict[str, Any]:
    wh = case_warehouse({"episodes": EPISODES})
    try:
        statement = make_statements(wh, CONTRACT, statement_period(CONTRACT, "2013-Q2"))[0]
        return statement.document()
    finally:
        wh.close()


DOCUMENT = _document()


def _unsafe(text: str) -> bool:
    return is_formula_like(text)


def _hostile_document(values: list[str]) -> dict[str, Any]:
    document = dict(DOCUMENT)
    document["provider"] = {**DOCUMENT["provider"], "name": values[0]}
    texts = iter(values * 40)
    document["lines"] = [
        {k: (next(texts) if k in ("client_id", "episode_id", "outcome_id", "evidence", "reference_words")
             else v) for k, v in line.items()}
        for line in DOCUMENT["lines"]
    ]
    return document


def _cells_of(folder: Path) -> list[tuple[str, Any, str]]:
    """(file, value, data type) of every cell of every CSV and XLSX in the folder."""
    cells: list[tuple[str, Any, str]] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")):
                cells += [(path.name, value, "s") for value in row]
        elif path.suffix == ".xlsx":
            book = load_workbook(path)
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    cells += [(f"{path.name}#{sheet.title}", c.value, c.data_type) for c in row if c.value is not None]
    return cells


@settings(max_examples=40, deadline=None)
@given(st.lists(HOSTILE, min_size=1, max_size=6))
def test_no_written_cell_is_a_formula(values: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_statement(_hostile_document(values), Path(folder), ("csv", "xlsx"))
        cells = _cells_of(Path(folder))
    assert cells
    assert not [c for c in cells if c[2] == "f"], "a formula cell was written"
    assert not [c for c in cells if isinstance(c[1], str) and _unsafe(c[1])]
    # The text is kept, only quoted: nothing the provider sent is lost (XLSX stores a carriage return as a line
    # feed, so compare without them).
    written = {c[1].replace("\r", "\n") for c in cells if isinstance(c[1], str)}
    for value in values:
        value = value.replace("\r", "\n")
        assert value in written or "'" + value in written


@given(HOSTILE)
def test_safe_cell_quotes_exactly_what_a_spreadsheet_would_run(text: str) -> None:
    safe = safe_cell(text)
    assert not is_formula_like(safe)
    plain = text.replace("\r\n", "\n").replace("\r", "\n")
    assert safe == plain or safe == "'" + plain
    assert safe_cell("-12.50") == "-12.50"  # a negative amount is a number, not a formula


@given(st.lists(st.one_of(st.none(), HOSTILE), max_size=20))
def test_arrow_exports_quote_like_single_cells(values: list[str | None]) -> None:
    import pyarrow as pa

    column = safe_table(pa.table({"v": pa.array(values, pa.string())})).column("v").to_pylist()
    assert column == [None if v is None else safe_cell(v) for v in values]
