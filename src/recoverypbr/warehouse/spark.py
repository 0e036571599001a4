"""The outcome engine on Spark: the canonical tables read from Parquet, the same Ibis rules run through Ibis's
PySpark backend.

`SparkWarehouse` offers what `outcomes.ledger.evaluate` and `cohort_measures` read from a warehouse (`table`,
`has_table`, `execute`, `count`, `to_arrow`, `materialize`, `dialect`); it is read-only: loading, validation,
quarantine and the stored ledger stay with the DuckDB warehouse. `local_session` starts a local-mode SparkSession
that downloads nothing.

The Parquet files are canonical tables, as `recoverypbr synth` writes them: one file (or folder of files) per table
named as the table (`episodes.parquet` or `episodes/`), canonical column names. Values are read as the warehouse
stores them: whole numbers as BIGINT, decimals as DOUBLE, timestamps as dates, flags written as text
(Y/N, 1/0, true/false) as booleans; a canonical column a file lacks is empty. Codes are taken as written (the
loader's validation does not run here: give Spark extracts that `recoverypbr load` accepts whole).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.data import codes
from recoverypbr.data.schema import TABLES, Column
from recoverypbr.errors import RecoveryPbrError, WarehouseError
from recoverypbr.outcomes.inputs import TABLE_NAMES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: The tables the outcome rules read; the others of `TABLES` are registered when their files are there.
OUTCOME_TABLES = TABLE_NAMES
#: Without these no outcome can be decided; the other outcome tables are empty when their files are missing.
REQUIRED_TABLES = ("episodes", "top")

_SPARK_TYPES = {"date": "DATE", "int": "BIGINT", "decimal": "DOUBLE", "flag": "BOOLEAN"}


class SparkError(RecoveryPbrError):
    """Spark cannot be used: pyspark missing, no Java, a table's files missing or unreadable."""


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkError(
            "pyspark is not installed, so outcomes cannot run on Spark",
            hint="install the spark extra: pip install 'recoverypbr[spark]'",
        ) from None


def _require_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise SparkError(
            "Spark needs Java (17 or 21) and no java was found on the PATH or in JAVA_HOME",
            hint="install a Java runtime (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )


#: Spark's log configuration: errors only.
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
#: For many tiny queries (the golden cases): no whole-stage code generation (compiling it costs more than running
#: the query interpreted), no adaptive re-planning, one shuffle partition.
TINY_DATA = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
}


#: For a JVM that lives a few minutes (tests): the quick JIT compiler only, one GC thread. The optimising compiler
#: spends more CPU compiling Spark than short runs gain back.
SHORT_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def local_session(
    cores: int = 2,
    shuffle_partitions: int | None = None,
    memory: str | None = None,
    conf: Mapping[str, str] | None = None,
    java_options: str = "",
) -> SparkSession:
    """A local-mode SparkSession (`local[cores]`), or the one already running in this process.

    No web UI, no Hive catalog, the session time zone UTC, few shuffle partitions (the default 200 costs more
    than the work on one machine), Spark's log quiet (errors only); nothing is downloaded (no
    `spark.jars.packages`). `memory`: the driver's heap (e.g. "8g"), which in local mode does all the work;
    `conf`: more settings (e.g. `TINY_DATA`); `java_options`: more options for the JVM (e.g. `SHORT_JVM`), used
    only when this starts the session."""
    _require_pyspark()
    _require_java()
    from pyspark.sql import SparkSession

    partitions = shuffle_partitions or max(2, cores)
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("recoverypbr")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()} {java_options}")
    )
    if memory:
        builder = builder.config("spark.driver.memory", memory)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark raise plain Exceptions when the JVM does not start
        raise SparkError(
            f"Spark could not start: {exc}",
            hint="check that Java 17 or 21 is installed (java -version) and JAVA_HOME, if set, points at it",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    for key, value in (conf or {}).items():  # a session already running keeps its own settings otherwise
        if not key.startswith(("spark.driver.", "spark.executor.", "spark.ui.")):
            session.conf.set(key, value)
    return session


def table_files(folder: Path) -> dict[str, Path]:
    """Canonical table name -> its Parquet file or folder in `folder` (names as `TABLES` or their file names)."""
    names = {name: t.name for t in TABLES for name in (t.name, *t.file_names)}
    found: dict[str, Path] = {}
    for item in sorted(folder.iterdir()):
        stem = item.name.removesuffix(".parquet").removesuffix(".pq").lower()
        if item.name.startswith(".") or stem not in names:
            continue
        if item.is_file() and not item.name.endswith((".parquet", ".pq")):
            continue
        table = names[stem]
        if table in found:
            raise SparkError(
                f"two sources for the table {table} in {folder}: {found[table].name} and {item.name}",
                hint="keep one Parquet file or one folder of Parquet files per table",
            )
        found[table] = item
    return found


def _typed(name: str, source: str | None, spark_type: str, column: Column) -> str:
    """A Spark SQL select item giving the canonical column as the warehouse stores it."""
    target = _SPARK_TYPES.get(column.kind, "STRING")
    if source is None:
        return f"CAST(NULL AS {target}) AS `{name}`"
    quoted = f"`{source.replace('`', '``')}`"
    if column.kind == "flag" and spark_type == "string":
        trues = ", ".join(f"'{w}'" for w in codes.TRUE_WORDS)
        falses = ", ".join(f"'{w}'" for w in codes.FALSE_WORDS)
        low = f"lower(trim({quoted}))"
        return f"CASE WHEN {low} IN ({trues}) THEN TRUE WHEN {low} IN ({falses}) THEN FALSE END AS `{name}`"
    if column.kind == "date" and spark_type != "date":
        return f"CAST({quoted} AS DATE) AS `{name}`"
    if target == "STRING" and spark_type != "string":
        return f"CAST({quoted} AS STRING) AS `{name}`"
    if target != "STRING" and spark_type != target.lower():
        return f"CAST({quoted} AS {target}) AS `{name}`"
    return f"{quoted} AS `{name}`"


@contextlib.contextmanager
def _socket_left_to_gc() -> Iterator[None]:
    """PySpark reads collected rows from a local socket it leaves to the garbage collector to close (see
    `pyspark.util._load_from_socket`), which warns (ResourceWarning); collect it here, where that is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


def _local_schema(path: Path) -> Any:
    """The Spark schema of a local Parquet file or folder (its first part file), or None when not local."""
    from pyspark.sql.pandas.types import from_arrow_schema

    first = path if path.is_file() else next(iter(sorted(path.glob("*.parquet"))), None) if path.is_dir() else None
    if first is None:
        return None
    import pyarrow.parquet as pq

    return from_arrow_schema(pq.read_schema(first))


class SparkWarehouse:
    """The canonical tables of a Parquet folder as Spark temporary views, reached through Ibis (read-only)."""

    dialect = "pyspark"

    def __init__(self, session: SparkSession, prefix: str = "") -> None:
        self.session = session
        self.ibis = ibis.pyspark.connect(session)
        #: Prepended to every view name, so that several warehouses can share one session.
        self.prefix = prefix
        self._views: dict[str, str] = {}
        self._cached: list[DataFrame] = []

    @classmethod
    def from_parquet(cls, folder: Path | str, session: SparkSession | None = None, prefix: str = "") -> SparkWarehouse:
        """The canonical tables of `folder` (see the module's description); the outcome tables without a file are
        empty, `episodes` and `top` must be there."""
        folder = Path(folder)
        if not folder.is_dir():
            raise SparkError(f"{folder} is not a folder", hint="pass the folder holding one Parquet file per table")
        files = table_files(folder)
        missing = [t for t in REQUIRED_TABLES if t not in files]
        if missing:
            raise SparkError(
                f"no Parquet file for the table(s) {', '.join(missing)} in {folder}",
                hint="each table is one file or folder named after it, e.g. episodes.parquet and top.parquet",
            )
        wh = cls(session or local_session(), prefix)
        for spec in TABLES:
            if spec.name in files:
                wh.register_parquet(spec.name, files[spec.name])
            elif spec.name in OUTCOME_TABLES:
                wh.register_empty(spec.name)
        return wh

    def _view(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def register_parquet(self, name: str, path: Path | str) -> ir.Table:
        """Register a canonical table's Parquet file or folder, typed as the warehouse stores it."""
        spec = next(t for t in TABLES if t.name == name)
        try:
            reader = self.session.read
            schema = _local_schema(Path(path))
            if schema is not None:  # read here, Spark would start a job to read a footer
                reader = reader.schema(schema)
            df = reader.parquet(str(path))
        except Exception as exc:
            raise SparkError(f"cannot read {path} as Parquet: {exc}", hint="check the file is Parquet") from exc
        types = {f.name.lower(): (f.name, f.dataType.simpleString()) for f in df.schema.fields}
        items = []
        for column in spec.columns:
            source, spark_type = types.get(column.name.lower(), (None, ""))
            items.append(_typed(column.name, source, spark_type, column))
        source_view = self._view(f"_raw_{name}")
        df.createOrReplaceTempView(source_view)
        self._views[f"_raw_{name}"] = source_view
        self.session.sql(f"SELECT {', '.join(items)} FROM `{source_view}`").createOrReplaceTempView(self._view(name))
        self._views[name] = self._view(name)
        return self.table(name)

    def register_parquet_file(self, name: str, path: Path | str) -> ir.Table:
        """Any Parquet file or folder as a view, as it is (not a canonical table)."""
        self.session.read.parquet(str(path)).createOrReplaceTempView(self._view(name))
        self._views[name] = self._view(name)
        return self.table(name)

    def register_empty(self, name: str) -> ir.Table:
        """An empty canonical table."""
        spec = next(t for t in TABLES if t.name == name)
        items = [_typed(c.name, None, "", c) for c in spec.columns]
        self.session.sql(f"SELECT {', '.join(items)} WHERE FALSE").createOrReplaceTempView(self._view(name))
        self._views[name] = self._view(name)
        return self.table(name)

    def register_arrow(self, name: str, data: pa.Table) -> ir.Table:
        """Expose an Arrow table as a view (copied into Spark)."""
        self.session.createDataFrame(data.to_pandas()).createOrReplaceTempView(self._view(name))
        self._views[name] = self._view(name)
        return self.table(name)

    def close(self) -> None:
        """Drop this warehouse's views and cached tables (the session stays up for the next)."""
        for df in self._cached:
            df.unpersist()
        catalog = self.session.catalog
        for view in self._views.values():
            catalog.dropTempView(view)
        self._views.clear()

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise WarehouseError("the Spark engine only reads: it evaluates outcomes from Parquet and writes nothing back",
                             hint="load, price and approve on a DuckDB or PostgreSQL warehouse (--db)")
        yield  # pragma: no cover (a generator, so that the refusal comes on entering the block)

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one Spark SQL statement and return its rows (`?` parameters are positional)."""
        df = self.session.sql(sql, args=params) if params else self.session.sql(sql)
        with _socket_left_to_gc():
            return [tuple(row) for row in df.collect()]

    def table(self, name: str) -> ir.Table:
        return self.ibis.table(self._views.get(name, self._view(name)))

    def has_table(self, name: str) -> bool:
        return name in self._views and not name.startswith("_raw_")

    def dataframe(self, expr: ir.Table) -> DataFrame:
        """The Spark DataFrame of an expression."""
        self.ibis._run_pre_execute_hooks(expr)
        return self.session.sql(self.ibis.compile(expr))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute an expression's rows once and keep them (cached) as a view."""
        df = self.dataframe(expr).cache()
        df.count()
        self._cached.append(df)
        df.createOrReplaceTempView(self._view(name))
        self._views[name] = self._view(name)
        return self.table(name)

    def count(self, expr: ir.Table) -> int:
        return int(self.dataframe(expr).count())

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        """An expression's rows as Arrow, typed as Ibis types the expression."""
        from ibis.formats.pyarrow import PyArrowData

        with _socket_left_to_gc():
            data = self.dataframe(expr).toArrow()
        return PyArrowData.convert_table(data, expr.schema())

    def write_parquet(self, expr: ir.Table, path: Path | str, single_file: bool = True) -> None:
        """Write an expression's rows to Parquet from Spark (the rows never pass through Python): one file at
        `path` when `single_file`, else a folder of part files."""
        path = Path(path)
        df = self.dataframe(expr)
        if not single_file:
            df.write.mode("overwrite").parquet(str(path))
            return
        parts = path.with_name(f".{path.name}.parts")
        shutil.rmtree(parts, ignore_errors=True)
        try:
            df.coalesce(1).write.mode("overwrite").parquet(str(parts))
            [part] = sorted(parts.glob("part-*.parquet"))
            part.replace(path)
        finally:
            shutil.rmtree(parts, ignore_errors=True)
