"""A statement as a PDF for people: the heading, the summary tables, then every line, on A4 landscape pages.

Each page carries the statement id, its fingerprint's first 12 characters and "page N of M", so a printed page can
be matched to its statement. Text uses the PDF core font (Latin-1); any other character is shown as `?`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from recoverypbr.reports.summary import Section, grouped, heading, sections

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

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 8, pdf_text(f"{self.footer_text}   page {self.page_no()} of {{nb}}"), align="R")


def statement_pdf(document: dict[str, Any], path: Path) -> None:
    """Write the PDF."""
    pdf = FooterPages(orientation="L", format="A4")
    pdf.footer_text = f"{document['statement_id']}   fingerprint {document['fingerprint'][:12]}"
    pdf.set_creation_date(datetime.combine(date.fromisoformat(document["as_of"]), datetime.min.time()))
    pdf.set_title(pdf_text(f"Statement {document['statement_id']}"))
    pdf.set_creator("recoverypbr")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, "Payment statement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for label, value in heading(document):
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(28, 5, pdf_text(label))
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, pdf_text(value), new_x="LMARGIN", new_y="NEXT")
    for section in sections(document):
        _section(pdf, section)
    _lines(pdf, document)
    pdf.output(str(path))


def _section(pdf: FPDF, section: Section) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, pdf_text(section.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    wide = len(section.header) <= 2
    with pdf.table(
        width=170 if wide else None,
        col_widths=(120, 50) if wide else None,
        align="LEFT",
        headings_style=HEAD,
        text_align=tuple("RIGHT" if i in section.money else "LEFT" for i in range(len(section.header))),
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
