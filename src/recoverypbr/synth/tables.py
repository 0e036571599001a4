"""Arrow columns and tables in the canonical shape of data/schema.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.data.schema import TABLES_BY_NAME, Column
from recoverypbr.synth.sampling import NO_DATE

#: The tables the generator writes, in load order (individual offending is not generated).
TABLE_NAMES = ("clients", "providers", "assessments", "episodes", "top", "events", "presentations",
               "offending_cohort", "feedback")
#: Columns not written: the feedback key is computed on load.
COMPUTED_COLUMNS = ("response_key",)


def columns_of(name: str) -> tuple[Column, ...]:
    return tuple(c for c in TABLES_BY_NAME[name].columns if c.name not in COMPUTED_COLUMNS)


def arrow_type(column: Column) -> pa.DataType:
    """The Parquet type of a clean column: dates as date32, whole numbers int64, decimals float64."""
    return {"date": pa.date32(), "int": pa.int64(), "decimal": pa.float64()}.get(column.kind, pa.string())


def schema(name: str, as_text: Sequence[str] = ()) -> pa.Schema:
    """The output schema of a table; columns in `as_text` are strings (dirty mode)."""
    return pa.schema([
        pa.field(c.name, pa.string() if c.name in as_text else arrow_type(c)) for c in columns_of(name)
    ])


def build(name: str, values: dict[str, pa.Array], n: int) -> pa.Table:
    """A table in canonical column order; columns not given are blank."""
    out = schema(name)
    arrays = [values[f.name] if f.name in values else pa.nulls(n, f.type) for f in out]
    return pa.Table.from_arrays([a.cast(f.type) for a, f in zip(arrays, out, strict=True)], schema=out)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers like C0000001: `prefix` and the number zero-padded to `width` digits."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def dates(days: np.ndarray) -> pa.Array:
    """Day numbers as date32; NO_DATE is blank."""
    days = np.asarray(days, dtype=np.int64)
    blank = days == NO_DATE
    return pa.array(np.where(blank, 0, days).astype(np.int32), pa.date32(), mask=blank)


def labels(names: Sequence[str | None], index: np.ndarray) -> pa.Array:
    """Text from a small list by index; a negative index is blank."""
    index = np.asarray(index, dtype=np.int64)
    picked = pc.take(pa.array(list(names), pa.string()), pa.array(np.maximum(index, 0)))
    return blank_unless(index >= 0, picked)


def flags(values: np.ndarray) -> pa.Array:
    """Booleans or 1/0/-1 as Y/N/blank."""
    as_int = np.asarray(values).astype(np.int64)
    return labels(("N", "Y"), as_int)


def ints(values: np.ndarray, blank: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=blank)


def decimals(values: np.ndarray) -> pa.Array:
    """Floats; NaN is blank."""
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def blank_unless(keep: np.ndarray, values: pa.Array) -> pa.Array:
    """`values` where `keep`, blank elsewhere."""
    return pc.if_else(pa.array(np.asarray(keep, dtype=bool)), values, pa.nulls(len(values), values.type))
