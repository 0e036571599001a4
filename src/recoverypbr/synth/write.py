"""Writers of a synthetic area: a folder of CSV or Parquet files streamed chunk by chunk, or one XLSX workbook.

All three are byte-identical for the same input: Parquet and CSV carry no timestamps, and the workbook's
document properties and zip entry times are fixed to the extract date.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recoverypbr.errors import DataError
from recoverypbr.synth import params as p

#: Data rows a worksheet holds (1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
_FIXED_TIME = dt.datetime.combine(p.EXTRACT_DATE, dt.time())
_ZIP_TIME = (_FIXED_TIME.year, _FIXED_TIME.month, _FIXED_TIME.day, 0, 0, 0)


class AreaWriter(Protocol):
    def write(self, name: str, table: pa.Table) -> None: ...

    def close(self) -> list[Path]: ...

    def abort(self) -> None: ...


class FolderWriter:
    """One file per table, appended to chunk by chunk (Parquet row groups or CSV lines)."""

    def __init__(self, out: Path, fmt: str, schemas: dict[str, pa.Schema]) -> None:
        self.paths = {name: out / f"{name}.{fmt}" for name in schemas}
        self.sinks: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}
        for name, schema in schemas.items():
            path = str(self.paths[name])
            self.sinks[name] = pq.ParquetWriter(path, schema) if fmt == "parquet" else pacsv.CSVWriter(path, schema)

    def write(self, name: str, table: pa.Table) -> None:
        self.sinks[name].write_table(table)

    def close(self) -> list[Path]:
        for sink in self.sinks.values():
            sink.close()
        return list(self.paths.values())

    def abort(self) -> None:
        for sink in self.sinks.values():
            sink.close()


class WorkbookWriter:
    """Collects every table, then writes one workbook `area.xlsx` with a sheet per table."""

    def __init__(self, out: Path, schemas: dict[str, pa.Schema]) -> None:
        self.path = out / "area.xlsx"
        self.parts: dict[str, list[pa.Table]] = {name: [] for name in schemas}
        self.rows = dict.fromkeys(schemas, 0)
        self.schemas = schemas

    def write(self, name: str, table: pa.Table) -> None:
        self.rows[name] += table.num_rows
        if self.rows[name] > XLSX_MAX_ROWS:
            raise DataError(
                f"the {name} table has more than {XLSX_MAX_ROWS:,} rows, more than an XLSX sheet holds",
                hint="generate fewer clients for XLSX, or write csv or parquet",
            )
        self.parts[name].append(table)

    def close(self) -> list[Path]:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        book.properties.created = _FIXED_TIME
        for name, parts in self.parts.items():
            sheet = book.create_sheet(name)
            sheet.append(self.schemas[name].names)
            table = pa.concat_tables(parts) if parts else self.schemas[name].empty_table()
            for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                sheet.append(row)
        book.save(self.path)
        _fix_workbook_times(self.path)
        return [self.path]

    def abort(self) -> None:
        self.parts.clear()


def _fix_workbook_times(path: Path) -> None:
    """Rewrite the zip with fixed entry times and a fixed modified property (openpyxl stamps "now")."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w") as target:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + stamp + rb"\g<2>",
                              data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, data)


def open_writer(out: Path, fmt: str, schemas: dict[str, pa.Schema]) -> AreaWriter:
    if fmt == "xlsx":
        return WorkbookWriter(out, schemas)
    return FolderWriter(out, fmt, schemas)
