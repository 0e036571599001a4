"""The warehouse on a PostgreSQL server: the same methods as the DuckDB `Warehouse`, over one psycopg connection.

Ibis queries and hand-written SQL share the connection, so they share its transaction. Hand-written SQL is written
once, in DuckDB's spelling with `?` parameters, and translated here (sqlglot). Staged and uploaded rows go to
temporary tables by COPY (CSV written by Arrow), never row by row. Writing commands hold an advisory lock, so two of
them on one database take turns (see docs/postgresql.md).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ibis
import ibis.common.exceptions as com
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlglot
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.postgres import PostgresCompiler
from psycopg import errors as pg_errors

from recoverypbr.errors import WarehouseError
from recoverypbr.warehouse.connection import Warehouse, _ident, describe_db

log = logging.getLogger(__name__)

#: The advisory lock every writing recoverypbr command takes on its database (an arbitrary constant: "rpbr").
LOCK_KEY = 0x72706272
#: How long a writing command waits for another before giving up, in seconds (RECOVERYPBR_LOCK_TIMEOUT).
LOCK_TIMEOUT_ENV = "RECOVERYPBR_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0
#: Rows per COPY chunk.
BATCH_ROWS = 100_000


@functools.lru_cache(maxsize=2048)
def translate(sql: str, parameters: bool = False) -> str:
    """Portable SQL (DuckDB's spelling, `?` parameters) as PostgreSQL's (`%s` parameters; with `parameters`, a `%`
    in a string literal doubled, as psycopg then reads it)."""
    statements = sqlglot.parse(sql, read="duckdb")
    out = []
    for statement in statements:
        if statement is None:
            continue
        if parameters:
            for literal in statement.find_all(sge.Literal):
                if literal.is_string and "%" in literal.this:
                    literal.set("this", literal.this.replace("%", "%%"))
        out.append(statement.sql(dialect="postgres"))
    return ";\n".join(out)


def _visit_hexdigest(self: Any, op: Any, *, arg: sge.Expression, how: str) -> Any:
    """md5 and sha256 as hex text, as DuckDB gives them (Ibis 12 has no PostgreSQL rule for HexDigest)."""
    if how == "md5":
        return self.f.md5(arg)
    if how == "sha256":
        return self.f.encode(self.f.sha256(self.f.convert_to(arg, sge.convert("UTF8"))), sge.convert("hex"))
    raise com.OperationNotDefinedError(f"hexdigest {how!r} is not defined for PostgreSQL (md5 and sha256 are)")


PostgresCompiler.visit_HexDigest = _visit_hexdigest


def _exists_for_semi_and_anti_joins(node: sge.Expression) -> sge.Expression:
    """Every SEMI or ANTI join of a SELECT as a WHERE [NOT] EXISTS. sqlglot 27 rewrites them for PostgreSQL but skips
    every other one of a SELECT with several (it removes joins from the list it walks), which Ibis makes of chained
    anti-joins; the generator then writes `LEFT ANTI JOIN`, which PostgreSQL does not know."""
    if not isinstance(node, sge.Select):
        return node
    for join in list(node.args.get("joins") or []):
        on = join.args.get("on")
        if on is not None and join.kind in ("SEMI", "ANTI"):
            exists: sge.Expression = sge.Exists(this=sge.select("1").from_(join.this).where(on))
            if join.kind == "ANTI":
                exists = sge.Not(this=exists)
            join.pop()
            node.where(exists, copy=False)
    return node


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "TEXT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "SMALLINT"
    if pa.types.is_int32(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return "INTEGER"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    if pa.types.is_decimal(t):
        return f"NUMERIC({t.precision}, {t.scale})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP" if t.tz is None else "TIMESTAMPTZ"
    if pa.types.is_dictionary(t):
        return _pg_type(t.value_type)
    raise WarehouseError(f"cannot store Arrow type {t} in PostgreSQL", hint="report this to recoverypbr's maintainers")


def _plain(t: pa.DataType) -> pa.DataType:
    """The type a column is written to CSV as (dictionaries decoded, nanosecond timestamps to microseconds)."""
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", t.tz)
    return t


def _server(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or os.environ.get("PGHOST") or "localhost"
    port = parts.port or os.environ.get("PGPORT") or 5432
    return f"{host}:{port}"


def connection_error(url: str, exc: psycopg.Error) -> WarehouseError:
    """A refused connection as the user's error, naming the fix."""
    text = str(exc)
    parts = urlsplit(url)
    user = parts.username or os.environ.get("PGUSER") or "(your login name)"
    dbname = parts.path.lstrip("/") or user
    where = describe_db(url)
    if "password authentication failed" in text or "no password supplied" in text or "authentication failed" in text:
        return WarehouseError(
            f"the PostgreSQL server at {_server(url)} refused user {user}: password authentication failed",
            hint=f"check the user in {where}, and set its password in the PGPASSWORD environment variable or in "
            "~/.pgpass (not on the command line)",
        )
    if "does not exist" in text and "database" in text:
        return WarehouseError(
            f'there is no database "{dbname}" on the PostgreSQL server at {_server(url)}',
            hint=f'create it first (createdb -h {parts.hostname or "HOST"} -p {parts.port or 5432} -U {user} '
            f'{dbname}, or CREATE DATABASE "{dbname}" OWNER {user}) or check the database name in the URL',
        )
    if "role" in text and "does not exist" in text:
        return WarehouseError(
            f"the PostgreSQL server at {_server(url)} has no user {user}",
            hint="check the user name in the URL, or create the role (CREATE ROLE ... LOGIN PASSWORD ...)",
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return WarehouseError(
        f"cannot reach the PostgreSQL server at {_server(url)}: {first}",
        hint=f"check that the server is running and accepts TCP connections there, and that the URL {where} names "
        "the right host and port",
    )


class PostgresWarehouse(Warehouse):
    """An open warehouse on a PostgreSQL database. Use `open_warehouse("postgresql://...")`."""

    dialect = "postgres"
    casts_hex = False
    reads_bit_strings = True

    def __init__(self, url: str, *, read_only: bool = False, memory_limit: str | None = None) -> None:
        self.url = url
        self.name = describe_db(url)
        self.path = Path(self.name)
        self.read_only = read_only
        self._in_transaction = False
        self._locked = False
        try:
            self.raw: psycopg.Connection[Any] = psycopg.connect(  # type: ignore[assignment]
                url, autocommit=True, application_name="recoverypbr", connect_timeout=15
            )
        except psycopg.Error as exc:
            raise connection_error(url, exc) from None
        # The rules' queries filter on computed dates (a fee is due on the triage date, or the contract's start for
        # a stock episode), which PostgreSQL's planner estimates at one row; it then nests a loop over a join of
        # every episode, once per episode found (one period's attachment fees of a 20,000-client area: 12.8 s;
        # `pay` 2015-Q1 on that area: 163 s, and 47 s without nested loops, where DuckDB takes 20 s). Every query
        # here is a bulk query, so nested loops are left for when there is no other plan.
        self.raw.execute("SET enable_nestloop = off")
        self.ibis = ibis.postgres.from_connection(self.raw)

    def close(self) -> None:
        self.raw.close()

    def interrupt(self) -> None:
        """Ask the server to stop the statement this connection is running, from another thread."""
        self.raw.cancel_safe(timeout=10)

    def cursor(self) -> PostgresWarehouse:
        """Another connection to the same database, for another thread."""
        return PostgresWarehouse(self.url, read_only=self.read_only)

    # -- locking and transactions ---------------------------------------------------------------------------------

    def _wait_for_lock(self, sql: str) -> None:
        """Take the writers' advisory lock, saying so when another command holds it."""
        got = self.raw.execute(sql.replace("pg_advisory", "pg_try_advisory"), [LOCK_KEY]).fetchone()
        if got and got[0]:
            return
        timeout = float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT)
        print(
            f"waiting for another recoverypbr command on this database ({self.name}) to finish "
            f"(up to {timeout:g} s; {LOCK_TIMEOUT_ENV} changes that)",
            file=sys.stderr,
            flush=True,
        )
        try:
            self.raw.execute(f"SET lock_timeout = {int(timeout * 1000)}")
            self.raw.execute(sql, [LOCK_KEY])
        except pg_errors.LockNotAvailable:
            raise WarehouseError(
                f"another recoverypbr command has been writing to {self.name} for more than {timeout:g} s",
                hint=f"wait for it to finish and try again, or raise {LOCK_TIMEOUT_ENV} (seconds); "
                "`SELECT * FROM pg_stat_activity WHERE application_name = 'recoverypbr'` shows who holds it",
            ) from None
        finally:
            if self.raw.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                self.raw.execute("SET lock_timeout = 0")

    def lock_for_writing(self) -> None:
        """Hold the writers' lock until this warehouse is closed: another writing command waits."""
        if not self._locked:
            self._wait_for_lock("SELECT pg_advisory_lock(%s)")
            self._locked = True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, and one writer at a time: the transaction holds the writers' lock until it ends."""
        if self._in_transaction:
            raise WarehouseError("a transaction is already open", hint="do not nest transactions")
        self._in_transaction = True
        try:
            with self.raw.transaction():
                if not self.read_only and not self._locked:
                    self._wait_for_lock("SELECT pg_advisory_xact_lock(%s)")
                yield
        finally:
            self._in_transaction = False

    def savepoint(self) -> contextlib.AbstractContextManager[object]:
        """A savepoint inside a transaction (a transaction outside one), so a refused statement ends only itself."""
        return self.raw.transaction()

    # -- SQL -------------------------------------------------------------------------------------------------------

    def _run(self, sql: str, params: list[Any] | None) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall() if cur.description is not None else []

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one portable SQL statement (DuckDB's spelling, `?` parameters) and return its rows."""
        return self._run(translate(sql, bool(params)), params)

    def execute_native(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run PostgreSQL SQL as it is (`?` parameters become `%s`); return its rows."""
        if params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self._run(sql, params)

    def to_arrow_sql(self, sql: str) -> pa.Table:
        # Typed from the query's own schema, as Ibis reads it.
        return self.to_arrow(self.ibis.sql(sql, dialect=self.dialect))

    def setting(self, name: str) -> str | None:
        return None

    def set_setting(self, name: str, value: str) -> None:
        """DuckDB's settings (compression) have no PostgreSQL meaning: nothing to do."""

    def is_constraint_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.IntegrityError)

    # -- tables ----------------------------------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        rows = self.raw.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{_ident(name)}"']).fetchone()
        return bool(rows and rows[0])

    def drop_table(self, name: str) -> None:
        self.raw.execute(f'DROP TABLE IF EXISTS pg_temp."{_ident(name)}"')

    def _copy_in(self, name: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch | pa.Table]) -> None:
        """COPY Arrow rows into a table, as CSV in chunks."""
        columns = ", ".join(f'"{_ident(c)}"' for c in schema.names)
        plain = pa.schema([pa.field(f.name, _plain(f.type)) for f in schema])
        options = pacsv.WriteOptions(include_header=False)
        with self.raw.cursor() as cur, cur.copy(f'COPY "{_ident(name)}" ({columns}) FROM STDIN (FORMAT csv)') as copy:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if batch.schema != plain:
                    batch = batch.cast(plain) if isinstance(batch, pa.Table) else pa.Table.from_batches([batch]).cast(
                        plain
                    )
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())

    def _create_temp(self, name: str, schema: pa.Schema) -> None:
        self.drop_table(name)
        columns = ", ".join(f'"{_ident(f.name)}" {_pg_type(f.type)}' for f in schema)
        self.raw.execute(f'CREATE TEMP TABLE "{_ident(name)}" ({columns})')

    def register_arrow(self, name: str, data: pa.Table) -> ibis.Table:
        """Upload an Arrow table to a temporary table (COPY)."""
        self._create_temp(name, data.schema)
        self._copy_in(name, data.schema, data.to_batches(BATCH_ROWS))
        return self.ibis.table(name)

    def copy_into(self, target: str, data: pa.Table) -> None:
        """Append Arrow rows to a stored table by COPY, matching columns by name."""
        self._copy_in(target, data.schema, data.to_batches(BATCH_ROWS))

    def stage_parquet(self, name: str, path: Path, columns: dict[str, str | None]) -> ibis.Table:
        """The Parquet file's rows in a temporary table: `_row` (record number from 1) and each canonical column from
        its file column (absent ones as NULL text; timestamps as dates), read in batches and copied in."""
        try:
            file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise WarehouseError(f"cannot read {path}: {exc}", hint="check the file is Parquet") from exc
        types = {f.name: f.type for f in file.schema_arrow}
        fields = [pa.field("_row", pa.int64())]
        for canonical, source in columns.items():
            if source is None:
                fields.append(pa.field(canonical, pa.string()))
            elif pa.types.is_timestamp(types[source]):
                fields.append(pa.field(canonical, pa.date32()))
            else:
                fields.append(pa.field(canonical, _plain(types[source])))
        schema = pa.schema(fields)
        self._create_temp(name, schema)
        sources = sorted({s for s in columns.values() if s is not None})

        def batches() -> Iterator[pa.Table]:
            start = 1
            for batch in file.iter_batches(BATCH_ROWS, columns=sources):
                n = batch.num_rows
                arrays: list[pa.Array] = [pa.array(range(start, start + n), pa.int64())]
                for f, (_, source) in zip(fields[1:], columns.items(), strict=True):
                    if source is None:
                        arrays.append(pa.nulls(n, pa.string()))
                    else:
                        column = batch.column(source)
                        if pa.types.is_timestamp(column.type):
                            column = column.cast(pa.date32(), safe=False)
                        arrays.append(column.cast(f.type))
                start += n
                yield pa.Table.from_arrays(arrays, schema=schema)

        self._copy_in(name, schema, batches())
        return self.ibis.table(name)

    def unregister(self, name: str) -> None:
        self.raw.execute(f'DROP TABLE IF EXISTS pg_temp."{_ident(name)}"')
        self.raw.execute(f'DROP VIEW IF EXISTS pg_temp."{_ident(name)}"')

    def compile(self, expr: ibis.Expr) -> str:
        """An expression's SQL, after uploading the in-memory tables (ibis.memtable) it reads."""
        self.ibis._run_pre_execute_hooks(expr)
        query = self.ibis.compiler.to_sqlglot(expr)
        return str(query.transform(_exists_for_semi_and_anti_joins, copy=False).sql(dialect=self.dialect))

    def materialize(self, name: str, expr: ibis.Table) -> ibis.Table:
        sql = self.compile(expr)
        self.drop_table(name)
        self.raw.execute(f'CREATE TEMP TABLE "{_ident(name)}" AS {sql}')
        self.raw.execute(f'ANALYZE "{_ident(name)}"')
        return self.ibis.table(name)

    def count(self, expr: ibis.Table) -> int:
        sql = self.compile(expr.count().as_table())
        row = self.raw.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        """The rows of an expression as Arrow, typed as Ibis types them, read in bulk (COPY ... TO STDOUT)."""
        schema = expr.schema().to_pyarrow()
        if any(pa.types.is_nested(f.type) for f in schema):  # lists: not CSV; Ibis reads them row by row
            return self.ibis.to_pyarrow(expr)
        return self._copy_out(self.compile(expr), schema)

    def _copy_out(self, sql: str, schema: pa.Schema) -> pa.Table:
        buffer = io.BytesIO()
        with self.raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
        if not buffer.getbuffer().nbytes:
            return schema.empty_table()
        buffer.seek(0)
        read_types = {f.name: (pa.float64() if pa.types.is_floating(f.type) else f.type) for f in schema}
        names = [f"c{i}" for i in range(len(schema))]
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: read_types[f.name] for n, f in zip(names, schema, strict=True)},
                # COPY writes NULL unquoted and empty, an empty string quoted: only that is NULL (pyarrow's default
                # list would read a text `NA`, `null`, `NaN` or `n/a` back as NULL too).
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        return pa.Table.from_arrays(
            [table.column(n).cast(f.type) for n, f in zip(names, schema, strict=True)], schema=schema
        )
