"""A statement as an XLSX workbook: a Summary sheet and a Lines sheet, formatted for people.

Amounts are numbers with a pounds format (two decimals, negatives in red) so they add up in a spreadsheet; they are
the statement's pence divided by 100, exact to the penny when shown or rounded to two places. Dates are dates.
The workbook's creation date is the statement's as-of date, so nothing in it depends on the day it was written.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports.summary import heading, sections

MONEY = '#,##0.00;[Red]-#,##0.00'
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
WIDTHS = {"reference": 48, "evidence": 40, "corrects": 60, "adjusts": 40, "client_id": 14, "episode_id": 14,
          "outcome_id": 24, "kind": 15, "provider_id": 14, "payable_on": 12, "amount": 14}


def _money(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


def statement_xlsx(document: dict[str, Any], path: Path) -> None:
    """Write the workbook."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    _summary(summary, document)
    _lines(book.create_sheet("Lines"), document)
    book.properties.creator = "recoverypbr"
    book.properties.title = f"Statement {document['statement_id']}"
    stamp = datetime.combine(date.fromisoformat(document["as_of"]), datetime.min.time())
    book.properties.created = book.properties.modified = stamp
    book.save(path)


def _summary(sheet: Worksheet, document: dict[str, Any]) -> None:
    sheet.append(["Payment statement"])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in heading(document):
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = BOLD
    for section in sections(document):
        sheet.append([])
        sheet.append([section.title])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        sheet.append(list(section.header))
        for cell in sheet[sheet.max_row]:
            cell.font, cell.fill = BOLD, HEADER_FILL
        for row in section.rows:
            values = [_money(v) if i in section.money else v for i, v in enumerate(row)]
            sheet.append(values)
            for i in section.money:
                sheet.cell(sheet.max_row, i + 1).number_format = MONEY
    sheet.column_dimensions["A"].width = 52
    for letter in "BCDEF":
        sheet.column_dimensions[letter].width = 16
    sheet.column_dimensions["B"].width = 66
    _print_fit(sheet)


def _lines(sheet: Worksheet, document: dict[str, Any]) -> None:
    sheet.append(list(LINE_HEADER))
    for cell in sheet[1]:
        cell.font, cell.fill = BOLD, HEADER_FILL
    for row in document["lines"]:
        values: list[Any] = []
        for column in LINE_HEADER:
            value = row[column]
            if column in ("amount", "whole"):
                value = _money(value)
            elif column == "payable_on":
                value = date.fromisoformat(value)
            values.append(value if value != "" else None)
        sheet.append(values)
        sheet.cell(sheet.max_row, LINE_HEADER.index("amount") + 1).number_format = MONEY
        sheet.cell(sheet.max_row, LINE_HEADER.index("whole") + 1).number_format = MONEY
        sheet.cell(sheet.max_row, LINE_HEADER.index("payable_on") + 1).number_format = "yyyy-mm-dd"
    total_row = sheet.max_row + 1
    amount = get_column_letter(LINE_HEADER.index("amount") + 1)
    sheet.cell(total_row, 1, "Total").font = BOLD
    cell = sheet.cell(total_row, LINE_HEADER.index("amount") + 1, _money(document["totals"]["total"]))
    cell.number_format, cell.font = MONEY, BOLD
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(LINE_HEADER))}{max(1, total_row - 1)}"
    for i, column in enumerate(LINE_HEADER, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = WIDTHS.get(column, 10)
    for row in sheet.iter_rows(min_row=2, max_row=total_row - 1):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=cell.column_letter != amount)
    sheet.print_title_rows = "1:1"
    _print_fit(sheet)


def _print_fit(sheet: Worksheet) -> None:
    """Print landscape, as many pages down as needed but one page across."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
