"""Finding and reading an extract: a folder of CSV or Parquet files, or one XLSX workbook (a sheet per table).

Every value is read as text, except typed Parquet columns, so that validation sees what the file holds.
Each row keeps `_row`: its row as a person sees it (CSV line and XLSX row counting the header as row 1;
Parquet record number counting from 1).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recoverypbr.data.schema import OFFENDING_FILE, TABLES, Table, table
from recoverypbr.errors import DataError

ROW = "_row"
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
_FILE_NAMES = {name: t.name for t in TABLES for name in (t.name, *t.file_names)}


@dataclass
class SourceFile:
    """One table's file (or workbook sheet), its headers checked; `read()` gives its rows when needed."""

    table: Table
    file: str  # as shown to the user: the path, with "#sheet" for a workbook sheet
    sha256: str
    reader: Callable[[], tuple[pa.Table, list[BadLine]]]
    headers: list[str]  # canonical names, in the file's order
    ignored_columns: list[str] = field(default_factory=list)
    file_headers: list[str] = field(default_factory=list)  # as written in the file
    parquet: Path | None = None  # a Parquet file the warehouse can scan itself, without reading it here
    notes: tuple[str, ...] = ()  # how the file was read, when it is not plain comma-separated UTF-8
    bad_lines: list[BadLine] = field(default_factory=list)  # lines that could not be split; filled by read()

    def column_sources(self) -> dict[str, str | None]:
        """For each canonical column, the file's header that holds it (None: absent from the file)."""
        found = {name: header for name, header in zip(self.headers, self.file_headers, strict=True) if name}
        return {c: found.get(c) for c in self.table.column_names}

    def read(self) -> pa.Table:
        """The rows, with `_row` and every canonical column (absent optional ones as nulls), in order."""
        data, self.bad_lines = self.reader()
        keep = [i for i, name in enumerate(self.headers) if name]
        data = data.select([0, *(i + 1 for i in keep)]).rename_columns([ROW, *(self.headers[i] for i in keep)])
        for col in self.table.columns:
            if col.name not in data.column_names:
                data = data.append_column(col.name, pa.nulls(data.num_rows, pa.string()))
        return data.select([ROW, *self.table.column_names])


@dataclass
class Extract:
    """Everything found in an extract."""

    source: str
    files: list[SourceFile]
    ignored_files: list[str]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical_name(header: str) -> str:
    return header.strip().lower().replace(" ", "_")


def _table_for(stem: str, columns: list[str]) -> Table | None:
    name = stem.strip().lower()
    if name == OFFENDING_FILE:
        cols = {_canonical_name(c) for c in columns}
        return table("offending_cohort" if "cohort_id" in cols else "offending_individual")
    return table(_FILE_NAMES[name]) if name in _FILE_NAMES else None


def _map_headers(headers: list[str], spec: Table, file: str) -> tuple[list[str], list[str]]:
    """Canonical name per header ("" for an unknown one) and the unknown headers; refuse a missing required column."""
    lookup = {c.name: c.name for c in spec.columns}
    lookup.update({alias: c.name for c in spec.columns for alias in c.aliases})
    names, ignored = [], []
    for header in headers:
        canonical = lookup.get(_canonical_name(header), "")
        if not canonical:
            ignored.append(header)
        elif canonical in names:
            raise DataError(
                f"columns {header!r} and another header both mean {canonical!r}",
                file=file,
                hint="keep one of the two columns (canonical name or NDTMS alias) and remove the other",
            )
        names.append(canonical)
    required = [c for c in spec.columns if (c.required or c.in_file) and c.name not in names]
    if required:
        wanted = ", ".join(
            c.name + (f" (NDTMS {'/'.join(a.upper() for a in c.aliases)})" if c.aliases else "") for c in required
        )
        raise DataError(
            f"required column(s) missing: {wanted}; found: {', '.join(headers) or 'none'}",
            file=file,
            hint="add the column(s) with these headers, or rename the file's headers to the canonical names "
            "in the data spec; nothing was loaded",
        )
    return names, ignored


def _with_rows(data: pa.Table, first: int) -> pa.Table:
    rows = pa.array(np.arange(first, first + data.num_rows, dtype=np.int64))
    return data.add_column(0, ROW, rows)


def _normalise_types(data: pa.Table) -> pa.Table:
    """Timestamps become dates (a midnight timestamp is a date) so that validation sees ISO dates."""
    for i, fld in enumerate(data.schema):
        if pa.types.is_timestamp(fld.type):
            data = data.set_column(i, fld.name, pc.cast(data.column(i), pa.date32()))
    return data


#: Windows-1252 leaves these five bytes undefined: a file holding one is neither UTF-8 nor Windows-1252.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: its encoding and field separator, found by reading it."""

    encoding: str  # "utf-8" (a byte-order mark is allowed) or "cp1252"
    delimiter: str
    notes: tuple[str, ...] = ()  # said in the load summary: a Windows encoding, a separator other than comma


@dataclass(frozen=True)
class BadLine:
    """A line that does not hold the header's number of fields (cut short, or a stray separator or quote)."""

    row: int
    fields: int
    expected: int
    text: str


def _first_bad_utf8_line(path: Path) -> int | None:
    """The line number (from 1) of the first byte sequence that is not UTF-8, or None when the file is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return lines + block.count(b"\n", 0, exc.start)
            lines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines
    return None


def _encoding(path: Path) -> tuple[str, tuple[str, ...]]:
    bad_line = _first_bad_utf8_line(path)
    if bad_line is None:
        return "utf-8", ()
    with path.open("rb") as handle:
        lines = 1
        for block in iter(lambda: handle.read(1 << 20), b""):
            undefined = _CP1252_UNDEFINED.search(block)
            if undefined:
                line = lines + block.count(b"\n", 0, undefined.start())
                raise DataError(
                    f"line {line} holds byte "
                    f"0x{block[undefined.start()]:02x}, which is neither UTF-8 nor Windows-1252 (cp1252) text "
                    f"(the first non-UTF-8 byte is on line {bad_line}); nothing was loaded",
                    file=str(path),
                    hint="export the file again as UTF-8 CSV (in Excel: Save As, CSV UTF-8)",
                )
            lines += block.count(b"\n")
    return "cp1252", (f"read as Windows-1252 (cp1252) text: not UTF-8 from line {bad_line}",)


def _delimiter(header: str) -> str:
    """The separator that splits the header into the most fields (comma when none splits it)."""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in _DELIMITERS}
    best = max(counts.values())
    return next(d for d in _DELIMITERS if counts[d] == best)


#: A UTF-8 byte-order mark read as Windows-1252: a file saved as "CSV UTF-8" and later added to in a Windows encoding.
_BOM_AS_CP1252 = codecs.BOM_UTF8.decode("cp1252")


def _header_line(path: Path, encoding: str) -> str:
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        return handle.readline().rstrip("\r\n").removeprefix(_BOM_AS_CP1252)


def csv_dialect(path: Path) -> tuple[list[str], CsvDialect]:
    """The header's fields and how the file is written; refuse an empty file or one that is not text."""
    encoding, notes = _encoding(path)
    header = _header_line(path, encoding)
    if not header.strip():
        raise DataError(
            "the file is empty or has no header row", file=str(path), hint="export it again with headers"
        )
    delimiter = _delimiter(header)
    if delimiter != ",":
        notes = (*notes, f"{_DELIMITERS[delimiter]}-separated")
    return next(csv.reader([header], delimiter=delimiter)), CsvDialect(encoding, delimiter, notes)


def csv_headers(path: Path) -> list[str]:
    return csv_dialect(path)[0]


def bad_line_reason(line: BadLine) -> str:
    if line.fields < line.expected:
        return (
            f"line {line.row} has {line.fields} of the header's {line.expected} fields: the line is cut short "
            "(is the file complete?) or a field holds an unquoted line break"
        )
    return (
        f"line {line.row} has {line.fields} fields where the header has {line.expected}: a value holds an "
        "unquoted separator or quote"
    )


def _row_numbers(rows: int, bad: list[BadLine]) -> np.ndarray:
    """Line numbers of the rows read: counting from 2 (the header is line 1), skipping the bad lines."""
    lines = np.arange(2, 2 + rows + len(bad), dtype=np.int64)
    return np.setdiff1d(lines, np.array([b.row for b in bad], dtype=np.int64), assume_unique=True)[:rows]


def read_csv(path: Path, dialect: CsvDialect | None = None) -> tuple[pa.Table, list[BadLine]]:
    """Every column as text, with `_row` first (the header is row 1), and the lines that could not be split."""
    if dialect is None:
        names, dialect = csv_dialect(path)
    else:
        names = next(csv.reader([_header_line(path, dialect.encoding)], delimiter=dialect.delimiter))
    bad: list[BadLine] = []

    def keep_aside(row: pacsv.InvalidRow) -> str:
        bad.append(BadLine(int(row.number or 0), row.actual_columns, row.expected_columns, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, encoding=dialect.encoding, use_threads=threads
            ),
            # Quoted values may hold line breaks: without newlines_in_values the reader cuts its blocks at any line
            # break, and a quoted one near a block's end split a row in two (half a value loaded, the rest a bad line).
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                newlines_in_values=True,
                invalid_row_handler=None if threads else keep_aside,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )

    try:
        try:
            data = read(threads=True)
        except pa.ArrowInvalid:
            # Only a file with bad lines pays for the single-threaded read that knows their line numbers.
            data = read(threads=False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot be read as CSV: {exc}",
            file=str(path),
            hint="save it as CSV with one header row and the same number of fields on every line",
        ) from exc
    return data.add_column(0, ROW, pa.array(_row_numbers(data.num_rows, bad))), bad


def parquet_headers(path: Path) -> list[str]:
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot be read as Parquet: {exc}", file=str(path), hint="write the file again") from exc


def read_parquet(path: Path) -> tuple[pa.Table, list[BadLine]]:
    try:
        data = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"cannot be read as Parquet: {exc}", file=str(path), hint="write the file again"
        ) from exc
    return _with_rows(_normalise_types(data), 1), []


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def read_xlsx_sheets(path: Path) -> Iterator[tuple[str, pa.Table]]:
    """Each sheet of a workbook as a table of text, with its sheet name."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise DataError(
            f"cannot be read as XLSX: {exc}", file=str(path), hint="save it again from Excel"
        ) from exc
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if not header:
                continue
            names = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
            columns: list[list[str | None]] = [[] for _ in names]
            for row in rows:
                if row is None or all(v is None for v in row):
                    for col in columns:
                        col.append(None)
                    continue
                for i in range(len(names)):
                    columns[i].append(_cell_text(row[i]) if i < len(row) else None)
            data = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns, strict=True)})
            yield sheet.title, _with_rows(_drop_trailing_blank_rows(data), 2)
    finally:
        book.close()


def _drop_trailing_blank_rows(data: pa.Table) -> pa.Table:
    """Sheets often carry formatted but empty rows at the end; they are not data."""
    if data.num_rows == 0:
        return data
    filled = np.zeros(data.num_rows, dtype=bool)
    for col in data.columns:
        filled |= np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    return data.slice(0, last)


def _source(
    stem: str,
    headers: list[str],
    reader: Callable[[], tuple[pa.Table, list[BadLine]]],
    sha: str,
    file: str,
    parquet: Path | None = None,
    notes: tuple[str, ...] = (),
) -> SourceFile | None:
    spec = _table_for(stem, headers)
    if spec is None:
        return None
    names, ignored = _map_headers(headers, spec, file)
    return SourceFile(spec, file, sha, reader, names, ignored, list(headers), parquet, notes)


def read_extract(path: Path) -> Extract:
    """Read a folder of CSV/Parquet files or one XLSX workbook; raise DataError for what cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist", hint="pass the folder that holds the extract's files")
    if path.is_file():
        if path.suffix.lower() != ".xlsx":
            raise DataError(
                f"{path} is a single file but not an XLSX workbook",
                hint="pass a folder of CSV or Parquet files, or an .xlsx workbook with one sheet per table",
            )
        return _read_workbook(path)
    files, ignored = [], []
    for item in sorted(path.iterdir()):
        kind = _SUFFIXES.get(item.suffix.lower())
        if item.name.lower() == MANIFEST_NAME:
            continue  # the extract's control file, checked by the loader
        if item.is_dir() or kind is None or item.name.startswith((".", "~$")):
            ignored.append(item.name)
            continue
        if kind == "xlsx":
            files.extend(_read_workbook(item).files)
            continue
        if kind == "csv":
            headers, dialect = csv_dialect(item)
            reader = functools.partial(read_csv, item, dialect)
            notes, parquet = dialect.notes, None
        else:
            headers, reader = parquet_headers(item), functools.partial(read_parquet, item)
            notes, parquet = (), item
        source = _source(item.stem, headers, reader, file_sha256(item), str(item), parquet, notes)
        if source is None:
            ignored.append(item.name)
        else:
            files.append(source)
    _refuse_two_files_for_one_table(files)
    return Extract(str(path), files, ignored)


def _given(data: pa.Table) -> tuple[pa.Table, list[BadLine]]:
    return data, []


def _read_workbook(path: Path) -> Extract:
    sha = file_sha256(path)
    files, ignored = [], []
    for sheet, data in read_xlsx_sheets(path):
        headers = data.column_names[1:]
        source = _source(sheet, headers, functools.partial(_given, data), f"{sha}#{sheet}", f"{path}#{sheet}")
        if source is None:
            ignored.append(f"{path.name}#{sheet}")
        else:
            files.append(source)
    _refuse_two_files_for_one_table(files)
    return Extract(str(path), files, ignored)


def _refuse_two_files_for_one_table(files: list[SourceFile]) -> None:
    seen: dict[str, str] = {}
    for source in files:
        if source.table.name in seen:
            raise DataError(
                f"two files hold the table {source.table.name}: {seen[source.table.name]} and {source.file}",
                hint="keep one file per table in the folder (load the other from a folder of its own)",
            )
        seen[source.table.name] = source.file


#: The control file an extract may carry beside its tables (or pass with `load --manifest`).
MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class ManifestEntry:
    """What the sending system says one file holds: its data rows (header not counted) and its SHA-256."""

    file: str
    rows: int | None
    sha256: str | None


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """The manifest's entries by file name; refuse one that cannot be read or names no file."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            records = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the manifest: {exc}", file=str(path), hint="write it as UTF-8 CSV") from exc
    entries: dict[str, ManifestEntry] = {}
    for number, record in enumerate(records, start=2):
        fields = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
        name, rows, sha = fields.get("file", ""), fields.get("rows", ""), fields.get("sha256", "").lower()
        if not name or (rows and not rows.isdigit()) or (sha and not re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise DataError(
                f"row {number} of the manifest is not `file,rows,sha256` (a file name, a whole number of data "
                "rows, a 64-character SHA-256): nothing was loaded",
                file=str(path),
                hint="give each file of the extract one row; rows and sha256 may be left empty",
            )
        entries[name] = ManifestEntry(name, int(rows) if rows else None, sha or None)
    if not entries:
        raise DataError("the manifest lists no file", file=str(path), hint="list each file: file,rows,sha256")
    return entries


def check_manifest(extract: Extract, manifest: dict[str, ManifestEntry], where: Path) -> None:
    """Refuse an extract whose files are not the ones the manifest names, or whose bytes differ from it."""
    present = {plain_name(s.file): s for s in extract.files}
    problems = [f"{name} is in the manifest but not in the extract" for name in manifest if name not in present]
    problems += [f"{name} is in the extract but not in the manifest" for name in present if name not in manifest]
    for name, entry in manifest.items():
        source = present.get(name)
        if source is not None and entry.sha256 and source.sha256.split("#")[0] != entry.sha256:
            problems.append(f"{name} has SHA-256 {source.sha256.split('#')[0][:12]}..., the manifest says "
                            f"{entry.sha256[:12]}... (the file changed or was cut short in transfer)")
    if problems:
        raise DataError(
            "the extract does not match its manifest: " + "; ".join(problems) + "; nothing was loaded",
            file=str(where),
            hint="send the extract again with the files its manifest lists, or correct the manifest",
        )


def check_manifest_rows(source: SourceFile, rows_read: int, manifest: dict[str, ManifestEntry]) -> None:
    """Refuse a file whose rows differ from the manifest's count (checked as it is read)."""
    entry = manifest.get(plain_name(source.file))
    if entry is not None and entry.rows is not None and entry.rows != rows_read:
        raise DataError(
            f"{rows_read:,} data rows read, the manifest says {entry.rows:,}: is the file complete? "
            "Nothing was loaded",
            file=source.file,
            hint="send the file again, or correct its row count in the manifest",
        )


def plain_name(file: str) -> str:
    """A file's name without its folder (a workbook sheet keeps its "#sheet")."""
    return file.replace("\\", "/").rsplit("/", 1)[-1]
