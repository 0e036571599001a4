"""A provider's upload: checked as a file (type, size, a zip's members), then as the provider's own rows, then
loaded through the ordinary ingest in one transaction, so a refused upload loads nothing and a loaded one keeps its
failing rows aside in the quarantine like any load."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.data.ingest import LoadResult, load_extract
from recoverypbr.data.read import Extract, read_extract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.warehouse.connection import Warehouse

#: The tables a provider sends: its clients, episodes, TOPs, events and service users' views. Assessments come from
#: the LASARS, presentations and offending from other bodies, providers from the commissioner.
PROVIDER_TABLES = ("clients", "episodes", "top", "events", "feedback")
TEXT_SUFFIXES = (".csv",)
ARCHIVE_SUFFIXES = (".zip",)
WORKBOOK_SUFFIXES = (".xlsx",)
ACCEPTED = TEXT_SUFFIXES + ARCHIVE_SUFFIXES + WORKBOOK_SUFFIXES + (".parquet",)
#: How much of the start of a file is read to tell its type (a NUL byte there means it is not text).
HEAD = 64 * 1024
#: How files that are not text start: zip (and xlsx, docx), PNG, GIF, JPEG, PDF, Windows programs, ELF, gzip, OLE.
BINARY_STARTS = (b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"MZ", b"\x7fELF", b"\x1f\x8b",
                 b"\xd0\xcf\x11\xe0")
#: A zip may unpack to at most this many times the upload limit (a zip bomb is refused, not unpacked).
UNPACK_RATIO = 10


class UploadError(RecoveryPbrError):
    """An upload refused before anything was loaded."""


def _kind(name: str, head: bytes) -> str:
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in ACCEPTED:
        raise UploadError(f"{name} is not a file type an extract comes in",
                          hint="upload a .csv file named after its table (e.g. episodes.csv), a .zip of such files, "
                               "a .parquet file or an .xlsx workbook with one sheet per table")
    zipped = head.startswith(b"PK\x03\x04")
    if suffix in ARCHIVE_SUFFIXES + WORKBOOK_SUFFIXES and not zipped:
        raise UploadError(f"{name} is named {suffix} but is not one", hint="upload the file as it was exported")
    if suffix == ".parquet" and not head.startswith(b"PAR1"):
        raise UploadError(f"{name} is named .parquet but is not a Parquet file", hint="upload the exported file")
    if suffix in TEXT_SUFFIXES and (b"\x00" in head or head.startswith(BINARY_STARTS)):
        raise UploadError(f"{name} is named .csv but holds binary data, not text",
                          hint="export the table as CSV (comma-separated text) and upload that")
    return suffix


def unpack(name: str, data_path: Path, folder: Path, limit: int) -> Path:
    """Put the upload where the ingest can read it: a folder of files, or the workbook itself."""
    with data_path.open("rb") as start:
        head = start.read(HEAD)
    suffix = _kind(name, head)
    safe = PurePosixPath(name.replace("\\", "/")).name or "upload"
    if suffix in WORKBOOK_SUFFIXES:
        target = folder / safe
        shutil.move(data_path, target)
        return target
    extract = folder / "extract"
    extract.mkdir()
    if suffix in (*TEXT_SUFFIXES, ".parquet"):
        shutil.move(data_path, extract / safe)
        return extract
    try:
        with zipfile.ZipFile(data_path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > limit * UNPACK_RATIO:
                raise UploadError(f"{name} unpacks to more than {limit * UNPACK_RATIO // (1 << 20)} MB",
                                  hint="upload the tables in smaller parts")
            seen = set()
            for member in members:
                base = PurePosixPath(member.filename.replace("\\", "/")).name
                if not base or base.startswith(".") or base.startswith("__MACOSX"):
                    continue
                if base in seen:
                    raise UploadError(f"{name} holds two files named {base}", hint="keep one file per table")
                seen.add(base)
                with archive.open(member) as src, (extract / base).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{name} is not a readable zip file ({exc})",
                          hint="make the zip again and upload it") from exc
    if not seen:
        raise UploadError(f"{name} holds no files", hint="zip the extract's CSV or Parquet files and upload that")
    return extract


def _values(data: pa.Table, column: str) -> set[str]:
    """The column's distinct values as the ingest will store them: trimmed, blanks dropped (so `" E1 "` is `E1`)."""
    values = pc.unique(data.column(column).cast(pa.string()).drop_null())
    return {text for v in values.to_pylist() if (text := str(v).strip())}


def check_own_rows(wh: Warehouse, extract: Extract, provider_id: str) -> None:
    """Refuse an upload holding a table a provider does not send, or a row of another provider's client."""
    others = [s for s in extract.files if s.table.name not in PROVIDER_TABLES]
    if others:
        names = ", ".join(sorted({s.table.name for s in others}))
        raise UploadError(f"the upload holds {names}, which a provider does not send",
                          hint=f"upload only your {', '.join(PROVIDER_TABLES)} files")
    read = {s.table.name: s.read() for s in extract.files}
    problems = []
    for table in ("episodes", "feedback"):
        if table in read and (named := _values(read[table], "provider_id") - {provider_id}):
            problems.append(f"{table} rows name provider {', '.join(sorted(named)[:3])}")
    own_episodes = {e for (e,) in wh.execute("SELECT episode_id FROM episodes WHERE provider_id = ?", [provider_id])}
    own_clients = {c for (c,) in wh.execute("SELECT DISTINCT client_id FROM episodes WHERE provider_id = ?",
                                            [provider_id])}
    taken = {e for (e,) in wh.execute("SELECT episode_id FROM episodes WHERE provider_id <> ?", [provider_id])}
    if "episodes" in read:
        mine = read["episodes"]
        if _values(mine, "episode_id") & taken:
            problems.append("episode rows reuse episode ids another provider holds")
        own_episodes |= _values(mine, "episode_id")
        own_clients |= _values(mine, "client_id")
    for table in ("top", "events"):
        if table in read and (foreign := _values(read[table], "episode_id") - own_episodes):
            problems.append(f"{table} rows name episodes that are not yours ({', '.join(sorted(foreign)[:3])})")
    if "top" in read:
        # A TOP is replaced by its id: an id another provider's episode holds would overwrite that provider's TOP.
        others_tops = {t for (t,) in wh.execute(
            "SELECT t.top_id FROM top t JOIN episodes e ON e.episode_id = t.episode_id WHERE e.provider_id <> ?",
            [provider_id])}
        if _values(read["top"], "top_id") & others_tops:
            problems.append("top rows reuse TOP ids another provider's episodes hold")
    for table in ("clients", "top", "events", "feedback"):
        if table in read and (foreign := _values(read[table], "client_id") - own_clients):
            problems.append(f"{table} rows name clients with no episode of yours ({', '.join(sorted(foreign)[:3])})")
    if problems:
        raise UploadError("the upload holds rows that are not your clients': " + "; ".join(problems),
                          hint="upload only your own rows; nothing was loaded")


def load_upload(wh: Warehouse, name: str, data_path: Path, provider_id: str, limit: int) -> LoadResult:
    """Unpack, check and load one provider's upload; on any refusal nothing is loaded."""
    with tempfile.TemporaryDirectory(prefix="recoverypbr-upload-") as tmp:
        try:
            target = unpack(name, data_path, Path(tmp), limit)
            extract = read_extract(target)
            if not extract.files:
                raise UploadError(f"{name} holds no file named after a table", hint="name each file after its table: "
                                  + ", ".join(f"{t}.csv" for t in PROVIDER_TABLES))
            check_own_rows(wh, extract, provider_id)
            return load_extract(wh, target)
        except RecoveryPbrError as exc:  # name the uploaded files, not the server's folder they were unpacked in
            for folder in (f"{Path(tmp) / 'extract'}/", f"{Path(tmp)}/", f"{Path(tmp).resolve()}/", str(tmp)):
                exc.message, exc.hint = exc.message.replace(folder, ""), exc.hint.replace(folder, "")
            raise
