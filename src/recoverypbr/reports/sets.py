"""Statement sets on disk: every file of one `pay` (or `approve`) for one period, put in place whole, and checked.

In the folder given to `--out`, a period's set is reached by the name of the period::

    statements/
      2013-Q2/  -> .sets/2013-Q2.<run>/   a symbolic link: the period's current set
        statement_P1_2013-Q2.csv, .json, .xlsx, .pdf   (each provider, in the chosen formats)
        summary_2013-Q2.csv
        manifest_2013-Q2.json                      every other file with its size and SHA-256, each statement's
                                                   fingerprint and status
      .sets/                                       where sets are written; not to be opened by hand

A run writes its whole set into a new folder under `.sets/`, flushes every file and the folder to disk, and only
then points the period's link at it, by renaming a new link over the old one: a single rename, atomic on POSIX.
Whenever a run stops (an error, a full disk, a kill -9, a power cut after the flush), the period's name leads to the
old complete set or to the new complete set, never to a mixture. Folders under `.sets/` that no link leads to (the
set just replaced, or the half-written set of a killed run) are removed by the next run for the period.

`verify_sets` re-reads a set: every file the manifest names, with its size and digest, no file it does not name,
and each statement file's fingerprint and status as the manifest has them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from recoverypbr.data.read import file_sha256
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.reports.files import FORMATS, safe_name, write_statement

#: The hidden folder, inside the out folder, where sets are written.
SETS = ".sets"
#: What the manifest says it is, and the version of its layout.
MANIFEST_KIND = "recoverypbr statement set"
MANIFEST_VERSION = 1
#: A run's folder left behind by a process still running is kept this long (it may still be writing).
RUNNING_GRACE_SECONDS = 24 * 3600
#: Files an earlier recoverypbr wrote straight into the out folder, before sets.
LOOSE = re.compile(r"^(statement|summary|manifest)_.*\.(csv|json|xlsx|pdf)$")


class SetError(RecoveryPbrError):
    """A statement set that cannot be written where it was asked."""


def set_name(period: str) -> str:
    """The period's name in the out folder (its label, with anything but letters, digits, `-`, `_`, `.` made `-`)."""
    return safe_name(period)


def manifest_name(period: str) -> str:
    return f"manifest_{set_name(period)}.json"


def summary_name(period: str) -> str:
    return f"summary_{set_name(period)}.csv"


@dataclass(frozen=True)
class WrittenSet:
    """A set put in place: the period's folder (the link), its manifest and the manifest's SHA-256."""

    folder: Path
    manifest: dict[str, Any]
    sha256: str


def write_set(
    out: Path,
    period: str,
    as_of: str,
    documents: Iterable[Mapping[str, Any]],
    summary: bytes,
    formats: Sequence[str] = FORMATS,
) -> WrittenSet:
    """Write the period's statements (one document per provider, in each format), the summary CSV and the manifest
    as one set, and put it in place of the period's previous set in `out`, whole. Returns the set.

    `documents` may be made one at a time as they are asked for (a generator): each is let go once written, so a
    national area's statements are not all held as documents at once."""
    name = set_name(period)
    link = out / name
    store = out / SETS
    if (link.exists() or link.is_symlink()) and not _in_store(link):
        raise SetError(f"{link} is not a statement set written by recoverypbr, and would be replaced",
                       hint="move it away, or write the statements into another folder with --out")
    store.mkdir(parents=True, exist_ok=True)
    run = f"{name}.{os.getpid()}-{uuid.uuid4().hex[:12]}"
    folder, staged_link = store / run, store / f"{run}.link"
    folder.mkdir()
    try:
        listed: list[dict[str, Any]] = []
        contract = None
        for document in documents:
            paths = write_statement(dict(document), folder, formats)
            listed.append(_statement_entry(document, [p.name for p in paths]))
            contract = contract or _contract(document)
            del document
        (folder / summary_name(period)).write_bytes(summary)
        files = [_file_entry(p) for p in sorted(folder.iterdir())]
        manifest = {
            "manifest": MANIFEST_KIND,
            "version": MANIFEST_VERSION,
            "period": period,
            "as_of": as_of,
            "contract": contract,
            "statements": listed,
            "files": files,
        }
        text = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        (folder / manifest_name(period)).write_bytes(text)
        _sync_file(folder / manifest_name(period))
        _sync_dir(folder)
        _sync_dir(store)
        # The swap: a new link, written beside the store's folders, renamed over the period's name in one step.
        try:
            os.symlink(os.path.join(SETS, run), staged_link, target_is_directory=True)
        except OSError as exc:
            raise SetError(f"cannot make a symbolic link in {store}: {exc.strerror}",
                           hint="write the statements to a local disk that allows symbolic links") from exc
        os.replace(staged_link, link)
        _sync_dir(out)
    except BaseException:
        # Stopped before the swap (an error, an interrupt): the period's earlier set stays; nothing of this run does.
        if not (link.is_symlink() and os.readlink(link) == os.path.join(SETS, run)):
            staged_link.unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
        raise
    remove_stale(out, period)
    return WrittenSet(link, manifest, hashlib.sha256(text).hexdigest())


def _in_store(link: Path) -> bool:
    """Whether `link` is a link this module made: to a folder directly under `.sets/` beside it."""
    return link.is_symlink() and len(parts := Path(os.readlink(link)).parts) == 2 and parts[0] == SETS


def _contract(document: Mapping[str, Any]) -> dict[str, Any]:
    contract = document["contract"]
    return {"area": contract["area"], "version": contract["version"], "sha256": contract["sha256"]}


def _statement_entry(document: Mapping[str, Any], files: list[str]) -> dict[str, Any]:
    return {
        "provider": document["provider"]["id"],
        "statement_id": document["statement_id"],
        "status": document["status"],
        "fingerprint": document["fingerprint"],
        "as_of": document["as_of"],
        "lines": document["totals"]["lines"],
        "total": document["totals"]["total"],
        "files": files,
    }


def _file_entry(path: Path) -> dict[str, Any]:
    """The file flushed to disk, with its name, size and SHA-256 (read back from the disk)."""
    _sync_file(path)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _sync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    """Flush a folder's entries (names made, renamed) to disk; where folders cannot be opened (Windows), skip."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def remove_stale(out: Path, period: str) -> list[str]:
    """Remove what no link leads to under `out/.sets/` for the period: replaced sets, the folders and links of
    killed runs. A folder of a run still going (its process alive, started within a day) is left alone.
    Returns the names removed."""
    store = out / SETS
    name = set_name(period)
    link = out / name
    current = os.path.basename(os.readlink(link)) if link.is_symlink() else None
    removed = []
    for entry in sorted(store.iterdir()) if store.is_dir() else []:
        match = re.fullmatch(re.escape(name) + r"\.(\d+)-[0-9a-f]+(\.link)?", entry.name)
        if match is None or entry.name == current:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and _running(pid, entry):
            continue
        if entry.is_symlink() or entry.is_file():
            entry.unlink(missing_ok=True)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


def _running(pid: int, entry: Path) -> bool:
    try:
        recent = time.time() - entry.lstat().st_mtime < RUNNING_GRACE_SECONDS
    except OSError:
        return False
    return recent and psutil.pid_exists(pid)


@dataclass
class SetReport:
    """What verifying one set found: the manifest (when readable) and every problem, in words."""

    folder: Path
    manifest: dict[str, Any] | None = None
    sha256: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


@dataclass
class Verified:
    """Every set found under the folder asked about, and the statement files lying there outside any set."""

    sets: list[SetReport]
    outside: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sets) and all(s.ok for s in self.sets) and not self.outside


def verify_sets(path: Path) -> Verified:
    """Verify the set at `path` (a period's folder), or every set in `path` (an out folder of several periods);
    in an out folder, statement files outside any set (an earlier recoverypbr wrote them there) are reported."""
    if not path.is_dir():
        raise SetError(f"{path} is not a folder", hint="pass the folder pay wrote (--out) or one period's folder in it")
    if list(path.glob("manifest_*.json")):
        return Verified([verify_set(path)])
    sets, outside = [], []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and not entry.exists():
            outside.append(f"{entry.name} (a link to a set that is not there)")
        elif entry.is_dir() and list(entry.glob("manifest_*.json")):
            sets.append(verify_set(entry))
        elif LOOSE.match(entry.name):
            outside.append(entry.name)
    if not sets and not outside:
        raise SetError(f"no statement set in {path}",
                       hint="a set is a folder holding manifest_<period>.json, as `recoverypbr pay` writes it")
    return Verified(sets, outside)


def verify_set(folder: Path) -> SetReport:
    """Re-read one set: its files against the manifest, and the statements' fingerprints and statuses."""
    report = SetReport(folder)
    manifests = sorted(folder.glob("manifest_*.json"))
    if len(manifests) != 1:
        report.problems.append("no manifest" if not manifests else
                               f"{len(manifests)} manifests: {', '.join(m.name for m in manifests)}")
        return report
    text = manifests[0].read_bytes()
    try:
        manifest = json.loads(text)
        if manifest.get("manifest") != MANIFEST_KIND:
            raise ValueError("it is not a statement set's manifest")
        if manifest.get("version") != MANIFEST_VERSION:
            raise ValueError(f"its version {manifest.get('version')} is not {MANIFEST_VERSION} (a newer recoverypbr?)")
        listed = {f["name"]: f for f in manifest["files"]}
        statements = list(manifest["statements"])
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{manifests[0].name} cannot be read: {exc}")
        return report
    report.manifest, report.sha256 = manifest, hashlib.sha256(text).hexdigest()
    intact = set()
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            report.problems.append(f"missing: {name}")
        elif path.stat().st_size != entry["bytes"]:
            report.problems.append(f"changed: {name} has {path.stat().st_size:,} bytes, the manifest says "
                                   f"{entry['bytes']:,}")
        elif file_sha256(path) != entry["sha256"]:
            report.problems.append(f"changed: {name} (its SHA-256 differs from the manifest's)")
        else:
            intact.add(name)
    for path in sorted(folder.iterdir()):
        if path.name not in listed and path != manifests[0]:
            report.problems.append(f"extra: {path.name} (not in the manifest)")
    for statement in statements:
        for name in statement["files"]:
            if name not in listed:
                report.problems.append(f"the manifest names {name} for {statement['provider']} but lists no digest")
            elif name in intact:
                report.problems += _agrees(folder / name, statement)
    summary = summary_name(manifest["period"])
    if summary in intact:
        report.problems += _summary_agrees(folder / summary, statements)
    return report


def _agrees(path: Path, statement: Mapping[str, Any]) -> list[str]:
    """Where the statement file says otherwise than the manifest: fingerprint, status, lines, total."""
    try:
        found = _says(path)
    except Exception as exc:  # a file that cannot be read says so, whatever the reader's error
        return [f"{path.name} cannot be read: {exc}"]
    wrong = []
    for key, value in found.items():
        expected = str(statement[key])
        # The XLSX's status reads "approved by NAME on DATE".
        if not value.startswith(expected) if key == "status" else value != expected:
            wrong.append(f"{path.name} says {key} {value}, the manifest says {expected}")
    return wrong


def _says(path: Path) -> dict[str, str]:
    """What a statement file says of itself, by format (the PDF is checked by its digest alone)."""
    if path.suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        return {"provider": document["provider"]["id"], "fingerprint": document["fingerprint"],
                "status": document["status"], "lines": str(document["totals"]["lines"]),
                "total": document["totals"]["total"]}
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        total = sum((Decimal(r["amount"]) for r in rows), Decimal("0.00"))
        return {"lines": str(len(rows)), "total": str(total.quantize(Decimal("0.01")))}
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            heading = {row[0]: row[1] for row in book["Summary"].iter_rows(min_col=1, max_col=2, values_only=True)
                       if row[0] in ("Fingerprint", "Status")}
        finally:
            book.close()
        return {"fingerprint": str(heading.get("Fingerprint")), "status": str(heading.get("Status"))}
    return {}


def _summary_agrees(path: Path, statements: Sequence[Mapping[str, Any]]) -> list[str]:
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        said = {r["provider_id"]: (r["status"], r["fingerprint"]) for r in rows}
    except Exception as exc:  # as in _agrees
        return [f"{path.name} cannot be read: {exc}"]
    expected = {s["provider"]: (s["status"], s["fingerprint"]) for s in statements}
    if said == expected:
        return []
    wrong = [f"{path.name} says {p} is {said[p][0]} with fingerprint {said[p][1][:12]}, the manifest says "
             f"{expected[p][0]} with {expected[p][1][:12]}" for p in sorted(said.keys() & expected.keys())
             if said[p] != expected[p]]
    if said.keys() != expected.keys():
        wrong.append(f"{path.name} lists providers {', '.join(sorted(said))}, the manifest "
                     f"{', '.join(sorted(expected))}")
    return wrong


__all__ = ["SETS", "SetError", "SetReport", "Verified", "WrittenSet", "remove_stale", "verify_set", "verify_sets",
           "write_set"]
