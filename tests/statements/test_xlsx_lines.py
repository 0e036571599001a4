"""The XLSX's Lines sheet, whose XML recoverypbr writes itself (`reports.xlsx`), reads back as the statement's lines:
every value with its type and number format (amounts as numbers in the pounds format, negatives too; dates as dates;
text as text, XML-escaped, quoted like `safe_cell` when a spreadsheet could run it; empty values as empty cells),
through openpyxl and through LibreOffice's conversion to CSV."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import synthetic_statement
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports import write_statement
from recoverypbr.reports import xlsx as xlsx_writer
from recoverypbr.reports.cells import safe_cell
from recoverypbr.reports.summary import grouped

TEXTS = [
    "a < b & c > d", 'say "quoted" and \'single\'', "£ café naïve 日本 😀", "=HYPERLINK(\"http://x\")", "+44 1234",
    "-dash", "@SUM(A1)", "-12.50", "  spaced  ", "line\nbreak", "tab\tin", "cr\r\nlf", "\tstarts with tab",
    "&amp; already", "]]>", "'apostrophe", "",
]


def _document() -> dict[str, Any]:
    document = synthetic_statement(40).document()
    lines = document["lines"]
    for i, line in enumerate(lines):
        text = TEXTS[i % len(TEXTS)]
        line["client_id"] = text
        line["evidence"] = TEXTS[(i + 3) % len(TEXTS)]
        line["reference_words"] = TEXTS[(i + 7) % len(TEXTS)]
        line["corrects"] = "" if i % 2 else text
        line["whole"] = "" if i % 3 else f"-{i}.5{i % 10}"
    lines[0]["amount"] = "-0.01"
    lines[1]["amount"] = "1234567.89"
    lines[2]["amount"] = "0.00"
    lines[3]["payable_on"] = "1999-12-31"
    del lines[4]["adjusts"]  # a statement approved before a column was added
    document["totals"] = {**document["totals"], "total": str(sum(Decimal(line["amount"]) for line in lines))}
    return document


DOCUMENT = _document()


def _expected(line: dict[str, Any], column: str) -> Any:
    value = line.get(column, "")
    if column in ("amount", "whole"):
        return None if value == "" else float(Decimal(value))
    if column == "payable_on":
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    return None if value == "" else safe_cell(value)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xlsx")
    (path,) = write_statement(DOCUMENT, folder, ("xlsx",))
    return path


def test_the_lines_read_back_by_openpyxl(written: Path) -> None:
    book = load_workbook(written)
    sheet = book["Lines"]
    assert book.sheetnames == ["Summary", "Lines"]
    assert [c.value for c in sheet[1]] == list(LINE_HEADER)
    assert all(c.font.b and c.fill.fgColor.rgb == "00DDE6F0" for c in sheet[1])
    assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref == f"A1:Q{len(DOCUMENT['lines']) + 1}"
    assert sheet.column_dimensions["K"].width == 48 and sheet.column_dimensions["A"].width == 10
    lines = DOCUMENT["lines"]
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == len(lines) + 1
    for line, row in zip(lines, rows, strict=False):
        for column, cell in zip(LINE_HEADER, row, strict=True):
            want = _expected(line, column)
            assert cell.value == want, (line["line_no"], column, cell.value, want)
            assert cell.data_type != "f"
            if column in ("amount", "whole"):
                assert cell.number_format == xlsx_writer.MONEY
                assert cell.data_type == "n"
            elif column == "payable_on":
                assert cell.number_format == "yyyy-mm-dd" and cell.is_date
            elif want is not None:
                assert cell.data_type == ("s" if isinstance(want, str) else "n"), (column, want)
            if want is None:
                assert cell.value is None
            assert cell.alignment.vertical == "top"
    # Text a spreadsheet could run is kept as text, quoted as safe_cell quotes it; numbers-looking text stays text.
    texts = {c.value for row in rows for c in row if isinstance(c.value, str)}
    assert {"'=HYPERLINK(\"http://x\")", "'+44 1234", "'-dash", "'@SUM(A1)", "'\tstarts with tab"} <= texts
    assert {"-12.50", "a < b & c > d", "£ café naïve 日本 😀", "  spaced  ", "cr\nlf", "]]>"} <= texts
    total = rows[-1]
    assert total[0].value == "Total" and total[0].font.b
    amount = total[LINE_HEADER.index("amount")]
    assert amount.value == float(Decimal(DOCUMENT["totals"]["total"])) and amount.number_format == xlsx_writer.MONEY
    assert all(c.value is None for i, c in enumerate(total) if i not in (0, LINE_HEADER.index("amount")))
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Fingerprint"] == DOCUMENT["fingerprint"]


def test_the_lines_sheet_is_written_in_chunks_and_the_same_each_time(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_writer, "CHUNK_ROWS", 7)
    (one,) = write_statement(DOCUMENT, tmp_path / "one", ("xlsx",))
    monkeypatch.setattr(xlsx_writer, "CHUNK_ROWS", 2_000)
    (two,) = write_statement(DOCUMENT, tmp_path / "two", ("xlsx",))
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as book:
        assert {item.date_time[:3] for item in book.infolist()} == {(2013, 6, 30)}
        assert book.testzip() is None


def test_a_control_character_xml_cannot_hold_is_refused(tmp_path: Path) -> None:
    from openpyxl.utils.exceptions import IllegalCharacterError

    document = {**DOCUMENT, "lines": [dict(line) for line in DOCUMENT["lines"]]}
    document["lines"][5]["evidence"] = "bell\x07"
    with pytest.raises(IllegalCharacterError):
        write_statement(document, tmp_path, ("xlsx",))
    assert list(tmp_path.iterdir()) == []


def _shown(line: dict[str, Any], column: str) -> str:
    """The cell as LibreOffice shows it, in CSV."""
    value = line.get(column, "")
    if column in ("amount", "whole"):
        return "" if value == "" else grouped(value)
    if column == "payable_on":
        return value
    return "" if value == "" else str(safe_cell(value))


def test_the_lines_read_back_by_libreoffice(written: Path, tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is needed in CI to open the XLSX; .ci/run installs libreoffice-calc-nogui")
        pytest.skip("LibreOffice not installed")
    out = tmp_path / "converted"
    # CSV of the second sheet (the last token), UTF-8 (76), values as shown (with their number formats).
    options = "44,34,76,1,,0,false,true,true,false,false,2"
    done = subprocess.run(
        [office, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to",
         f"csv:Text - txt - csv (StarCalc):{options}", "--outdir", str(out), str(written)],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    (converted,) = out.iterdir()
    with converted.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(LINE_HEADER)
    lines = DOCUMENT["lines"]
    for line, row in zip(lines, rows[1:], strict=False):
        assert row == [_shown(line, column) for column in LINE_HEADER], line["line_no"]
    total = rows[len(lines) + 1]
    assert total[0] == "Total" and total[LINE_HEADER.index("amount")] == grouped(DOCUMENT["totals"]["total"])


STYLES = {"header": 4, "text": 6, "date": 7, "money": 8, "total": 2, "total_money": 9}


def _cells_one_by_one(document: dict[str, Any]) -> bytes:
    """The Lines sheet's rows made cell by cell with the general `_xml_cell` (what openpyxl writes of each value)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.datetime import to_excel

    want = ['<row r="1">' + "".join(xlsx_writer._xml_cell(f"{get_column_letter(i)}1", 4, name)
                                    for i, name in enumerate(LINE_HEADER, start=1)) + "</row>"]
    for n, line in enumerate(document["lines"], start=2):
        cells = []
        for i, column in enumerate(LINE_HEADER, start=1):
            ref, value = f"{get_column_letter(i)}{n}", line.get(column, "")
            if column in ("amount", "whole"):
                cells.append(xlsx_writer._xml_cell(ref, 8, None if value in ("", None) else Decimal(str(value))))
            elif column == "payable_on":
                cells.append(xlsx_writer._xml_cell(ref, 7, to_excel(date.fromisoformat(value))))
            else:
                cells.append(xlsx_writer._xml_cell(ref, 6, value))
        want.append(f'<row r="{n}">{"".join(cells)}</row>')
    n = len(document["lines"]) + 2
    want.append(f'<row r="{n}"><c r="A{n}" s="2" t="inlineStr"><is><t>Total</t></is></c>'
                f'{xlsx_writer._xml_cell(f"J{n}", 9, Decimal(document["totals"]["total"]))}</row>')
    return xlsx_writer._checked("".join(want).encode())


def test_the_rows_are_the_cells_xml_cell_writes() -> None:
    """The rows made column by column in Arrow are what the general `_xml_cell` gives, cell for cell."""
    assert b"".join(xlsx_writer._lines_rows(DOCUMENT, STYLES)) == _cells_one_by_one(DOCUMENT)


_TEXT_COLUMNS = [c for c in LINE_HEADER if c not in ("amount", "whole", "payable_on")]
_texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=12), st.text(alphabet="ab &<>=+-@\t\r\n '\"", max_size=6),
                   st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), st.integers(-10**17, 10**17), st.none(),
                   st.booleans(), st.floats(allow_nan=False, allow_infinity=False))
_lines = st.lists(st.fixed_dictionaries(
    {c: _texts for c in _TEXT_COLUMNS}
    | {"amount": st.sampled_from(["0.00", "-0.01", "450.50", "1234567.89", "", "3"]),
       "whole": st.sampled_from(["", "12.5", "-7.25"]),
       "payable_on": st.dates(date(1990, 1, 1), date(2100, 12, 31)).map(date.isoformat)}), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_lines, st.integers(1, 5))
def test_the_rows_are_the_cells_xml_cell_writes_whatever_the_lines_hold(lines: list[dict[str, Any]], chunk: int
                                                                          ) -> None:
    """Any text (escapes, formula starts, spaces at either end, control characters, long or non-ASCII), numbers,
    nothing, in chunks of any size: the same bytes as cell by cell, or the same refusal."""
    from openpyxl.utils.exceptions import IllegalCharacterError

    document = {"lines": lines, "totals": {"total": "1.00"}}
    try:
        want: bytes | None = _cells_one_by_one(document)
    except IllegalCharacterError:
        want = None
    original = xlsx_writer.CHUNK_ROWS
    xlsx_writer.CHUNK_ROWS = chunk
    try:
        if want is None:
            with pytest.raises(IllegalCharacterError):
                b"".join(xlsx_writer._lines_rows(document, STYLES))
        else:
            assert b"".join(xlsx_writer._lines_rows(document, STYLES)) == want
    finally:
        xlsx_writer.CHUNK_ROWS = original


def test_text_longer_than_a_cell_holds_is_cut_as_openpyxl_cuts_it() -> None:
    lines = [dict(DOCUMENT["lines"][0], evidence="é" * 40_000, reference="x" * 32_767)]
    document = {"lines": lines, "totals": {"total": "1.00"}}
    assert b"".join(xlsx_writer._lines_rows(document, STYLES)) == _cells_one_by_one(document)


def test_a_lines_sheet_too_large_for_a_plain_zip_entry_is_written_again_with_zip64(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lines entry's size is known only once written: past zipfile's limit without ZIP64 (2 GiB, made small
    here) the workbook is written again with ZIP64, and reads back whole."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 20_000)
    (path,) = write_statement(DOCUMENT, tmp_path, ("xlsx",))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with zipfile.ZipFile(path) as book:
        assert book.getinfo(xlsx_writer.LINES_ENTRY).file_size > 20_000
    rows = list(load_workbook(path)["Lines"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(DOCUMENT["lines"]) + 1 and rows[-1][0] == "Total"
