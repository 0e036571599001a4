"""A statement as an XLSX workbook: a Summary sheet and a Lines sheet, formatted for people.

Amounts are numbers with a pounds format (two decimals, negatives in red) so they add up in a spreadsheet; they are
the statement's pence divided by 100, exact to the penny when shown or rounded to two places. Dates are dates.
The workbook's creation and modification dates, and its zip entries' times, are the statement's as-of date, so the
same statement gives the same bytes whenever it is written.

openpyxl writes the workbook with the Summary sheet and the Lines sheet's settings (column widths, frozen header,
filter, print setup) but no rows, and registers the Lines sheet's cell styles so their ids are known. The saved
workbook is then copied entry by entry, in pieces, into the file (with the dates made the as-of date), and the Lines
sheet's empty `<sheetData/>` is replaced on the way by its rows, written here as XML text in chunks and streamed
into the zip entry: a national provider's statement (hundreds of thousands of lines) takes seconds, where building
an openpyxl cell for each value took minutes. The rows are the cells openpyxl would write: text as inline strings
(with `safe_cell`'s formula quoting, XML-escaped, cut at Excel's 32,767 characters; a control character XML cannot
hold is refused with openpyxl's `IllegalCharacterError`), numbers as `%.16g`, dates as serial numbers, each with the
style openpyxl registered. Nothing is held in memory whole, and the file appears under its name only when whole.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from math import isfinite
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports import columnar
from recoverypbr.reports.cells import FORMULA_STARTS, safe_cell
from recoverypbr.reports.staged import staged
from recoverypbr.reports.summary import heading, sections

MONEY = "#,##0.00;[Red]-#,##0.00"
DATE = "yyyy-mm-dd"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
SUBTITLE = Font(bold=True, size=12)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
TOP_WRAP = Alignment(vertical="top", wrap_text=True)
TOP = Alignment(vertical="top")
WIDTHS = {"reference": 48, "reference_words": 56, "evidence": 40, "corrects": 60, "adjusts": 40, "client_id": 14,
          "episode_id": 14, "outcome_id": 24, "kind": 15, "provider_id": 14, "payable_on": 12, "amount": 14}
MONEY_COLUMNS = ("amount", "whole")
DATE_COLUMNS = ("payable_on",)

#: The Lines sheet's entry in the package (openpyxl names sheets by position: Summary is sheet1).
LINES_ENTRY = "xl/worksheets/sheet2.xml"
#: Rows of the Lines sheet made into one piece of text before it is compressed into the entry.
CHUNK_ROWS = 10_000
#: The Lines sheet's compression: zlib level 2 deflates its XML four times as fast as the default level 6, for a
#: file about a quarter larger (200,000 lines: about 1 CPU second rather than 4; 20.6 MiB rather than 16.8).
LINES_COMPRESSION = 2
#: Zip entries are copied in pieces of this many bytes.
COPY_BYTES = 1 << 20
#: Excel's longest text in a cell (openpyxl cuts longer text to it).
CELL_CHARS = 32_767


def _money(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


def statement_xlsx(document: dict[str, Any], path: Path) -> None:
    """Write the workbook."""
    book = Workbook(write_only=True)
    _summary(book.create_sheet("Summary"), document)
    styles = _lines_sheet(book.create_sheet("Lines"), document)
    book.properties.creator = "recoverypbr"
    book.properties.title = f"Statement {document['statement_id']}"
    stamp = datetime.combine(date.fromisoformat(document["as_of"]), datetime.min.time())
    book.properties.created = book.properties.modified = stamp
    with staged(path) as part:
        saved = part.with_suffix(".saved")  # openpyxl's own file: a step on the way, never put in place
        try:
            book.save(saved)
            try:
                _reproducible(saved, part, stamp, lambda: _lines_rows(document, styles), zip64=False)
            except _TooLarge:  # over 2 GiB of XML, which needs ZIP64 (known only once written): write it again
                _reproducible(saved, part, stamp, lambda: _lines_rows(document, styles), zip64=True)
        finally:
            saved.unlink(missing_ok=True)


class _TooLarge(Exception):
    """The Lines sheet's XML is too large for a zip entry without ZIP64."""


def _reproducible(source_path: Path, target_path: Path, stamp: datetime, lines: Callable[[], Iterable[bytes]],
                  zip64: bool) -> None:
    """Copy the workbook with the save's wall-clock times (openpyxl sets `modified` on saving; zip entries carry
    the time) replaced by `stamp`, entry by entry and each in pieces (the same bytes as writing it whole), and the
    Lines sheet's rows, from `lines`, streamed into its entry.

    The Lines entry's size is not known before it is written, so it is written without ZIP64 (as every other entry
    is: Excel has been known to complain of ZIP64 in a small workbook) unless `zip64`; past zipfile's limit for
    that (2 GiB) this raises `_TooLarge` so the caller can write it again with ZIP64."""
    moment = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(source_path) as source, \
            zipfile.ZipFile(target_path, "w", zipfile.ZIP_DEFLATED) as target:
        names = [item.filename for item in source.infolist()]
        if LINES_ENTRY not in names:
            raise RuntimeError(f"openpyxl's workbook has no {LINES_ENTRY}: {names}")
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            if item.filename == "docProps/core.xml":
                content = source.read(item.filename)
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + moment.encode() + rb"\g<2>",
                                 content)
                target.writestr(entry, content)
                continue
            if item.filename == LINES_ENTRY:
                before, after = _around_sheet_data(source.read(item.filename))
                entry._compresslevel = LINES_COMPRESSION  # type: ignore[attr-defined]  # (public from 3.13)
                written = 0
                with target.open(entry, "w", force_zip64=zip64) as writing:
                    for piece in _concat(before, lines(), after):
                        written += len(piece)
                        if written > zipfile.ZIP64_LIMIT and not zip64:
                            raise _TooLarge
                        writing.write(piece)
                continue
            # What writestr does, in pieces: the size known before the entry's header is written (it decides, as
            # there, whether the entry needs ZIP64), then the content through the same compressor.
            entry.file_size = item.file_size
            with source.open(item) as reading, target.open(entry, "w") as writing:
                shutil.copyfileobj(reading, writing, COPY_BYTES)


def _concat(before: bytes, middle: Iterable[bytes], after: bytes) -> Iterator[bytes]:
    yield before
    yield from middle
    yield after


_EMPTY_SHEET_DATA = re.compile(rb"<sheetData\s*/>|<sheetData>\s*</sheetData>")


def _around_sheet_data(skeleton: bytes) -> tuple[bytes, bytes]:
    """The Lines sheet openpyxl wrote, before and after its (empty) rows."""
    found = _EMPTY_SHEET_DATA.findall(skeleton)
    if len(found) != 1:
        raise RuntimeError(f"the Lines sheet openpyxl wrote does not have one empty <sheetData>: {skeleton[:300]!r}")
    before, after = _EMPTY_SHEET_DATA.split(skeleton)
    return before + b"<sheetData>", b"</sheetData>" + after


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


def _lines_sheet(sheet: WriteOnlyWorksheet, document: dict[str, Any]) -> dict[str, int]:
    """The Lines sheet's settings, with no rows (they are written into the package afterwards), and the ids of the
    styles its cells use, registered with the workbook in the order the cells first use them."""
    for i, column in enumerate(LINE_HEADER, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = WIDTHS.get(column, 10)
    sheet.freeze_panes = "B2"
    sheet.print_title_rows = "1:1"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(LINE_HEADER))}{len(document['lines']) + 1}"
    _print_fit(sheet)
    return {
        "header": _cell(sheet, None, BOLD, HEADER_FILL).style_id,
        "text": _cell(sheet, None, alignment=TOP_WRAP).style_id,
        "date": _cell(sheet, None, number_format=DATE, alignment=TOP).style_id,
        "money": _cell(sheet, None, number_format=MONEY, alignment=TOP).style_id,
        "total": _cell(sheet, None, BOLD).style_id,
        "total_money": _cell(sheet, None, BOLD, number_format=MONEY).style_id,
    }


def _xml_text(text: str) -> str:
    """A text cell's content (`<is><t>...</t></is>`) as openpyxl writes it: quoted by `safe_cell` when a
    spreadsheet could run it, cut to Excel's longest text, XML-escaped, its spaces kept when it starts or ends
    with any."""
    if text.startswith(FORMULA_STARTS) or "\r" in text:
        text = safe_cell(text)
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS]
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if text.strip() != text:
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def _xml_cell(ref: str, style: int, value: Any) -> str:
    """One cell of `value` (text, a number, or nothing) as openpyxl writes it."""
    if value is None or value == "":
        return f'<c r="{ref}" s="{style}"/>'
    if isinstance(value, str):
        return f'<c r="{ref}" s="{style}" t="inlineStr">{_xml_text(value)}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" s="{style}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}" s="{style}"><v>{_number(value)}</v></c>'
    raise TypeError(f"a statement line's value {value!r} ({type(value).__name__}) is not text or a number")


def _number(value: int | float | Decimal) -> str:
    if not isfinite(value):
        raise ValueError(f"a statement's amount is not a number: {value!r}")
    return f"{float(value):.16g}"  # as openpyxl writes numbers ("%.16g")


def _lines_rows(document: dict[str, Any], styles: dict[str, int]) -> Iterator[bytes]:
    """The Lines sheet's rows as UTF-8 XML, in chunks of `CHUNK_ROWS` rows: the header, each line (values as
    `statement_xlsx` has always written them: amounts in pounds, dates as dates, other values as text or numbers,
    an empty value as an empty cell), then the total row. A chunk is made column by column (`reports.columnar`):
    each column's cells without their reference (`_cell_ends`), then every row joined from its number and cells."""
    letters = [get_column_letter(i) for i in range(1, len(LINE_HEADER) + 1)]
    header = "".join(_xml_cell(f"{letter}1", styles["header"], name) for letter, name in zip(letters, LINE_HEADER,
                                                                                                strict=True))
    yield _checked(f'<row r="1">{header}</row>'.encode())
    kinds = ["money" if c in MONEY_COLUMNS else "date" if c in DATE_COLUMNS else "text" for c in LINE_HEADER]
    said: dict[str, dict[tuple[type, Any], str]] = {"money": {}, "date": {}}
    lines = document["lines"]
    for first in range(0, len(lines), CHUNK_ROWS):
        chunk = lines[first:first + CHUNK_ROWS]
        numbers = pc.cast(pa.array(range(first + 2, first + 2 + len(chunk)), pa.int64()), columnar.TEXT)
        parts: list[Any] = ['<row r="', numbers, '">']
        for letter, kind, values in zip(letters, kinds, columnar.columns_of(chunk, LINE_HEADER), strict=True):
            parts += [f'{_OPENING}{letter}', numbers, _cell_ends(values, kind, styles, said.get(kind))]
        parts.append("</row>")
        yield _checked(columnar.text_bytes(columnar.joined(*parts)))
    n = len(lines) + 2
    amount = letters[LINE_HEADER.index("amount")]
    total = _money(document["totals"]["total"])
    yield _checked(f'<row r="{n}">{_xml_cell(f"A{n}", styles["total"], "Total")}'
                   f'{_xml_cell(f"{amount}{n}", styles["total_money"], total)}</row>'.encode())


#: What `_xml_cell` writes before a cell's reference: a cell's end is the rest (from the quote closing the reference).
_OPENING = '<c r="'
#: Text cells written as they are: non-empty, starting and ending with a printable ASCII character that is not a
#: space (nothing `str.strip` takes), without a character `_xml_text` escapes (& < >) or `safe_cell` mends (a carriage
#: return), not starting like a formula (= + - @; a tab or line break is no printable character). Any other value,
#: and any text longer than `CELL_CHARS`, is written by `_xml_cell` itself.
_PLAIN_TEXT = r"^[!-%'-*,.-;?A-~]([^\r&<>]*[!-%'-;=?-~])?$"


def _cell_ends(values: Sequence[Any], kind: str, styles: dict[str, int], said: dict[tuple[type, Any], str] | None
               ) -> pa.Array:
    """Each value's cell as `_xml_cell` (or, for amounts and dates, `_said`) writes it, from the quote that closes
    the cell's reference to its end, as a column."""
    if kind != "text":
        assert said is not None
        found = columnar.texts(values)
        if found is not None:  # each distinct value worked out once (a national statement has a few hundred)
            coded = found.dictionary_encode()
            distinct = [_said(value, kind, styles, said) for value in coded.dictionary.to_pylist()]
            return pc.take(pa.array(distinct, columnar.TEXT), coded.indices)
        return columnar.each(values, lambda value: _said(value, kind, styles, said))
    style = styles["text"]

    def cell_end(value: Any) -> str:
        return _xml_cell("", style, value)[len(_OPENING):]

    text = columnar.texts(values)
    if text is not None:
        plain = pc.match_substring_regex(text, _PLAIN_TEXT)
        if (pc.max(pc.binary_length(text)).as_py() or 0) > CELL_CHARS:
            plain = pc.and_(plain, pc.less_equal(pc.utf8_length(text), CELL_CHARS))
        cells = columnar.joined(f'" s="{style}" t="inlineStr"><is><t>', text, "</t></is></c>")
        empty = pc.equal(text, pa.scalar("", columnar.TEXT))
        if pc.any(empty).as_py():
            cells = pc.if_else(empty, pa.scalar(f'" s="{style}"/>', columnar.TEXT), cells)
            plain = pc.or_(plain, empty)
        return columnar.mended(cells, plain, values, cell_end)
    numbers = columnar.whole_numbers(values)
    if numbers is not None:
        return columnar.joined(f'" s="{style}"><v>', numbers, "</v></c>")
    return columnar.each(values, cell_end)


def _said(value: Any, kind: str, styles: dict[str, int], said: dict[tuple[type, Any], str]) -> str:
    """An amount's or a date's cell end, worked out once per value."""
    key = (type(value), value)
    found = said.get(key)
    if found is None:
        if kind == "money":
            style = styles["money"]
            found = (f'" s="{style}"/>' if value is None or value == ""
                     else f'" s="{style}"><v>{_number(Decimal(str(value)))}</v></c>')
        else:
            found = f'" s="{styles["date"]}"><v>{_number(to_excel(date.fromisoformat(value)))}</v></c>'
        said[key] = found
    return found


#: The control characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE), as UTF-8 bytes: each is one byte,
#: and no byte of a longer character is below 0x80, so the encoded text holds one exactly when the text does.
_ILLEGAL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _checked(data: bytes) -> bytes:
    """The XML, refused (as openpyxl refuses such a value) when a value holds a control character XML cannot
    hold."""
    if len(data.translate(None, _ILLEGAL_BYTES)) != len(data):
        xml = data.decode("utf-8")
        found = ILLEGAL_CHARACTERS_RE.search(xml)
        start = xml.rfind("<c ", 0, found.start() if found else 0)
        raise IllegalCharacterError(f"cell {xml[start:start + 20]!r}... holds "
                                    f"{found.group() if found else '?'!r}, which cannot be used in worksheets.")
    return data


def _print_fit(sheet: WriteOnlyWorksheet) -> None:
    """Print landscape on A4, as many pages down as needed but one page across."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
