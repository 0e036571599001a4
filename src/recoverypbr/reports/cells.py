"""Spreadsheet-safe cells: no value the project writes to CSV or XLSX can become a live formula.

A cell that a spreadsheet would read as a formula (one starting `=`, `+`, `-` or `@`, or a tab or carriage return
that some programs strip first) is written with a leading apostrophe, as OWASP's CSV-injection advice says, so a
client id like `=HYPERLINK(...)` from a provider's extract shows as text. A plain number (`-12.50`) is left alone:
it is a number, not a formula, and statements carry negative amounts.

A carriage return inside a value is written as a line feed. CSV writers quote a field holding a line feed, but
not one holding a lone carriage return, which a spreadsheet reads as the end of the row: the rest of the value
would start a new row, and could start it with a formula. (XLSX stores a carriage return as a line feed anyway.)
"""

from __future__ import annotations

import re
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_FORMULA_START = r"^[=+\-@\t\r\n]"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_NUMBER_RE = re.compile(_NUMBER)

T = TypeVar("T")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read the text as a formula."""
    return text.startswith(FORMULA_STARTS) and not _NUMBER_RE.match(text)


def safe_cell(value: T) -> T | str:
    """The value, with text that could be read as a formula quoted by a leading apostrophe (and carriage returns
    written as line feeds)."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    return "'" + text if is_formula_like(text) else text


def safe_row(row: dict[str, T]) -> dict[str, T | str]:
    return {key: safe_cell(value) for key, value in row.items()}


def safe_table(table: pa.Table) -> pa.Table:
    """Every text column of an Arrow table with formula-like values quoted (vectorised, for large exports)."""
    for i, fld in enumerate(table.schema):
        if not (pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type)):
            continue
        column = pc.replace_substring(pc.replace_substring(table.column(i), "\r\n", "\n"), "\r", "\n")
        risky = pc.and_(
            pc.match_substring_regex(column, _FORMULA_START),
            pc.invert(pc.match_substring_regex(column, _NUMBER)),
        )
        quoted = pc.binary_join_element_wise(pa.scalar("'", fld.type), column, pa.scalar("", fld.type))
        table = table.set_column(i, fld, pc.if_else(risky, quoted, column))
    return table
