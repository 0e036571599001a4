"""Writing one statement in the asked formats, under names that say whose and which period it is.

A national provider's statement has a hundred thousand lines and more, so the files are written as they are made:
the CSV row by row and the JSON in chunks of its text (the same bytes as `document_text`), each to a hidden part
file renamed into place when whole (`reports.staged`); neither is first built whole in memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports.cells import safe_row
from recoverypbr.reports.staged import staged

FORMATS = ("csv", "json", "xlsx", "pdf")
#: Formats that hold every line of a statement (the PDF of a large statement holds its summary only).
LINE_FORMATS = ("csv", "xlsx", "json")
#: About this many characters of JSON are gathered before each write.
CHUNK_CHARS = 1 << 20


def statement_stem(document: dict[str, Any]) -> str:
    """`statement_<provider>_<period>`, with anything but letters, digits, `-`, `_` and `.` made `-`."""
    return safe_name(f"statement_{document['provider']['id']}_{document['period']['label']}")


def safe_name(text: str) -> str:
    """Text made a file name: anything but letters, digits, `-`, `_` and `.` made `-`."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)


def lines_csv(document: dict[str, Any]) -> bytes:
    """The statement's lines as CSV (UTF-8, `\\n` line ends, amounts in pounds with two decimals)."""
    buffer = io.StringIO()
    write_lines_csv(document, buffer)
    return buffer.getvalue().encode()


def write_lines_csv(document: dict[str, Any], out: IO[str]) -> None:
    """The statement's lines as CSV, written row by row to `out` (a text file opened with `newline=""`)."""
    writer = csv.DictWriter(out, fieldnames=LINE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(line) for line in document["lines"])


def document_chunks(document: dict[str, Any]) -> Iterable[str]:
    """`payments.approval.document_text(document)` in pieces of about `CHUNK_CHARS` characters (joined, the same
    text: `json.dumps` with an indent is this same encoder, run to the end and joined)."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    pieces: list[str] = []
    size = 0
    for piece in encoder.iterencode(document):
        pieces.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(pieces)
            pieces, size = [], 0
    pieces.append("\n")
    yield "".join(pieces)


def write_statement(document: dict[str, Any], folder: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the statement into `folder` in each format; return the files written."""
    from recoverypbr.reports.pdf import statement_pdf
    from recoverypbr.reports.xlsx import statement_xlsx

    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    stem = statement_stem(document)
    written = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        if fmt == "csv":
            with staged(path) as part, part.open("w", encoding="utf-8", newline="") as out:
                write_lines_csv(document, out)
        elif fmt == "json":
            with staged(path) as part, part.open("w", encoding="utf-8", newline="") as out:
                for chunk in document_chunks(document):
                    out.write(chunk)
        elif fmt == "xlsx":
            statement_xlsx(document, path)
        else:
            statement_pdf(document, path, beside=[f for f in LINE_FORMATS if f in formats])
        written.append(path)
    return written
