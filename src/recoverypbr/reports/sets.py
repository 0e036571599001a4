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

import contextlib
import csv
import gc
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import signal
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, Protocol

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


class Documented(Protocol):
    """Something a statement's document is made from (`payments.statements.Statement`)."""

    @property
    def lines(self) -> Sequence[Any]: ...

    def document(self) -> dict[str, Any]: ...


Documentish = Mapping[str, Any] | Documented


def write_set(
    out: Path,
    period: str,
    as_of: str,
    documents: Iterable[Documentish],
    summary: bytes,
    formats: Sequence[str] = FORMATS,
    parallel: bool = False,
) -> WrittenSet:
    """Write the period's statements (one document per provider, in each format), the summary CSV and the manifest
    as one set, and put it in place of the period's previous set in `out`, whole. Returns the set.

    Each of `documents` is a statement's document, or a statement (`Documented`) whose document is made where it is
    written, and let go once written, so a national area's statements are not all held as documents at once. With
    `parallel` (a command-line process, never a server's), a set of `PARALLEL_LINES` lines or more is written by
    forked child processes, one statement each, as many at once as the process has processors (`_written_apart`,
    on Linux); the files are the same, byte for byte."""
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
        written = _written_apart(documents, folder, formats, parallel)
        listed = [entry for entry, _ in written]
        contract = next((found for _, found in written), None)
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


#: A set with at least this many lines (all statements together) is written by child processes, a statement each,
#: when the caller allows it (`write_set`'s `parallel`): at national size writing a provider's four files takes
#: seconds of one processor, and the statements are independent. Smaller sets are written here, one after another.
PARALLEL_LINES = 100_000


def _written_apart(documents: Iterable[Documentish], folder: Path, formats: Sequence[str], parallel: bool
                   ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each statement written into `folder` in each format (`_write_one`), in order: here, or by child processes
    (`_forked`) when `parallel`, the set is large, the machine has more than one processor for this process and
    processes can be forked (Linux). Each statement's manifest entry and its contract, in the order given."""
    items = list(documents)
    workers = min(len(items), _processors())
    if (not parallel or workers < 2 or not _CAN_FORK
            or sum(_line_count(item) for item in items) < PARALLEL_LINES):
        return [_write_one(item, folder, formats) for item in _let_go(items)]
    return _forked(items, folder, formats, workers)


#: Whether `_forked` may be used: a forked child inherits the statements as they are (nothing is pickled); on macOS
#: forking a process that has started system frameworks is not safe, and Windows cannot.
_CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")


def _forked(items: list[Documentish], folder: Path, formats: Sequence[str], workers: int
            ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """`_write_one` of each item in a forked child, at most `workers` at once, the results (or the error a child
    met, raised here) in order.

    For a command-line process only (`write_set`'s `parallel`), whose other threads are the database engine's, idle
    while statements are written: a child only makes its document and writes files, never uses the warehouse, and
    ends with `os._exit`, running no clean-up of what it inherited. The writers are imported and the garbage
    collector's objects frozen first, so children neither import them each nor copy the parent's memory by
    collecting it. A child's result comes back pickled through a pipe; a child that ends without one (killed) is
    an error in words. Stopped here (an error, an interrupt), the children still running are killed and reaped
    before the error goes on. Where no process can be forked (out of memory), the rest are written here."""
    from recoverypbr.reports import pdf, xlsx  # noqa: F401 (imported once here, not in every child)

    results: list[tuple[dict[str, Any], dict[str, Any]] | None] = [None] * len(items)
    running: list[tuple[int, int, int]] = []  # (index, pid, read end of its pipe), oldest first

    def reap_oldest() -> None:
        index, pid, reading = running[0]
        with os.fdopen(reading, "rb", closefd=False) as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        running.pop(0)
        os.close(reading)
        try:
            ok, found = pickle.loads(data)
        except Exception:  # nothing, or a part (killed while sending it)
            raise SetError(f"the process writing statement {index + 1} of {len(items)} stopped without finishing",
                           hint="run the command again; if it stops again, the machine may be short of memory"
                           ) from None
        if not ok:
            raise found
        results[index] = found

    gc.collect()
    gc.freeze()
    try:
        for index, item in enumerate(_let_go(items)):
            while len(running) >= workers:
                reap_oldest()
            reading, writing = os.pipe()
            try:
                with warnings.catch_warnings():
                    # Python 3.12 warns of forking a process with threads (the engine's idle pool): the child uses
                    # none of them.
                    warnings.filterwarnings("ignore", r".*fork\(\) may lead to deadlocks", DeprecationWarning)
                    pid = os.fork()
            except OSError:  # no process to be had (memory): this one writes the statement
                os.close(reading)
                os.close(writing)
                results[index] = _write_one(item, folder, formats)
                continue
            if pid == 0:  # the child
                os.close(reading)
                _child(item, folder, formats, writing)
            os.close(writing)
            del item
            running.append((index, pid, reading))
        while running:
            reap_oldest()
    except BaseException:
        for _, pid, reading in running:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            os.close(reading)
        raise
    finally:
        gc.unfreeze()
    return [found for found in results if found is not None]


def _child(item: Documentish, folder: Path, formats: Sequence[str], writing: int) -> NoReturn:
    """In a forked child: write the item, send back (True, result) or (False, the error, with its traceback in a
    note), and end."""
    code = 0
    try:
        try:
            sent = pickle.dumps((True, _write_one(item, folder, formats)))
        except BaseException as exc:
            exc.add_note("".join(traceback.format_exception(exc)).rstrip())
            try:
                sent = pickle.dumps((False, exc))
                pickle.loads(sent)
            except Exception:  # an error that cannot travel: its words do
                sent = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        with os.fdopen(writing, "wb") as pipe:
            pipe.write(sent)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _let_go(items: list[Documentish]) -> Iterator[Documentish]:
    """The items one by one, each dropped from the list as it is taken (so a written document can be freed)."""
    for index in range(len(items)):
        item, items[index] = items[index], {}
        yield item


def _write_one(item: Documentish, folder: Path, formats: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write one statement in each format; its manifest entry and its contract."""
    document = dict(item) if isinstance(item, Mapping) else item.document()
    paths = write_statement(document, folder, formats)
    return _statement_entry(document, [p.name for p in paths]), _contract(document)


def _line_count(item: Documentish) -> int:
    return len(item.get("lines") or ()) if isinstance(item, Mapping) else len(item.lines)


def _processors() -> int:
    """The processors this process may use: those it may run on, fewer when its control group's CPU quota
    (`cpu.max`, as containers set it) allows fewer."""
    try:
        found = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        found = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            found = min(found, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return found


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
