"""Text made column by column in Arrow, for the XLSX writer's Lines sheet (`reports.xlsx`).

A national provider's statement has hundreds of thousands of lines of a dozen and more values each: made value by
value in Python that is seconds per file. The writer takes the lines in chunks, turns each chunk into columns
(`columns_of`), makes each column's text in Arrow where every value is of one plain kind (text or whole numbers, with a
vectorised test for the values that need no escaping), hands the values that need more to the writer's own
value-by-value rule, and joins a chunk's rows in one step (`joined`), reading its bytes straight from the joined
column (`text_bytes`). The value-by-value rule stays the definition: the tests hold the columns to it byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()
#: Whole numbers strictly inside these bounds are written as `str` writes them by every writer.
_WHOLE = 10**15


def columns_of(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows' values column by column, in the order of `keys`; a key a row lacks gives "" (as `row.get(key, "")`)."""
    try:
        return list(zip(*map(itemgetter(*keys), rows), strict=True)) if len(keys) > 1 else [
            tuple(row[keys[0]] for row in rows)]
    except KeyError:
        return [tuple(row.get(key, "") for row in rows) for key in keys]


def texts(values: Sequence[Any]) -> pa.Array | None:
    """The values as a column of text when every one is `str` (and can be written as UTF-8), else None."""
    if not values or set(map(type, values)) != {str}:
        return None
    try:
        return pa.array(values, TEXT)
    except (UnicodeError, pa.ArrowException):  # a lone surrogate: left to the writer's own rule (and its error)
        return None


def whole_numbers(values: Sequence[Any]) -> pa.Array | None:
    """The values as text (`str` of each) when every one is an `int` (not a bool) below 10^15 in size, else None."""
    if not values or set(map(type, values)) != {int} or not all(-_WHOLE < v < _WHOLE for v in values):
        return None
    return pc.cast(pa.array(values, pa.int64()), TEXT)


def mended(column: pa.Array, plain: pa.Array, values: Sequence[Any], rule: Callable[[Any], str]) -> pa.Array:
    """`column` where `plain` is true, and `rule(value)` (the writer's value-by-value text) elsewhere."""
    if pc.all(plain).as_py():
        return column
    keep = plain.to_pylist()
    others = pa.array([None if kept else rule(value) for kept, value in zip(keep, values, strict=True)], TEXT)
    return pc.if_else(plain, column, others)


def each(values: Sequence[Any], rule: Callable[[Any], str]) -> pa.Array:
    """`rule(value)` of each value, as a column of text."""
    return pa.array([rule(value) for value in values], TEXT)


def joined(*parts: str | pa.Array) -> pa.Array:
    """Row by row, the parts one after another: text the same in every row, or columns of text (`TEXT`)."""
    return pc.binary_join_element_wise(*[pa.scalar(p, TEXT) if isinstance(p, str) else p for p in parts],
                                       pa.scalar("", TEXT))


def text_bytes(column: pa.Array) -> bytes:
    """A text column's values one after another, as UTF-8: the span of its data buffer they take."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int64)[column.offset:column.offset + len(column) + 1]
    return bytes(memoryview(column.buffers()[2])[int(offsets[0]):int(offsets[-1])])
