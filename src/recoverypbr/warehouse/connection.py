"""The warehouse: an embedded DuckDB file reached through Ibis.

Rules are Ibis expressions; this module owns the few things Ibis does not model portably
(transactions, deletes), so that another engine can be put behind the same methods.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from recoverypbr.errors import WarehouseError

log = logging.getLogger(__name__)

#: The warehouse file used when no --db is given, in the working directory.
DEFAULT_DB = Path("recoverypbr.duckdb")


class Reader(Protocol):
    """What the outcome engine reads from a warehouse: `Warehouse` (DuckDB) and `spark.SparkWarehouse` offer it."""

    #: The sqlglot dialect `ibis.to_sql` compiles the engine's queries to.
    dialect: str

    def table(self, name: str) -> ibis.Table: ...

    def has_table(self, name: str) -> bool: ...

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...

    def materialize(self, name: str, expr: ibis.Table) -> ibis.Table: ...

    def count(self, expr: ibis.Table) -> int: ...

    def to_arrow(self, expr: ibis.Table) -> pa.Table: ...


class Warehouse:
    """An open warehouse. Use `open_warehouse`, which also brings the schema up to date."""

    dialect = "duckdb"

    def __init__(self, path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        self.read_only = read_only
        # Row order is never relied on (every read that needs an order asks for it); letting DuckDB
        # drop insertion order lowers the memory a large load needs.
        config: dict[str, Any] = {"preserve_insertion_order": False}
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            self.raw = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot open the warehouse {path}: {exc}",
                hint="check the path, that no other recoverypbr process is writing to it, "
                "and that the file is a recoverypbr warehouse",
            ) from exc
        # DuckDB's own progress bar would write over the commands' Rich output.
        self.raw.execute("SET enable_progress_bar = false")
        self.ibis: DuckDBBackend = ibis.duckdb.from_connection(self.raw)
        self._in_transaction = False

    def close(self) -> None:
        self.raw.close()

    def cursor(self) -> Warehouse:
        """Another connection to the same open database, for another thread (a DuckDB connection must not be used
        by two threads at once); its temporary tables and views are its own."""
        other = Warehouse.__new__(Warehouse)
        other.path, other.read_only, other._in_transaction = self.path, self.read_only, False
        other.raw = self.raw.cursor()
        other.raw.execute("SET enable_progress_bar = false")
        other.ibis = ibis.duckdb.from_connection(other.raw)
        return other

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a failure or a kill before the end leaves the warehouse as it was."""
        if self._in_transaction:
            raise WarehouseError("a transaction is already open", hint="do not nest transactions")
        self.raw.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        else:
            self.raw.execute("COMMIT")
        finally:
            self._in_transaction = False

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one SQL statement and return its rows."""
        rows: list[tuple[Any, ...]] = self.raw.execute(sql, params or []).fetchall()
        return rows

    def table(self, name: str) -> ibis.Table:
        return self.ibis.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.ibis.list_tables()

    def register_arrow(self, name: str, data: pa.Table) -> ibis.Table:
        """Expose an Arrow table to queries without copying it."""
        self.raw.register(name, data)
        return self.ibis.table(name)

    def stage_parquet(self, name: str, path: Path, columns: dict[str, str | None]) -> ibis.Table:
        """A view over a Parquet file that the engine scans itself: `_row` (record number from 1) and each
        canonical column from its file column (absent ones as NULL text; timestamps as dates)."""
        described = self.raw.execute(f"DESCRIBE SELECT * FROM read_parquet({_quote(path)})").fetchall()
        types = {row[0]: str(row[1]) for row in described}
        parts = ['file_row_number + 1 AS "_row"']
        for canonical, source in columns.items():
            if source is None:
                parts.append(f'CAST(NULL AS VARCHAR) AS "{canonical}"')
            elif types[source].startswith("TIMESTAMP"):
                parts.append(f'CAST("{_ident(source)}" AS DATE) AS "{canonical}"')
            else:
                parts.append(f'"{_ident(source)}" AS "{canonical}"')
        self.raw.execute(
            f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {", ".join(parts)}'
            f" FROM read_parquet({_quote(path)}, file_row_number = true)"
        )
        return self.ibis.table(name)

    def unregister(self, name: str) -> None:
        """Forget a registered Arrow table or a staging view."""
        self.raw.unregister(name)
        self.raw.execute(f'DROP VIEW IF EXISTS "{name}"')

    def materialize(self, name: str, expr: ibis.Table) -> ibis.Table:
        """Store an expression's rows as a temporary table for this connection."""
        sql = ibis.to_sql(expr, dialect=self.dialect)
        self.raw.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        return self.ibis.table(name)

    def insert(self, target: str, expr: ibis.Table) -> None:
        """Append an expression's rows to `target`, matching columns by name."""
        columns = ", ".join(f'"{c}"' for c in expr.columns)
        sql = ibis.to_sql(expr, dialect=self.dialect)
        self.raw.execute(f'INSERT INTO "{target}" ({columns}) {sql}')

    def delete_matching(self, target: str, keys_table: str, key: tuple[str, ...]) -> None:
        """Delete the rows of `target` whose key appears in `keys_table`."""
        match = " AND ".join(f'k."{c}" = t."{c}"' for c in key)
        self.raw.execute(
            f'DELETE FROM "{target}" AS t WHERE EXISTS (SELECT 1 FROM "{keys_table}" AS k WHERE {match})'
        )

    def count(self, expr: ibis.Table) -> int:
        return int(self.ibis.execute(expr.count()))

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        return self.ibis.to_pyarrow(expr)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return name.replace('"', '""')


def open_warehouse(
    path: Path | str = DEFAULT_DB, *, read_only: bool = False, memory_limit: str | None = None
) -> Warehouse:
    """Open (creating if needed) a warehouse and bring its schema to the current version."""
    from recoverypbr.warehouse.migrations import check_version, migrate

    if read_only and not Path(path).exists():
        raise WarehouseError(
            f"no warehouse at {path}",
            hint="load an extract first (recoverypbr load DIR) or pass --db with the right path",
        )
    wh = Warehouse(path, read_only=read_only, memory_limit=memory_limit)
    try:
        if read_only:
            check_version(wh)
        else:
            migrate(wh)
    except BaseException:
        wh.close()
        raise
    return wh
