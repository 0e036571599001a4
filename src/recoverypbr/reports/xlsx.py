"""A statement as an XLSX workbook: a Summary sheet and a Lines sheet, formatted for people.

Amounts are numbers with a pounds format (two decimals, negatives in red) so they add up in a spreadsheet; they are
the statement's pence divided by 100, exact to the penny when shown or rounded to two places. Dates are dates.
The workbook's creation and modification dates, and its zip entries' times, are the statement's as-of date, so the
same statement gives the same bytes whenever it is written.
The workbook is written in openpyxl's streaming (write-only) mode, so a statement of a national provider with
tens of thousands of lines takes seconds, not minutes, and its rows go to a temporary file as they are made rather
than staying in memory. The saved workbook is then copied entry by entry, in pieces, into the file (with the dates
made the as-of date); neither copy is held in memory whole, and the file appears under its name only when whole.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports.cells import safe_cell
from recoverypbr.reports.staged import staged
from recoverypbr.reports.summary import heading, sections

MONEY = "#,##0.00;[Red]-#,##0.00"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
SUBTITLE = Font(bold=True, size=12)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
TOP_WRAP = Alignment(vertical="top", wrap_text=True)
TOP = Alignment(vertical="top")
WIDTHS = {"reference": 48, "reference_words": 56, "evidence": 40, "corrects": 60, "adjusts": 40, "client_id": 14,
          "episode_id": 14, "outcome_id": 24, "kind": 15, "provider_id": 14, "payable_on": 12, "amount": 14}


def _money(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


def statement_xlsx(document: dict[str, Any], path: Path) -> None:
    """Write the workbook."""
    book = Workbook(write_only=True)
    _summary(book.create_sheet("Summary"), document)
    _lines(book.create_sheet("Lines"), document)
    book.properties.creator = "recoverypbr"
    book.properties.title = f"Statement {document['statement_id']}"
    stamp = datetime.combine(date.fromisoformat(document["as_of"]), datetime.min.time())
    book.properties.created = book.properties.modified = stamp
    with staged(path) as part:
        saved = part.with_suffix(".saved")  # openpyxl's own file: a step on the way, never put in place
        try:
            book.save(saved)
            _reproducible(saved, part, stamp)
        finally:
            saved.unlink(missing_ok=True)


#: Zip entries are copied in pieces of this many bytes.
COPY_BYTES = 1 << 20


def _reproducible(source_path: Path, target_path: Path, stamp: datetime) -> None:
    """Copy the workbook with the save's wall-clock times (openpyxl sets `modified` on saving; zip entries carry
    the time) replaced by `stamp`, entry by entry and each in pieces (the same bytes as writing it whole)."""
    moment = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(source_path) as source, \
            zipfile.ZipFile(target_path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            if item.filename == "docProps/core.xml":
                content = source.read(item.filename)
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + moment.encode() + rb"\g<2>",
                                 content)
                target.writestr(entry, content)
                continue
            # What writestr does, in pieces: the size known before the entry's header is written (it decides, as
            # there, whether the entry needs ZIP64), then the content through the same compressor.
            entry.file_size = item.file_size
            with source.open(item) as reading, target.open(entry, "w") as writing:
                shutil.copyfileobj(reading, writing, COPY_BYTES)


def _cell(sheet: WriteOnlyWorksheet, value: Any, font: Font | None = None, fill: PatternFill | None = None,
          number_format: str | None = None, alignment: Alignment | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=safe_cell(value))
    if isinstance(value, str):
        cell.data_type = "s"  # text stays text: openpyxl would make a value starting "=" a formula
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if number_format is not None:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _header(sheet: WriteOnlyWorksheet, names: Iterable[str]) -> list[WriteOnlyCell]:
    return [_cell(sheet, name, BOLD, HEADER_FILL) for name in names]


def _summary(sheet: WriteOnlyWorksheet, document: dict[str, Any]) -> None:
    sheet.column_dimensions["A"].width = 52
    sheet.column_dimensions["B"].width = 66
    for letter in "CDEF":
        sheet.column_dimensions[letter].width = 16
    _print_fit(sheet)
    sheet.append([_cell(sheet, "Payment statement", TITLE)])
    for label, value in heading(document):
        sheet.append([_cell(sheet, label, BOLD), _cell(sheet, value)])
    for section in sections(document):
        sheet.append([])
        sheet.append([_cell(sheet, section.title, SUBTITLE)])
        sheet.append(_header(sheet, section.header))
        for row in section.rows:
            sheet.append([
                _cell(sheet, _money(v), number_format=MONEY) if i in section.money else _cell(sheet, v)
                for i, v in enumerate(row)
            ])


def _lines(sheet: WriteOnlyWorksheet, document: dict[str, Any]) -> None:
    for i, column in enumerate(LINE_HEADER, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = WIDTHS.get(column, 10)
    sheet.freeze_panes = "B2"
    sheet.print_title_rows = "1:1"
    rows = document["lines"]
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(LINE_HEADER))}{len(rows) + 1}"
    _print_fit(sheet)
    sheet.append(_header(sheet, LINE_HEADER))
    for row in rows:
        cells = []
        for column in LINE_HEADER:
            value = row.get(column, "")  # a statement approved before a column was added lacks it
            if column in ("amount", "whole"):
                cells.append(_cell(sheet, _money(value), number_format=MONEY, alignment=TOP))
            elif column == "payable_on":
                cells.append(_cell(sheet, date.fromisoformat(value), number_format="yyyy-mm-dd", alignment=TOP))
            else:
                cells.append(_cell(sheet, value if value != "" else None, alignment=TOP_WRAP))
        sheet.append(cells)
    total = [_cell(sheet, "Total", BOLD)] + [None] * (LINE_HEADER.index("amount") - 1)
    total.append(_cell(sheet, _money(document["totals"]["total"]), BOLD, number_format=MONEY))
    sheet.append(total)


def _print_fit(sheet: WriteOnlyWorksheet) -> None:
    """Print landscape on A4, as many pages down as needed but one page across."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
