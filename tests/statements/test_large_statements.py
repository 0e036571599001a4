"""A national provider's statement: 50,000 lines written in every format without a warning; the CSV, JSON and XLSX
hold every line (the JSON is `document_text` byte for byte), and the PDF is the summary, its totals by kind,
outcome and complexity group adding up to the statement's total to the penny, with where the lines are."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import warnings
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import synthetic_statement
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from recoverypbr.payments.approval import document_text
from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports import pdf as pdf_writer
from recoverypbr.reports import write_statement
from recoverypbr.reports.cells import safe_row
from recoverypbr.reports.files import document_chunks, lines_csv
from recoverypbr.reports.summary import grouped

LINES = 50_000


@pytest.fixture(scope="module")
def large() -> dict[str, Any]:
    return synthetic_statement(LINES).document()


def _pdf_text(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run([tool, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _table(text: str, title: str) -> list[tuple[str, int, Decimal]]:
    """The rows (label, lines, pounds) of one "Lines by ..." table in the PDF's text, across page breaks."""
    found = []
    for row in text.split(title, 1)[1].splitlines():
        match = re.fullmatch(r"\s*(.+?)\s{2,}([\d,]+)\s{2,}(-?[\d,]+\.\d\d)\s*", row)
        if match:
            found.append((match[1], int(match[2].replace(",", "")), Decimal(match[3].replace(",", ""))))
            if match[1] == "Total":
                return found
    raise AssertionError(f"no Total row under {title!r}")


def test_a_large_statement_in_every_format(large: dict[str, Any], tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = write_statement(large, tmp_path)
    assert [str(w.message) for w in caught] == []
    assert [p.name for p in written] == [f"statement_P1_2013-Q2.{f}" for f in ("csv", "json", "xlsx", "pdf")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)  # no part file left
    total = Decimal(large["totals"]["total"])
    assert sum(Decimal(line["amount"]) for line in large["lines"]) == total

    # JSON: the canonical text, byte for byte.
    assert written[1].read_bytes() == document_text(large).encode()

    # CSV: every line.
    with written[0].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == LINES
    assert [r["client_id"] for r in rows[:2]] == ["C0000000", "C0000001"]
    assert sum(Decimal(r["amount"]) for r in rows) == total

    # XLSX: every line, then the total row.
    book = load_workbook(written[2], read_only=True)
    try:
        body = list(book["Lines"].iter_rows(min_row=2, values_only=True))
    finally:
        book.close()
    assert len(body) == LINES + 1
    assert body[-2][0] == LINES and body[-1][0] == "Total"

    # PDF: the summary, not the lines.
    text = _pdf_text(written[3])
    flat = " ".join(text.split())
    assert "Payment statement (summary)" in flat
    assert large["fingerprint"] in flat
    assert ("This statement has 50,000 lines; they are in statement_P1_2013-Q2.csv and .xlsx (and .json) beside "
            "this file.") in flat
    assert "C0000001" not in text and "Lines (50000)" not in text
    assert "Year to date: year 1" in flat and "Paid to this provider for this year so far" in flat
    for title, expected in (("Lines by kind", 4), ("Lines by outcome", 8), ("Lines by complexity group", 4)):
        table = _table(text, title)
        *rows, last = table
        assert last[0] == "Total" and len(rows) == expected, table
        assert (last[1], last[2]) == (LINES, total), title
        assert sum(r[1] for r in rows) == LINES and sum(r[2] for r in rows) == total, title
    kinds = {label: pounds for label, _, pounds in _table(text, "Lines by kind")}
    assert kinds["Caps (cuts)"] == Decimal(large["totals"]["by_kind"]["cap"])
    assert "(no outcome)" in dict((r[0], r) for r in _table(text, "Lines by outcome"))
    assert grouped(large["totals"]["total"]) in text


def test_the_json_is_written_in_chunks_of_the_canonical_text(large: dict[str, Any]) -> None:
    chunks = list(document_chunks(large))
    assert len(chunks) > 10
    assert "".join(chunks) == document_text(large)


def test_the_pointer_names_the_files_written_with_the_pdf(tmp_path: Path) -> None:
    document = synthetic_statement(pdf_writer.SUMMARY_ABOVE + 1).document()
    write_statement(document, tmp_path, ("csv", "pdf"))
    flat = " ".join(_pdf_text(tmp_path / "statement_P1_2013-Q2.pdf").split())
    assert "This statement has 2,001 lines; they are in statement_P1_2013-Q2.csv beside this file." in flat
    (tmp_path / "alone").mkdir()
    write_statement(document, tmp_path / "alone", ("pdf",))
    flat = " ".join(_pdf_text(tmp_path / "alone" / "statement_P1_2013-Q2.pdf").split())
    assert "They are in the statement's CSV, XLSX and JSON (statement_P1_2013-Q2.csv, .xlsx and .json)" in flat


def test_at_the_threshold_the_pdf_still_lists_every_line(tmp_path: Path) -> None:
    document = synthetic_statement(pdf_writer.SUMMARY_ABOVE).document()
    write_statement(document, tmp_path, ("pdf",))
    text = _pdf_text(tmp_path / "statement_P1_2013-Q2.pdf")
    assert f"Lines ({pdf_writer.SUMMARY_ABOVE})" in text and "(summary)" not in text
    assert "C0001999" in text


def test_a_pdf_of_a_thousand_pages_and_more_says_its_page_count_without_a_warning(tmp_path: Path) -> None:
    document = synthetic_statement(1).document()

    def many(pdf: Any) -> None:
        for _ in range(1_000):
            pdf.add_page()

    # The cause: fpdf2's `{nb}` keeps room for three digits, and warns when the count is wider.
    with pytest.warns(UserWarning, match="total page count"):
        pdf_writer._pages(document, many, "{nb}").output()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdf_writer.write_pdf(document, many, tmp_path / "long.pdf")
    assert [str(w.message) for w in caught] == []
    text = _pdf_text(tmp_path / "long.pdf")
    assert "page 1 of 1001" in text and "page 1001 of 1001" in text


def test_a_summary_gives_a_table_as_long_as_the_lines_as_its_count(tmp_path: Path) -> None:
    many = tuple({"client_id": f"C{i}", "outcome_id": "x", "why": "no tariff"} for i in range(2_500))
    statement = replace(synthetic_statement(pdf_writer.SUMMARY_ABOVE + 1), unpriced=many, notes=("A note",))
    write_statement(statement.document(), tmp_path, ("pdf",))
    flat = " ".join(_pdf_text(tmp_path / "statement_P1_2013-Q2.pdf").split())
    assert "2,500 rows: they are in the statement's JSON and on the Summary sheet of its XLSX." in flat
    assert "C2499" not in flat and "A note" in flat


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
_scalar = st.none() | st.booleans() | st.integers(-10**12, 10**12) | _text
_line = st.dictionaries(_text, _scalar, max_size=5) | st.dictionaries(
    st.sampled_from(["line_no", "kind", "amount", "évidence", "a\"b"]), st.integers() | _text, min_size=1)


@settings(max_examples=150, deadline=None)
@given(st.lists(_line | st.lists(_scalar, max_size=3) | _scalar, max_size=6), _text, _scalar)
def test_the_json_chunks_are_the_canonical_text_whatever_the_lines_hold(lines: list[Any], name: str,
                                                                          other: Any) -> None:
    """The lines are written field by field when they are flat objects of text and whole numbers, and by the
    encoder otherwise: either way the text `document_text` gives (text with quotes, escapes, non-ASCII and the
    marker's NUL characters; empty objects; booleans, nulls and nested values)."""
    document = {"statement_id": name, "lines": lines, "after": other, "unpriced": [{"why": "\x00recoverypbr"}]}
    assert "".join(document_chunks(document)) == document_text(document)
    marked = {"lines": lines, "name": "\x00recoverypbr lines\x00"}
    assert "".join(document_chunks(marked)) == document_text(marked)


_cell = st.none() | st.integers(-10**6, 10**6) | st.text(alphabet=st.sampled_from("=+-@\t\r\n 1.aé\"'"), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(LINE_HEADER), _cell), max_size=6))
def test_the_csv_is_what_a_dict_writer_writes_of_the_safe_rows(lines: list[dict[str, Any]]) -> None:
    """The lines' CSV, written cell by cell, is what `csv.DictWriter` writes of `safe_row(line)`: formula-like
    text quoted, carriage returns made line feeds, a missing column empty."""
    expected = io.StringIO()
    writer = csv.DictWriter(expected, fieldnames=LINE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(line) for line in lines)
    assert lines_csv({"lines": lines}).decode() == expected.getvalue()


_text_cell = st.text(alphabet=st.sampled_from("ab ,\"\r\n=+-@\t'é1."), max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: _text_cell for c in LINE_HEADER}), min_size=1, max_size=8))
def test_the_csv_of_whole_text_lines_is_what_a_dict_writer_writes(lines: list[dict[str, Any]]) -> None:
    """Lines with every column, all text (commas, quotes, line breaks, formula starts): what `csv.DictWriter` writes
    of `safe_row(line)`."""
    expected = io.StringIO()
    writer = csv.DictWriter(expected, fieldnames=LINE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(line) for line in lines)
    assert lines_csv({"lines": lines}).decode() == expected.getvalue()


def test_a_line_with_a_column_a_statement_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="columns a statement does not"):
        lines_csv({"lines": [{"line_no": 1, "surprise": "x"}]})
