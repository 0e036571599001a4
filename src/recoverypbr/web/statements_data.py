"""Statements as the web app shows them, scoped to the viewer: approved ones from the warehouse, drafts from the
set `pay` last wrote for the period (`statement_sets`), each read once and kept while its file is unchanged."""

from __future__ import annotations

import json
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from recoverypbr.contract.model import Contract
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import schedule
from recoverypbr.payments.set_records import recorded_sets
from recoverypbr.payments.statements import statement_id
from recoverypbr.reports.files import FORMATS, statement_stem, write_statement
from recoverypbr.reports.sets import manifest_name, set_name
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.web.access import Scope

#: Statement lines per page.
PAGE = 50
#: Line columns a viewer may sort by.
SORTS = ("line_no", "amount", "client_id", "outcome_id", "complexity_group", "payable_on", "kind")
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Entry:
    """One statement in the index: a period and a provider, approved or a draft."""

    period: str
    provider_id: str
    status: str
    total: str
    lines: int
    fingerprint: str
    as_of: str
    approved_by: str = ""
    approved_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class _Documents:
    """Parsed statement documents by (file, size, modification time): a draft is read once per change."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: Path) -> dict[str, Any]:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            self._cache[key] = document
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return document


DOCUMENTS = _Documents()
_APPROVED: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()


def period_of(contract: Contract, label: str) -> Period:
    for period in schedule(contract):
        if period.label == label:
            return period
    raise HTTPException(404, f"{label} is not one of the contract's statement periods.")


def _visible(scope: Scope, provider_id: str) -> bool:
    return scope.everyone or provider_id == scope.provider_id


def _draft_sets(wh: Warehouse, contract: Contract, period: Period) -> list[tuple[Path, dict[str, Any]]]:
    """(set folder, manifest) for each folder the period's set was written to, the latest first."""
    return _written(period.label, [record.folder for record in recorded_sets(wh, contract, period)])


def _written(label: str, folders: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """(set folder, manifest) of the period's set in each folder (least recently written first) that holds one,
    the latest first."""
    found = []
    for written in reversed(folders):
        folder = written / set_name(label)
        manifest = folder / manifest_name(label)
        if manifest.is_file():
            found.append((folder, DOCUMENTS.read(manifest)))
    return found


def _every_draft_set(wh: Warehouse, contract: Contract) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """`_draft_sets` of every period at once: one query for the index rather than one per period (the same rows and
    order as `set_records.recorded_sets` reads for each)."""
    folders: dict[str, list[Path]] = {}
    for label, folder in wh.execute(
        "SELECT period_label, folder FROM statement_sets WHERE contract_area = ? AND contract_version = ? "
        "ORDER BY written_at, folder", [contract.area, contract.effective_from]
    ):
        folders.setdefault(label, []).append(Path(folder))
    return {label: _written(label, found) for label, found in folders.items()}


def index(wh: Warehouse, contract: Contract, scope: Scope) -> list[Entry]:
    """Every statement the viewer may see, by period then provider: approved, else the latest draft written."""
    approved: dict[tuple[str, str], Entry] = {}
    sql = ("SELECT period_label, provider_id, total_pence, line_count, fingerprint, as_of, approved_by, approved_at "
           "FROM statements WHERE contract_area = ? AND contract_version = ?")
    params: list[Any] = [contract.area, contract.effective_from]
    if not scope.everyone:
        sql += " AND provider_id = ?"
        params.append(scope.provider_id)
    for label, pid, pence, count, fp, as_of, by, at in wh.execute(sql, params):
        approved[(label, pid)] = Entry(label, pid, "approved", str(Decimal(pence) / 100), count, fp, str(as_of),
                                       by, str(at))
    entries: list[Entry] = []
    drafts = _every_draft_set(wh, contract)
    for period in schedule(contract):
        seen: dict[str, Entry] = {pid: e for (label, pid), e in approved.items() if label == period.label}
        for _folder, manifest in drafts.get(period.label, []):
            for s in manifest.get("statements", []):
                pid = s["provider"]
                if pid not in seen and _visible(scope, pid):
                    seen[pid] = Entry(period.label, pid, s["status"], s["total"], int(s["lines"]), s["fingerprint"],
                                      s["as_of"])
        entries += [seen[pid] for pid in sorted(seen)]
    return entries


def document(wh: Warehouse, contract: Contract, scope: Scope, label: str, provider_id: str) -> dict[str, Any]:
    """The statement's document (as its JSON file has it): approved from the warehouse, else the latest draft."""
    period = period_of(contract, label)
    if not _visible(scope, provider_id):
        raise HTTPException(404, f"There is no statement for provider {provider_id} in {label} that you can see.")
    sid = statement_id(contract.area, contract.effective_from, provider_id, period)
    where = (str(wh.path.resolve()), sid)  # approved statements of one warehouse file: never another's
    kept = _APPROVED.get(where)
    if kept is not None:
        return kept
    rows = wh.execute("SELECT document FROM statements WHERE statement_id = ?", [sid])
    if rows:
        found: dict[str, Any] = json.loads(rows[0][0])
        with _INDEX_LOCK:  # approved statements are never rewritten, so one read serves every later request
            _APPROVED[where] = found
            while len(_APPROVED) > 256:
                _APPROVED.popitem(last=False)
        return found
    for folder, manifest in _draft_sets(wh, contract, period):
        for s in manifest.get("statements", []):
            if s["provider"] == provider_id:
                names = [n for n in s.get("files", []) if n.endswith(".json")]
                if not names:
                    raise HTTPException(404, f"The draft statement for {provider_id} in {label} was written without "
                                             "its JSON file; make it again with `recoverypbr pay` (all formats).")
                return DOCUMENTS.read(folder / names[0])
    raise HTTPException(404, f"There is no statement for provider {provider_id} in {label} yet: `recoverypbr pay "
                             f"--period {label}` makes the drafts.")


@dataclass(frozen=True)
class LinePage:
    lines: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    kinds: list[str]
    outcomes: list[str]


def line_page(doc: dict[str, Any], *, kind: str = "", outcome: str = "", client: str = "", sort: str = "line_no",
              descending: bool = False, page: int = 1, per_page: int = PAGE) -> LinePage:
    """One page of the statement's lines, filtered and sorted.

    The kinds, outcomes and each (sort, order, kind, outcome) ordering are made once per document read and kept
    (`_ordered`): a large statement's lines are not sorted again for every page a viewer turns. A client search
    filters the kept ordering (filtering a stable sort's result keeps the order a sort of the filtered lines has)."""
    if sort not in SORTS:
        sort = "line_no"
    kinds, outcomes = _choices(doc)
    chosen = _ordered(doc, sort, descending, kind, outcome)
    if client:
        wanted = client.lower()
        chosen = [ln for ln in chosen if wanted in str(ln.get("client_id") or "").lower()]
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(page, 1), pages)
    return LinePage(chosen[(page - 1) * per_page: page * per_page], len(chosen), page, pages, kinds, outcomes)


class _PerDocument:
    """Values derived from a parsed document, kept while that document object is (by identity, bounded)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, doc: dict[str, Any], key: tuple[Any, ...], make: Any) -> Any:
        full = (id(doc), *key)
        with self._lock:
            kept = self._kept.get(full)
            if kept is not None and kept[0] is doc:
                self._kept.move_to_end(full)
                return kept[1]
        value = make()
        with self._lock:
            self._kept[full] = (doc, value)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return value


_DERIVED = _PerDocument(512)


def _choices(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    def make() -> tuple[list[str], list[str]]:
        lines: list[dict[str, Any]] = doc["lines"]
        return (sorted({str(ln["kind"]) for ln in lines}),
                sorted({str(ln["outcome_id"]) for ln in lines if ln.get("outcome_id")}))

    found: tuple[list[str], list[str]] = _DERIVED.get(doc, ("choices",), make)
    return found


def _ordered(doc: dict[str, Any], sort: str, descending: bool, kind: str, outcome: str) -> list[dict[str, Any]]:
    """The document's lines of the kind and outcome (either may be empty: any), in the order asked for."""

    def make() -> list[dict[str, Any]]:
        if kind or outcome:
            base = _ordered(doc, sort, descending, "", "")
            return [ln for ln in base if (not kind or ln["kind"] == kind)
                    and (not outcome or ln.get("outcome_id") == outcome)]
        chosen = list(doc["lines"])

        def key(ln: dict[str, Any]) -> tuple[int, Any]:
            value = ln.get(sort)
            if sort == "amount":
                return (0, Decimal(str(value or "0")))
            return (value is None, value if value is not None else "")

        chosen.sort(key=key, reverse=descending)
        return chosen

    found: list[dict[str, Any]] = _DERIVED.get(doc, ("ordered", sort, descending, kind, outcome), make)
    return found


def download(doc: dict[str, Any], fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of the statement in one format, written by the same code as `pay`'s files."""
    if fmt not in FORMATS:
        raise HTTPException(404, f"Unknown format {fmt!r}: choose from {', '.join(FORMATS)}.")
    with tempfile.TemporaryDirectory(prefix="recoverypbr-download-") as folder:
        (path,) = write_statement(doc, Path(folder), [fmt])
        return f"{statement_stem(doc)}.{fmt}", path.read_bytes()


def adjustments(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Every adjustment line of the statements the viewer may see, with the line or finding it corrects."""
    found = []
    for entry in index(wh, contract, scope):
        doc = document(wh, contract, scope, entry.period, entry.provider_id)
        for line in doc["lines"]:
            if line["kind"] == "adjustment" or line.get("corrects"):
                found.append({"period": entry.period, "provider_id": entry.provider_id, "status": entry.status,
                              **line})
    return found


def client_lines(wh: Warehouse, contract: Contract, scope: Scope, client_id: str) -> list[dict[str, Any]]:
    """Every line naming the client in the statements the viewer may see, with its period, provider and status."""
    found = []
    for entry in index(wh, contract, scope):
        doc = document(wh, contract, scope, entry.period, entry.provider_id)
        for line in _by_client(doc).get(client_id, []):
            found.append({"period": entry.period, "provider_id": entry.provider_id, "status": entry.status, **line})
    return found


_CLIENT_INDEX: OrderedDict[int, tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]] = OrderedDict()
_INDEX_LOCK = threading.Lock()


def _by_client(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The document's lines by client id, made once per document read."""
    with _INDEX_LOCK:
        kept = _CLIENT_INDEX.get(id(doc))
        if kept is not None and kept[0] is doc:
            return kept[1]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in doc["lines"]:
        if line.get("client_id"):
            grouped.setdefault(line["client_id"], []).append(line)
    with _INDEX_LOCK:
        _CLIENT_INDEX[id(doc)] = (doc, grouped)
        while len(_CLIENT_INDEX) > 128:
            _CLIENT_INDEX.popitem(last=False)
    return grouped


def as_of_default(entries: list[Entry], contract: Contract, today: date) -> date:
    """The as-of date of the latest statement shown, else the contract's last day or today, whichever is first."""
    if entries:
        return date.fromisoformat(max(e.as_of for e in entries))
    return min(contract.end, today)
