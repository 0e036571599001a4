"""Row digests: each input row's MD5, as the data digest reads it, kept with the row when it is loaded.

A statement's data digest (`payments.fingerprint.data_sha256`) is an order-free sum over every input row known on
the as-of date of parts of that row's MD5. Working the MD5s out when a statement is made costs seconds of the
engine at national size (every cell written as text, joined and hashed). So each row of an input table keeps its
MD5 parts in the columns `digest0` to `digest3` (schema version 12), worked out once, by the load that wrote the
row (`insert_rows`), from the cells the digest reads (`digested_columns`). The digest then sums the kept
parts; where a row has none (written before version 12 and not yet filled, or by a tool that inserts rows itself)
or the as-of view shows the row otherwise than it was loaded (an episode whose discharge is after the as-of date),
the row's MD5 is worked out from the view, as before. Both give the same numbers: the same cells, the same text.

A row's MD5 is over its cells in column order by name, provenance and digest columns left out, each cell as text
every engine writes alike (`cell`); the parts are `PARTS` numbers of `DIGITS` hex digits each (4 x 28 = 112 bits
of the MD5), each small enough that a sum over a billion rows stays within 64 bits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

if TYPE_CHECKING:
    from recoverypbr.warehouse.connection import Warehouse

PARTS, DIGITS = 4, 7
#: The columns a digested table keeps its rows' MD5 parts in.
DIGEST_COLUMNS = tuple(f"digest{i}" for i in range(PARTS))
#: The load's provenance columns (`migrations.PROVENANCE_COLUMNS`): not data, never digested.
PROVENANCE = ("load_id", "source_row")
#: Columns a stored row has that are not its data.
NOT_DATA = frozenset((*PROVENANCE, *DIGEST_COLUMNS))
#: The input tables (`outcomes.inputs.TABLE_NAMES`): the data digest reads them, and each keeps its rows' digests.
DIGESTED_TABLES = (
    "episodes",
    "top",
    "events",
    "presentations",
    "offending_individual",
    "offending_cohort",
    "assessments",
    "clients",
)

_HEX = "0123456789abcdef"


@ibis.udf.scalar.builtin(name="md5")  # type: ignore[untyped-decorator]
def _md5(value: str) -> str:  # type: ignore[empty-body]
    """MD5 as lower-case hex: a built-in of DuckDB, PostgreSQL and Spark alike (Ibis's own hashes differ by engine)."""


def cell(value: ir.Value) -> ir.StringValue:
    """A cell as text every engine writes alike: decimals as thousandths (engines print floats differently), rounded
    half away from zero by hand (PostgreSQL's round of a double goes to even, DuckDB's and Spark's away from zero)."""
    if value.type().is_floating():
        value = ((value.abs() * 1000 + 0.5).floor() * value.sign()).cast("int64")
    return value.cast("string").fill_null("\u2205")


def row_md5(table: ir.Table, columns: Sequence[str] | None = None,
            types: Mapping[str, dt.DataType] | None = None) -> ir.StringValue:
    """Each row's MD5 (hex) over its cells in column order by name, provenance and digest columns left out: of
    `columns` when given (default: every column), each read as `types` says when given (the stored column's type,
    for rows not yet stored)."""
    names = sorted(c for c in (columns if columns is not None else table.columns) if c not in NOT_DATA)
    values = [table[c].cast(types[c]) if types is not None and c in types else table[c] for c in names]
    return _md5(ibis.literal("|").join([cell(v) for v in values]))


def hex_number(text: ir.StringValue, start: int, casts_hex: bool = False) -> ir.IntegerValue:
    """The number `DIGITS` hex digits of `text` from `start` make: with the engine's own cast where it reads hex
    (`Warehouse.casts_hex`: three times faster over a national area's rows), else in portable SQL digit by digit.
    Both give the same number."""
    if casts_hex:
        return (ibis.literal("0x") + text.substr(start, DIGITS)).cast("int64")
    number: ir.IntegerValue = ibis.literal(0, "int64")
    for i in range(DIGITS):
        number = number * 16 + ibis.literal(_HEX).find(text.substr(start + i, 1)).cast("int64")
    return number


def digested_columns(name: str, columns: Sequence[str]) -> list[str]:
    """The columns of a stored row of input table `name` (with `columns`) that the data digest reads: those its
    as-of view shows (`outcomes.inputs`; pricing's episodes keep every column, `pipeline.payment_inputs`)."""
    from recoverypbr.outcomes.inputs import DATED

    shown = DATED[name][1] if name in DATED else columns
    return [c for c in shown if c not in NOT_DATA]


def digest_sql(wh: Warehouse, text: str, part: int) -> str:
    """SQL for part `part` of the MD5 hex in SQL expression `text`, in the engine's own reading of hex (DuckDB casts
    `0x` text, PostgreSQL reads a bit string): the same number as `hex_number`."""
    digits = f"substr({text}, {part * DIGITS + 1}, {DIGITS})"
    if wh.reads_bit_strings:
        return f"CAST(CAST('x' || {digits} AS BIT({4 * DIGITS})) AS BIGINT)"
    return f"CAST('0x' || {digits} AS BIGINT)"


def _insert_with_digests(wh: Warehouse, target: str, rows: ir.Table) -> None:
    """Append `rows` to input table `target` (matching columns by name), each with its digest parts worked out
    from the cells the data digest reads, as they are stored."""
    stored = dict(wh.table(target).schema().items())
    hashed = rows.mutate(_row_md5=row_md5(rows, digested_columns(target, rows.columns), stored))
    names = [f'"{c}"' for c in rows.columns]
    into = ", ".join([*names, *(f'"{c}"' for c in DIGEST_COLUMNS)])
    values = ", ".join([*(f"s.{n}" for n in names), *(digest_sql(wh, 's."_row_md5"', i) for i in range(PARTS))])
    wh.execute_native(f'INSERT INTO "{target}" ({into}) SELECT {values} FROM ({wh.compile(hashed)}) AS s')


def insert_rows(wh: Warehouse, target: str, rows: ir.Table) -> None:
    """Append `rows` to a canonical table (matching columns by name): an input table's rows with their digest parts
    worked out from the cells (`_insert_with_digests`; any digest columns `rows` carry are dropped, since rows
    changed on the way, a shifted date say, no longer have those parts), any other table's as they are."""
    if target not in DIGESTED_TABLES:
        wh.insert(target, rows)
        return
    _insert_with_digests(wh, target, rows.drop(*(c for c in DIGEST_COLUMNS if c in rows.columns)))


def fill_digests(wh: Warehouse, target: str) -> None:
    """Work out the digest parts of the rows of input table `target` that have none (rows stored before schema
    version 12, or inserted by a tool that does not work them out)."""
    table = wh.table(target)
    md5 = _bare_sql(wh, table.select(_row_md5=row_md5(table, digested_columns(target, table.columns))))
    parts = ", ".join(f'"{c}" = {digest_sql(wh, md5, i)}' for i, c in enumerate(DIGEST_COLUMNS))
    wh.execute_native(f'UPDATE "{target}" SET {parts} WHERE "{DIGEST_COLUMNS[0]}" IS NULL')


def _bare_sql(wh: Warehouse, query: ir.Table) -> str:
    """The SQL of a one-column query's expression over one table, its columns named without the table (for an
    UPDATE of that table)."""
    import sqlglot
    from sqlglot import exp

    dialect = wh.dialect
    tree = sqlglot.parse_one(wh.compile(query), read=dialect)
    value = tree.expressions[0].this
    value = value.transform(lambda n: exp.column(n.name, quoted=True) if isinstance(n, exp.Column) else n)
    return str(value.sql(dialect=dialect))
