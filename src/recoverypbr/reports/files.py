"""Writing one statement in the asked formats, under names that say whose and which period it is.

A national provider's statement has a hundred thousand lines and more, so the files are written as they are made:
the CSV row by row and the JSON in chunks of its text (the same bytes as `document_text`), each to a hidden part
file renamed into place when whole (`reports.staged`); neither is first built whole in memory.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.reports.cells import FORMULA_STARTS, safe_cell
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
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LINE_HEADER)
    header = frozenset(LINE_HEADER)

    def cells(line: dict[str, Any]) -> list[Any]:
        # What `csv.DictWriter` writes of `safe_row(line)`: a missing column empty, an unknown one refused; each
        # value through `safe_cell` when it could need it (text starting like a formula, or with a carriage return).
        if not header.issuperset(line):
            raise ValueError(f"a line has columns a statement does not: {sorted(set(line) - header)}")
        found = []
        for key in LINE_HEADER:
            value = line.get(key, "")
            if type(value) is str and (value.startswith(FORMULA_STARTS) or "\r" in value):
                value = safe_cell(value)
            found.append(value)
        return found

    writer.writerows(map(cells, document["lines"]))


def document_chunks(document: dict[str, Any]) -> Iterable[str]:
    """`payments.approval.document_text(document)` in pieces of about `CHUNK_CHARS` characters (joined, the same
    text). The lines, a national statement's hundreds of thousands of flat rows, are written by `_line_texts`;
    the rest by the same encoder `json.dumps` with an indent uses."""
    lines = document.get("lines")
    if isinstance(lines, list) and lines:
        rest = json.dumps({**document, "lines": _LINES_MARK}, indent=2, ensure_ascii=False)
        if rest.count(_ENCODED_MARK) == 1:
            before, after = rest.split(_ENCODED_MARK)
            yield before
            yield from _joined(_line_texts(lines))
            yield after + "\n"
            return
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    yield from _joined(itertools.chain(encoder.iterencode(document), ["\n"]))


def _joined(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces joined into chunks of about `CHUNK_CHARS` characters."""
    gathered: list[str] = []
    size = 0
    for piece in pieces:
        gathered.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(gathered)
            gathered, size = [], 0
    if gathered:
        yield "".join(gathered)


#: A value the document's lines are replaced by while the rest is encoded; its text is where the lines go.
_LINES_MARK = "\x00recoverypbr lines\x00"
_ENCODED_MARK = json.dumps(_LINES_MARK)
_ITEM = "\n    "  # a list item's indent: the lines are a top-level key's value (level 2)
_FIELD = "\n      "  # a key's indent in a line (level 3)
_encode = json.encoder.encode_basestring  # what json's encoder uses for text with ensure_ascii=False


def _line_texts(lines: list[Any]) -> Iterator[str]:
    """The lines as `json.dumps(lines, indent=2, ensure_ascii=False)` writes them as a top-level key's value, in
    pieces: a line that is a flat object of text and whole numbers (every line a statement makes) is written
    field by field with the encoder's own text escaping; anything else by `json.dumps` itself, indented."""
    yield "["
    keys: dict[str, str] = {}
    for n, line in enumerate(lines):
        text = None
        if type(line) is dict and line:
            fields = []
            for key, value in line.items():
                if type(key) is not str:
                    break
                said = keys.get(key)
                if said is None:
                    said = keys[key] = f"{_FIELD}{_encode(key)}: "
                if type(value) is str:
                    fields.append(said + _encode(value))
                elif type(value) is int:
                    fields.append(said + int.__repr__(value))
                else:
                    break
            else:
                text = "{" + ",".join(fields) + "\n    }"
        if text is None:
            text = json.dumps(line, indent=2, ensure_ascii=False).replace("\n", _ITEM)
        yield (_ITEM if n == 0 else "," + _ITEM) + text
    yield "\n  ]"


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
