"""Spreadsheet-safe cells: no value the project writes to CSV or XLSX can become a live formula.

A cell that a spreadsheet would read as a formula (one starting `=`, `+`, `-` or `@`, or a tab or carriage return
that some programs strip first) is written with a leading apostrophe, as OWASP's CSV-injection advice says, so a
client id like `=HYPERLINK(...)` from a provider's extract shows as text. A plain number (`-12.50`) is left alone:
it is a number, not a formula, and statements carry negative amounts.
"""

from __future__ import annotations

import re
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_NUMBER_RE = re.compile(_NUMBER)

T = TypeVar("T")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read the text as a formula."""
    return text.startswith(FORMULA_STARTS) and not _NUMBER_RE.match(text)


def safe_cell(value: T) -> T | str:
    """The value, with text that could be read as a formula quoted by a leading apostrophe."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def safe_row(row: dict[str, T]) -> dict[str, T | str]:
    return {key: safe_cell(value) for key, value in row.items()}


def safe_table(table: pa.Table) -> pa.Table:
    """Every text column of an Arrow table with formula-like values quoted (vectorised, for large exports)."""
    for i, fld in enumerate(table.schema):
        if not (pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type)):
            continue
        column = table.column(i)
        risky = pc.and_(
            pc.match_substring_regex(column, _FORMULA_START),
            pc.invert(pc.match_substring_regex(column, _NUMBER)),
        )
        quoted = pc.binary_join_element_wise(pa.scalar("'", fld.type), column, pa.scalar("", fld.type))
        table = table.set_column(i, fld, pc.if_else(risky, quoted, column))
    return table
