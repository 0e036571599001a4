"""Writing one statement in the asked formats, under names that say whose and which period it is."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recoverypbr.payments.approval import document_text
from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports.cells import safe_row

FORMATS = ("csv", "json", "xlsx", "pdf")


def statement_stem(document: dict[str, Any]) -> str:
    """`statement_<provider>_<period>`, with anything but letters, digits, `-`, `_` and `.` made `-`."""
    return safe_name(f"statement_{document['provider']['id']}_{document['period']['label']}")


def safe_name(text: str) -> str:
    """Text made a file name: anything but letters, digits, `-`, `_` and `.` made `-`."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)


def lines_csv(document: dict[str, Any]) -> bytes:
    """The statement's lines as CSV (UTF-8, `\\n` line ends, amounts in pounds with two decimals)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LINE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(line) for line in document["lines"])
    return buffer.getvalue().encode()


def write_statement(document: dict[str, Any], folder: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the statement into `folder` in each format; return the files written."""
    from recoverypbr.reports.pdf import statement_pdf
    from recoverypbr.reports.xlsx import statement_xlsx

    folder.mkdir(parents=True, exist_ok=True)
    stem = statement_stem(document)
    written = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        if fmt == "csv":
            path.write_bytes(lines_csv(document))
        elif fmt == "json":
            path.write_bytes(document_text(document).encode())
        elif fmt == "xlsx":
            statement_xlsx(document, path)
        elif fmt == "pdf":
            statement_pdf(document, path)
        else:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        written.append(path)
    return written
