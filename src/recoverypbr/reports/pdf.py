"""A statement as a PDF for people: the heading, the summary tables, then every line, on A4 landscape pages.

A statement of more than `SUMMARY_ABOVE` lines (a national provider's has a hundred thousand and more) is not
listed line by line: its PDF is a summary, the heading and fingerprint, the totals, the lines counted and summed by
kind, by outcome and by complexity group, the year to date and the other tables, and where its lines are (the
CSV, XLSX and JSON of the same statement).

Each page carries the statement id, its fingerprint's first 12 characters and "page N of M", so a printed page can
be matched to its statement. Text uses the PDF core font (Latin-1); any other character is shown as `?`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from recoverypbr.payments.statements import KIND_WORDS
from recoverypbr.reports.staged import staged
from recoverypbr.reports.summary import Section, grouped, heading, sections

#: Above this many lines a statement's PDF is its summary, without the lines. Listed, a line takes a sixteenth of
#: a page or so (its reference and reference in words wrap): 2,000 lines are about 125 pages, as much as anyone
#: reads or prints to check line by line; beyond that the CSV and XLSX are the tools (sort, filter, sum). Every
#: statement of the tests and of a county-sized area is far below it, so their PDFs list every line as before.
SUMMARY_ABOVE = 2_000
#: fpdf2's page-count alias `{nb}` keeps room for three digits in "page N of M"; a PDF of 1,000 pages or more is
#: laid out again with room for as many digits as its page count has (see `statement_pdf`).
NB_DIGITS = 3

#: (heading, key in the line, width in mm): 277 mm, the width of an A4 landscape page inside its margins.
LINE_COLUMNS = (
    ("No", "line_no", 9),
    ("Kind", "kind", 20),
    ("Client", "client_id", 17),
    ("Episode", "episode_id", 17),
    ("Outcome", "outcome_id", 25),
    ("Group", "complexity_group", 14),
    ("Payable", "payable_on", 17),
    ("Amount (GBP)", "amount", 20),
    ("Reference", "reference", 40),
    ("What it pays for", "reference_words", 52),
    ("Evidence, correction, share", "detail", 46),
)
HEAD = FontFace(emphasis="BOLD", fill_color=(221, 230, 240))


def pdf_text(value: Any) -> str:
    """A value as PDF core-font text (Latin-1; any other character as `?`)."""
    return ("" if value is None else str(value)).encode("latin-1", "replace").decode("latin-1")


class FooterPages(FPDF):
    """Pages whose footer says `footer_text` and "page N of M"."""

    footer_text = ""
    footer_alias = "{nb}"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 8, pdf_text(f"{self.footer_text}   page {self.page_no()} of ") + self.footer_alias, align="R")


def statement_pdf(document: dict[str, Any], path: Path, beside: Sequence[str] | None = None) -> None:
    """Write the PDF: every line, or for more than `SUMMARY_ABOVE` lines the summary. `beside` names the formats
    of the same statement written beside it (the summary says where the lines are)."""
    if len(document["lines"]) > SUMMARY_ABOVE:
        pointer = lines_pointer(document, beside)
        write_pdf(document, lambda pdf: _summary(pdf, document, pointer), path)
    else:
        write_pdf(document, lambda pdf: _full(pdf, document), path)


def write_pdf(document: dict[str, Any], lay_out: Callable[[FPDF], None], path: Path) -> None:
    """Write the pages `lay_out` makes, with the statement's footer, title and date, to `path` (whole or not at
    all)."""
    pdf = _pages(document, lay_out, "{nb}")
    digits = len(str(pdf.pages_count))
    if digits > NB_DIGITS:
        # fpdf2 puts the page count in the room the alias left in each footer, and warns (a UserWarning per page)
        # when the count is wider: the footers would run past the margin. Laid out again with an alias as wide as
        # the count, it fits (the footer is below the page break, so the pages break where they did).
        pdf = _pages(document, lay_out, "{" + "N" * (digits - 2) + "}")
    with staged(path) as part:
        part.write_bytes(pdf.output())


def _pages(document: dict[str, Any], lay_out: Callable[[FPDF], None], alias: str) -> FPDF:
    pdf = FooterPages(orientation="L", format="A4")
    if alias != "{nb}":
        pdf.alias_nb_pages(alias)
        pdf.footer_alias = alias
    pdf.footer_text = f"{document['statement_id']}   fingerprint {document['fingerprint'][:12]}"
    pdf.set_creation_date(datetime.combine(date.fromisoformat(document["as_of"]), datetime.min.time()))
    pdf.set_title(pdf_text(f"Statement {document['statement_id']}"))
    pdf.set_creator("recoverypbr")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    lay_out(pdf)
    return pdf


def _heading(pdf: FPDF, document: dict[str, Any], title: str) -> None:
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, pdf_text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for label, value in heading(document):
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(28, 5, pdf_text(label))
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, pdf_text(value), new_x="LMARGIN", new_y="NEXT")


def _full(pdf: FPDF, document: dict[str, Any]) -> None:
    """The heading, the summary tables, then every line."""
    _heading(pdf, document, "Payment statement")
    for section in sections(document):
        _section(pdf, section)
    _lines(pdf, document)


def _summary(pdf: FPDF, document: dict[str, Any], pointer: str) -> None:
    """The heading, where the lines are, the totals by kind, outcome and group, then the summary tables."""
    _heading(pdf, document, "Payment statement (summary)")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(0, 5, pdf_text(pointer), new_x="LMARGIN", new_y="NEXT")
    found = sections(document)
    # The totals first, then the lines' breakdowns, then the year to date and the rest.
    _section(pdf, found[0])
    for section in line_totals(document):
        _section(pdf, section, widths=(120, 25, 50), right=(1,))
    for section in found[1:]:
        if len(section.rows) > SUMMARY_ABOVE:  # a table as long as the lines would be (unpriced rows, say)
            said = f"{len(section.rows):,} rows: they are in the statement's JSON and on the Summary sheet of its XLSX."
            section = Section(section.title, ("What",), [(said,)])
        _section(pdf, section)


def lines_pointer(document: dict[str, Any], beside: Sequence[str] | None) -> str:
    """Where a statement summarised in its PDF has its lines: the files of the same statement written with it."""
    from recoverypbr.reports.files import LINE_FORMATS, statement_stem

    stem = statement_stem(document)
    count = f"This statement has {len(document['lines']):,} lines; the PDF shows their totals only."
    written = [f for f in LINE_FORMATS if f in (beside or ())]
    if not written:
        return (f"{count} They are in the statement's CSV, XLSX and JSON ({stem}.csv, .xlsx and .json), which "
                "recoverypbr pay writes beside this file (--format csv,xlsx,json) and the web app offers for download.")
    spreadsheets = [f for f in written if f != "json"]
    names = f"{stem}.{written[0]}" if not spreadsheets else f"{stem}.{spreadsheets[0]}" + "".join(
        f" and .{f}" for f in spreadsheets[1:])
    if spreadsheets and "json" in written:
        names += " (and .json)"
    return f"This statement has {len(document['lines']):,} lines; they are in {names} beside this file."


def _pence(amount: Any) -> int:
    """Pounds as text with two decimals (`-12.50`) as whole pence; anything else is refused, never rounded."""
    pounds = Decimal(str(amount))
    pence = pounds * 100
    if pence != pence.to_integral_value():
        raise ValueError(f"an amount of {amount!r} is not whole pence")
    return int(pence)


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def line_totals(document: dict[str, Any]) -> list[Section]:
    """The lines counted and summed (in whole pence) by kind, by outcome and by complexity group: each table's
    rows add up to its total row, the sum of every line."""
    by: dict[str, dict[str, list[int]]] = {"kind": {}, "outcome_id": {}, "complexity_group": {}}
    for line in document["lines"]:
        pence = _pence(line["amount"])
        for key, found in by.items():
            counted = found.setdefault(str(line.get(key) or ""), [0, 0])
            counted[0] += 1
            counted[1] += pence
    count, whole = len(document["lines"]), sum(p for _, p in by["kind"].values())
    kinds = list(KIND_WORDS)

    def rows(found: dict[str, list[int]], order: Callable[[str], Any], label: Callable[[str], str]) -> list[Any]:
        listed = [(label(k), f"{n:,}", _pounds(p)) for k, (n, p) in sorted(found.items(), key=lambda kv: order(kv[0]))]
        return [*listed, ("Total", f"{count:,}", _pounds(whole))]

    def blank_last(key: str) -> tuple[bool, str]:
        return key == "", key

    return [
        Section("Lines by kind", ("Kind", "Lines", "Amount (GBP)"),
                rows(by["kind"], lambda k: (kinds.index(k) if k in kinds else len(kinds), k),
                     lambda k: KIND_WORDS.get(k, k)), money=(2,)),
        Section("Lines by outcome", ("Outcome", "Lines", "Amount (GBP)"),
                rows(by["outcome_id"], blank_last, lambda k: k or "(no outcome)"),
                money=(2,)),
        Section("Lines by complexity group", ("Complexity group", "Lines", "Amount (GBP)"),
                rows(by["complexity_group"], blank_last, lambda k: k or "(no group)"), money=(2,)),
    ]


def _section(pdf: FPDF, section: Section, widths: tuple[int, ...] | None = None, right: tuple[int, ...] = ()) -> None:
    """The section as a table: two columns 170 mm wide, more the page's width, unless `widths` says (in mm); money
    columns, and `right` ones, aligned right."""
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, pdf_text(section.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    if widths is None and len(section.header) <= 2:
        widths = (120, 50)
    with pdf.table(
        width=sum(widths) if widths else None,
        col_widths=widths,
        align="LEFT",
        headings_style=HEAD,
        text_align=tuple("RIGHT" if i in section.money or i in right else "LEFT"
                         for i in range(len(section.header))),
    ) as table:
        table.row([pdf_text(h) for h in section.header])
        for row in section.rows:
            table.row([pdf_text(grouped(v) if i in section.money else v) for i, v in enumerate(row)])


def _detail(line: dict[str, Any]) -> str:
    parts = [line["evidence"]]
    if line["corrects"]:
        parts.append(f"corrects: {line['corrects']}")
    if line["share"]:
        parts.append(f"share {line['share']} of {line['whole']}")
    if line["adjusts"]:
        parts.append(f"adjusts {line['adjusts']}")
    return "; ".join(p for p in parts if p)


LINE_HEIGHT = 3.4


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """The text broken into lines that fit `width` (at spaces and semicolons; a long word at any character)."""
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        return [text]
    found: list[str] = []
    line = ""
    for word in re.findall(r"[^ ;]+[ ;]*|[ ;]+", text):
        if pdf.get_string_width(line + word.rstrip()) <= room:
            line += word
            continue
        if line:
            found.append(line.rstrip())
        line = ""
        while pdf.get_string_width(word.rstrip()) > room:
            cut = max(1, next(i for i in range(len(word), 0, -1) if pdf.get_string_width(word[:i]) <= room))
            found.append(word[:cut])
            word = word[cut:]
        line = word
    if line.strip():
        found.append(line.rstrip())
    return found or [""]


def _row(pdf: FPDF, texts: list[str], header: list[str] | None, bold: bool = False) -> None:
    """One table row with borders, as tall as its longest cell; a new page (with the header row) when needed."""
    widths = [w for _, _, w in LINE_COLUMNS]
    lines = [_wrap(pdf, t, w) for t, w in zip(texts, widths, strict=True)]
    height = LINE_HEIGHT * max(len(x) for x in lines) + 1
    if header is not None and pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
        _row(pdf, header, None, bold=True)
    x, y = pdf.l_margin, pdf.get_y()
    pdf.set_font("Helvetica", "B" if bold else "", 7)
    if bold:
        pdf.set_fill_color(221, 230, 240)
    for (_, key, width), cell_lines in zip(LINE_COLUMNS, lines, strict=True):
        pdf.rect(x, y, width, height, style="DF" if bold else "D")
        right = key in ("amount", "line_no")
        for i, text in enumerate(cell_lines):
            if text:
                left = x + width - pdf.c_margin - pdf.get_string_width(text) if right else x + pdf.c_margin
                # text() places a string at its baseline: far cheaper than cell() for tens of thousands of cells.
                pdf.text(left, y + 0.5 + (i + 0.78) * LINE_HEIGHT, text)
        x += width
    pdf.set_xy(pdf.l_margin, y + height)


def _lines(pdf: FPDF, document: dict[str, Any]) -> None:
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 11)
    total = document["totals"]
    pdf.cell(0, 7, pdf_text(f"Lines ({total['lines']}), total GBP {grouped(total['total'])}"), new_x="LMARGIN",
             new_y="NEXT")
    # Drawn cell by cell rather than with fpdf2's table(): a national provider's tens of thousands of lines take
    # seconds this way, minutes that way.
    header = [h for h, _, _ in LINE_COLUMNS]
    _row(pdf, header, None, bold=True)
    for line in document["lines"]:
        row = {**line, "detail": _detail(line), "amount": grouped(line["amount"])}
        _row(pdf, [pdf_text(row.get(key, "")) for _, key, _ in LINE_COLUMNS], header)
    totals = {"kind": "Total", "amount": grouped(total["total"])}
    _row(pdf, [totals.get(key, "") for _, key, _ in LINE_COLUMNS], header, bold=True)
