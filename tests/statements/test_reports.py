"""Statement files: CSV and JSON byte-identical on re-runs, the XLSX read back against the CSV, every line in the
PDF, and the XLSX opened headless by LibreOffice (required in CI, where .ci/run installs it)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.run import make_statements, statement_period
from recoverypbr.reports import write_statement
from recoverypbr.reports.summary import grouped
from recoverypbr.warehouse.connection import Warehouse

CONTRACT = Contract.model_validate(
    BASE_CONTRACT
    | {
        "effective_from": dt.date(2013, 4, 1),
        "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": {
            "completion": {"type": "successful_completion", "tariffs": {"all": "612.35"}},
            "no_rep": {"type": "no_representation_12m", "tariffs": {"all": "1000"}},
        },
        "caps": {"p1_quarter": {"provider": "P1", "amount": "10000", "period": "quarter"}},
    }
)


def _episodes() -> list[dict[str, Any]]:
    rows = []
    for i in range(40):
        rows.append({
            "episode_id": f"E{i:03d}", "client_id": f"C{i:03d}", "provider_id": "P1" if i % 3 else "P2",
            "start_date": dt.date(2012, 1, 1) + dt.timedelta(days=i), "substances": "opiates",
            "discharge_date": dt.date(2013, 4, 2) + dt.timedelta(days=2 * i),
            "discharge_reason": "completed_drug_free" if i % 4 else "dropped_out",
        })
    return rows


@pytest.fixture()
def statements_wh() -> Any:
    wh = case_warehouse({"episodes": _episodes()})
    yield wh
    wh.close()


def _write(wh: Warehouse, folder: Path, formats: tuple[str, ...] = ("csv", "json", "xlsx", "pdf")) -> list[Path]:
    period = statement_period(CONTRACT, "2013-Q2")
    written = []
    for statement in make_statements(wh, CONTRACT, period):
        written += write_statement(statement.document(), folder, formats)
    return written


def test_every_format_is_byte_identical_when_made_again(statements_wh: Warehouse, tmp_path: Path) -> None:
    first = _write(statements_wh, tmp_path / "one")
    second = _write(statements_wh, tmp_path / "two")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # Writing twice within one second would hide a wall-clock time, so look for one too: there is none.
    with zipfile.ZipFile(tmp_path / "one" / "statement_P1_2013-Q2.xlsx") as book:
        assert {item.date_time[:3] for item in book.infolist()} == {(2013, 6, 30)}
        assert b"<dcterms:modified" in book.read("docProps/core.xml")
        assert b"2013-06-30T00:00:00Z</dcterms:modified>" in book.read("docProps/core.xml")


def test_grouped_pounds() -> None:
    assert [grouped(x) for x in ("0.05", "-2247.00", "1000000.00", None)] == ["0.05", "-2,247.00", "1,000,000.00", ""]


def _pounds(number: float) -> Decimal:
    """A spreadsheet number (binary floating point) read back as pounds to the penny."""
    return Decimal(str(round(number, 2))).quantize(Decimal("0.01"))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_the_statement_has_lines_a_cap_and_totals_that_add_up(statements_wh: Warehouse, tmp_path: Path) -> None:
    _write(statements_wh, tmp_path, ("csv", "json"))
    p1 = json.loads((tmp_path / "statement_P1_2013-Q2.json").read_text())
    kinds = {line["kind"] for line in p1["lines"]}
    assert {"outcome", "cap"} <= kinds
    assert sum(Decimal(line["amount"]) for line in p1["lines"]) == Decimal(p1["totals"]["total"]) == Decimal("10000.00")
    assert sum(Decimal(v) for v in p1["totals"]["by_kind"].values()) == Decimal(p1["totals"]["total"])
    rows = _csv_rows(tmp_path / "statement_P1_2013-Q2.csv")
    assert [r["amount"] for r in rows] == [line["amount"] for line in p1["lines"]]


def test_xlsx_reads_back_to_the_csv_figures(statements_wh: Warehouse, tmp_path: Path) -> None:
    _write(statements_wh, tmp_path, ("csv", "json", "xlsx"))
    for provider in ("P1", "P2"):
        stem = f"statement_{provider}_2013-Q2"
        rows = _csv_rows(tmp_path / f"{stem}.csv")
        document = json.loads((tmp_path / f"{stem}.json").read_text())
        book = load_workbook(tmp_path / f"{stem}.xlsx")
        assert book.sheetnames == ["Summary", "Lines"]
        sheet = book["Lines"]
        header = [c.value for c in sheet[1]]
        assert header == list(rows[0]) if rows else header[0] == "line_no"
        body = list(sheet.iter_rows(min_row=2, values_only=True))
        assert len(body) == len(rows) + 1  # the lines, then the total row
        for got, want in zip(body, rows, strict=False):
            cells = dict(zip(header, got, strict=True))
            assert _pounds(cells["amount"]) == Decimal(want["amount"])
            assert cells["payable_on"].date().isoformat() == want["payable_on"]
            assert str(cells["line_no"]) == want["line_no"]
            assert (cells["client_id"] or "") == want["client_id"]
            assert (cells["reference"] or "") == want["reference"]
        total = body[-1][header.index("amount")]
        assert _pounds(total) == Decimal(document["totals"]["total"])
        summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
        assert _pounds(summary["Total"]) == Decimal(document["totals"]["total"])
        assert summary["Fingerprint"] == document["fingerprint"]


def _pdf_text(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is needed in CI to read the PDF back; .ci/run installs it")
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run([tool, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_the_pdf_shows_every_line(statements_wh: Warehouse, tmp_path: Path) -> None:
    _write(statements_wh, tmp_path, ("json", "pdf"))
    document = json.loads((tmp_path / "statement_P1_2013-Q2.json").read_text())
    text = _pdf_text(tmp_path / "statement_P1_2013-Q2.pdf")
    assert f"Lines ({len(document['lines'])}), total GBP {grouped(document['totals']['total'])}" in text
    for line in document["lines"]:
        if line["client_id"]:
            assert line["client_id"] in text and line["episode_id"] in text
    amounts = [grouped(line["amount"]) for line in document["lines"]]
    for amount in set(amounts):
        assert text.count(amount) >= amounts.count(amount), amount


def test_libreoffice_opens_the_xlsx_headless(statements_wh: Warehouse, tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is needed in CI to open the XLSX; .ci/run installs libreoffice-calc-nogui")
        pytest.skip("LibreOffice not installed")
    _write(statements_wh, tmp_path, ("json", "xlsx"))
    out = tmp_path / "converted"
    profile = tmp_path / "profile"
    done = subprocess.run(
        [office, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir", str(out),
         str(tmp_path / "statement_P1_2013-Q2.xlsx")],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    converted = out / "statement_P1_2013-Q2.pdf"
    assert converted.exists() and converted.stat().st_size > 0, done.stdout + done.stderr
    document = json.loads((tmp_path / "statement_P1_2013-Q2.json").read_text())
    assert grouped(document["totals"]["total"]) in _pdf_text(converted)


def test_a_statement_sees_data_loaded_since_the_ledger_was_stored(statements_wh: Warehouse) -> None:
    period = statement_period(CONTRACT, "2013-Q2")
    before = {s.provider_id: s for s in make_statements(statements_wh, CONTRACT, period)}
    late = {"episode_id": "E999", "client_id": "C999", "provider_id": "P2", "start_date": dt.date(2012, 1, 1),
            "discharge_date": dt.date(2013, 6, 1), "discharge_reason": "completed_drug_free", "substances": "opiates"}
    statements_wh.insert("episodes", statements_wh.register_arrow("_late", arrow_rows("episodes", [late])))
    after = {s.provider_id: s for s in make_statements(statements_wh, CONTRACT, period)}
    assert after["P2"].total_pence == before["P2"].total_pence + 61_235
    assert after["P2"].fingerprint != before["P2"].fingerprint
    assert after["P1"].lines == before["P1"].lines


def test_every_format_says_what_each_line_pays_for(statements_wh: Warehouse, tmp_path: Path) -> None:
    """Issue 11, defect 12: beside the machine's `reference`, the line in words, in CSV, JSON, XLSX and PDF."""
    _write(statements_wh, tmp_path)
    stem = "statement_P1_2013-Q2"
    lines = json.loads((tmp_path / f"{stem}.json").read_text())["lines"]
    said = {(line["kind"], line["reference"]): line["reference_words"] for line in lines}
    assert said == {
        ("outcome", "outcomes.completion.tariffs.all"):
            "Successful completion of treatment, every complexity group, £612.35 (contract 2013-04-01)",
        ("cap", "caps.p1_quarter.amount"): "Cap: provider P1's quarterly cap, £10,000.00 (contract 2013-04-01)",
    }
    rows = _csv_rows(tmp_path / f"{stem}.csv")
    assert list(rows[0])[list(rows[0]).index("reference") + 1] == "reference_words"
    assert [r["reference_words"] for r in rows] == [line["reference_words"] for line in lines]
    sheet = load_workbook(tmp_path / f"{stem}.xlsx")["Lines"]
    header = [c.value for c in sheet[1]]
    column = [r[header.index("reference_words")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert column[:-1] == [line["reference_words"] for line in lines]
    text = " ".join(_pdf_text(tmp_path / f"{stem}.pdf").split())
    assert "What it pays for" in text and "quarterly cap," in text
