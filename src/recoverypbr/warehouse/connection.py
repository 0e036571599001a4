"""The warehouse: an embedded DuckDB file, or a PostgreSQL database, reached through Ibis.

Rules are Ibis expressions; this module owns the few things Ibis does not model portably
(transactions, deletes, temporary tables, bulk loading), so that another engine can be put behind the same
methods: `Warehouse` is DuckDB, `recoverypbr.warehouse.postgres.PostgresWarehouse` is PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
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
#: The environment variable naming the warehouse (a DuckDB path or a postgresql:// URL) when no --db is given.
DB_ENV = "RECOVERYPBR_DB"
#: The environment variable capping the embedded (DuckDB) warehouse's memory, e.g. "8GB" (default: DuckDB's own,
#: 80% of the machine's memory); what does not fit is spilled to a temporary folder beside the file.
MEMORY_ENV = "RECOVERYPBR_MEMORY_LIMIT"
_URL_SCHEMES = ("postgresql:", "postgres:")
#: The --db option's help.
DB_HELP = "The warehouse: a DuckDB file or a postgresql:// URL (default: $RECOVERYPBR_DB if set, else this file)."


def is_postgres(target: Path | str) -> bool:
    """Whether a --db value names a PostgreSQL database (a postgresql:// or postgres:// URL)."""
    return str(target).lower().startswith(_URL_SCHEMES)


def resolve_db(target: Path | str | None = None) -> Path | str:
    """What a --db value means: a PostgreSQL URL (a str) or a DuckDB file (a Path).

    Without --db (None, or the default file name) the environment variable RECOVERYPBR_DB is used if set. A URL that
    went through a Path (which folds `//` into `/`) is given back as typed."""
    if target is None or (isinstance(target, Path) and target == DEFAULT_DB):
        env = os.environ.get(DB_ENV, "").strip()
        if env:
            target = env
        elif target is None:
            return DEFAULT_DB
    text = str(target)
    if is_postgres(text):
        scheme, _, rest = text.partition(":")
        return f"{scheme}://{rest.lstrip('/')}"
    return Path(target)


def warehouse_exists(target: Path | str | None) -> bool:
    """Whether there is a warehouse to open read-only: a file that exists, or any PostgreSQL URL (a database that
    is not there is reported when it is opened)."""
    resolved = resolve_db(target)
    return isinstance(resolved, str) or resolved.exists()


def describe_db(target: Path | str | None) -> str:
    """The warehouse as it can be shown to the user: a URL without its password."""
    resolved = resolve_db(target)
    if isinstance(resolved, Path):
        return str(resolved)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(resolved)
    if parts.password is None:
        return resolved
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


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
    #: Whether the engine casts hex text with a `0x` prefix to an integer (DuckDB does; PostgreSQL 15 does not).
    casts_hex = True
    #: Whether the engine reads hex text as a bit string, `('x' || text)::bit(n)` (PostgreSQL does).
    reads_bit_strings = False
    #: What the warehouse is, for messages (a path, or a URL without its password).
    name: str

    def __init__(self, path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        self.read_only = read_only
        self.name = str(path)
        # Row order is never relied on (every read that needs an order asks for it); letting DuckDB
        # drop insertion order lowers the memory a large load needs.
        config: dict[str, Any] = {"preserve_insertion_order": False}
        memory_limit = memory_limit or os.environ.get(MEMORY_ENV, "").strip() or None
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            self.raw = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.ParserException as exc:
            if not memory_limit or "memory" not in str(exc).lower():
                raise
            raise WarehouseError(
                f"the memory limit {memory_limit!r} is not a size DuckDB understands ({exc})",
                hint=f"give a number and a unit, such as 8GB or 500MB, in {MEMORY_ENV}",
            ) from exc
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

    def interrupt(self) -> None:
        """Stop the statement this connection is running, from another thread (it raises there)."""
        self.raw.interrupt()

    def lock_for_writing(self) -> None:
        """Wait for other writing commands (DuckDB's own file lock already keeps a second process out)."""

    def cursor(self) -> Warehouse:
        """Another connection to the same open database, for another thread (a DuckDB connection must not be used
        by two threads at once); its temporary tables and views are its own."""
        other = Warehouse.__new__(Warehouse)
        other.path, other.read_only, other._in_transaction, other.name = self.path, self.read_only, False, self.name
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

    def savepoint(self) -> contextlib.AbstractContextManager[object]:
        """A statement that may fail without ending the enclosing transaction (DuckDB needs nothing)."""
        return contextlib.nullcontext()

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one SQL statement and return its rows. The SQL is portable: DuckDB's spelling with `?` parameters,
        which the PostgreSQL warehouse translates."""
        rows: list[tuple[Any, ...]] = self.raw.execute(sql, params or []).fetchall()
        return rows

    def execute_native(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run SQL written for this engine (`ibis.to_sql(expr, dialect=wh.dialect)`, wrapped in portable DDL) as it
        is, with `?` parameters; return its rows."""
        return self.execute(sql, params)

    def to_arrow_sql(self, sql: str) -> pa.Table:
        """The rows of a query written for this engine, as Arrow."""
        return self.raw.execute(sql).to_arrow_table()

    def setting(self, name: str) -> str | None:
        """An engine setting's value, or None where this engine has no such setting."""
        return str(self.raw.execute(f"SELECT current_setting('{name}')").fetchall()[0][0])

    def set_setting(self, name: str, value: str) -> None:
        self.raw.execute(f"SET {name} = ?", [value])

    def is_constraint_violation(self, exc: BaseException) -> bool:
        """Whether an exception raised by this warehouse is a broken key or constraint."""
        return isinstance(exc, duckdb.ConstraintException)

    def drop_table(self, name: str) -> None:
        """Drop a temporary (staging) table if it exists."""
        self.raw.execute(f'DROP TABLE IF EXISTS "{_ident(name)}"')

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

    def compile(self, expr: ibis.Expr) -> str:
        """An expression's SQL for this engine, ready to run here (in-memory tables it reads made available)."""
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def materialize(self, name: str, expr: ibis.Table) -> ibis.Table:
        """Store an expression's rows as a temporary table for this connection."""
        sql = self.compile(expr)
        self.raw.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        return self.ibis.table(name)

    def insert(self, target: str, expr: ibis.Table) -> None:
        """Append an expression's rows to `target`, matching columns by name."""
        columns = ", ".join(f'"{c}"' for c in expr.columns)
        self.raw.execute(f'INSERT INTO "{target}" ({columns}) {self.compile(expr)}')

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
    path: Path | str | None = DEFAULT_DB,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    lock: bool = True,
) -> Warehouse:
    """Open (creating if needed) a warehouse and bring its schema to the current version.

    `path` is a DuckDB file or a postgresql:// URL; without one (None or the default file name) the environment
    variable RECOVERYPBR_DB names it. On PostgreSQL a command that writes (`read_only` false) waits for any other
    writing recoverypbr command on the same database unless `lock` is false (the web app, whose writes each wait in
    their own transaction)."""
    from recoverypbr.warehouse.migrations import check_version, migrate

    target = resolve_db(path)
    wh: Warehouse
    if isinstance(target, str):
        from recoverypbr.warehouse.postgres import PostgresWarehouse

        wh = PostgresWarehouse(target, read_only=read_only)
    else:
        if read_only and not target.exists():
            raise WarehouseError(
                f"no warehouse at {target}",
                hint="load an extract first (recoverypbr load DIR) or pass --db with the right path",
            )
        wh = Warehouse(target, read_only=read_only, memory_limit=memory_limit)
    try:
        if read_only:
            check_version(wh)
        else:
            if lock:
                wh.lock_for_writing()
            migrate(wh)
    except BaseException:
        wh.close()
        raise
    return wh
