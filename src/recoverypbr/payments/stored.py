"""Priced periods kept in the warehouse, so that the same pricing is never done twice.

A schedule period's payments (its lines and what found no amount) are a function of the contract's content, the
input data as known on the as-of date (with the audit findings in force then), and the program: exactly what a
statement's fingerprint digests (`fingerprint.Fingerprint`). `pay` stores each period it prices under those three
digests; `pay` again, `approve` (which makes the statements again to check their fingerprints) and the web app's
approval then read the stored periods instead of pricing every period from the contract's start. A period priced
after stored ones sees their lines in its limits' windows exactly as if they had been priced in the same run.

Every period keeps its sums (`limits.summed`: per day, provider, outcome, kind and reference), which is all that
later periods' limits, the year to date and the payees read of it. Its lines are kept only when a statement reads
them: the period asked for and the approved periods that adjustments re-price (`lines_for`). At national scale an
earlier period's lines are millions of rows nothing reads back; when one is wanted later (its own statement), that
period is priced again from the sums stored before it.

The program part of the key is the version *and* a digest of the installed package's source, so a changed rule
never reuses what an older one priced, even between releases. Data loaded since (late data, corrections) changes
the data digest, so nothing stored is reused for it. Only the priced runs of the last `KEEP` keys per contract
version are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.payments.approval import StatementError
from recoverypbr.payments.limits import SUMMED_BY
from recoverypbr.payments.lines import LINE_COLUMNS, LazyLines, PaymentLine, lines_from_arrow, lines_table
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pipeline import Payments
from recoverypbr.warehouse.connection import Warehouse

log = logging.getLogger(__name__)

#: Priced runs kept per contract version (each a contract, data and program digest): the latest ones.
KEEP = 4

_KEY = ("contract_sha256", "data_sha256", "program_version")
_LINE_SCHEMA = pa.schema(
    [(c, pa.string()) for c in _KEY]
    + [("period_label", pa.string()), ("line_no", pa.int64())]
    + [(c, pa.int64() if c in ("amount_pence", "whole_pence") else pa.date32() if c == "payable_on" else pa.string())
       for c in LINE_COLUMNS]
)
_SUM_SCHEMA = pa.schema([_LINE_SCHEMA.field(c) for c in (*_KEY, "period_label")] + [("sum_no", pa.int64())]
                        + [_LINE_SCHEMA.field(c) for c in (*SUMMED_BY, "amount_pence")])


@cache
def code_digest() -> str:
    """SHA-256 of the installed package's Python source (file names and contents, in order)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: The installed source's digest, taken when the program starts: a package upgraded on disk under a running server
#: must not have the old code's figures stored under the new code's key.
CODE_DIGEST = code_digest()


def data_marker(wh: Warehouse) -> tuple[Any, ...]:
    """What changes whenever the input data can: the latest load and the number of audit findings. Taken before the
    data digest and again after pricing, it shows a load (or a finding) that another process committed in between."""
    found: list[Any] = list(wh.execute("SELECT max(load_id), count(*) FROM loads")[0])
    if wh.has_table("audit_findings"):
        found += list(wh.execute("SELECT count(*), max(recorded_on) FROM audit_findings")[0])
    return tuple(found)


def maybe_stored(wh: Warehouse, contract_sha256: str, program_version: str, as_of: date) -> bool:
    """Whether anything was priced and kept for the contract, program and as-of date, under any data digest (the
    data digest, which covers the as-of date, is needed to tell which)."""
    if not wh.has_table("priced_periods"):
        return False
    found = wh.execute("SELECT count(*) FROM priced_periods WHERE contract_sha256 = ? AND program_version = ?"
                       " AND as_of = ?", [contract_sha256, PricingKey.program_of(program_version), as_of])
    return bool(found[0][0])


@dataclass(frozen=True)
class PricingKey:
    """What a period's pricing rests on: the contract, the data as of the date, and the program."""

    contract_sha256: str
    data_sha256: str
    program: str

    @classmethod
    def of(cls, contract_sha256: str, data_sha256: str, program_version: str) -> PricingKey:
        return cls(contract_sha256, data_sha256, cls.program_of(program_version))

    @staticmethod
    def program_of(program_version: str) -> str:
        """The program part of the key: the version and the installed code's digest."""
        return f"{program_version}; code {CODE_DIGEST[:16]}"

    @property
    def values(self) -> list[str]:
        return [self.contract_sha256, self.data_sha256, self.program]


class StoredLines(LazyLines):
    """A stored period's lines, read from the warehouse when first used (then kept): a statement reads its own
    period's lines and those of the approved periods it adjusts, and only the sums of the others
    (`Payments.summed_lines`)."""

    def __init__(self, wh: Warehouse, key: PricingKey, label: str, count: int) -> None:
        self.wh, self.key, self.label, self.size = wh, key, label, count

    def _read(self) -> list[PaymentLine]:
        if self._lines is None:
            t = _of(self.wh, "priced_lines", self.key)
            t = t.filter(t.period_label == self.label).order_by("line_no").select(*LINE_COLUMNS)
            lines = lines_from_arrow(self.wh.to_arrow(t))
            if len(lines) != self.size:  # forgotten since its sums were read (by hand: runs never drop their own)
                raise StatementError(
                    f"the priced lines of {self.label} were removed from the warehouse while the statements were "
                    "being made",
                    hint="run the command again: it prices what is missing",
                )
            self._lines = lines
        return self._lines

    def __len__(self) -> int:
        return self.size


class SummedOnly(LazyLines):
    """A period priced for its sums only (what later periods' limits, the year to date and the payees read): its
    lines were not kept, because no statement of the run reads them (`price_stored`'s `lines_for`)."""

    def __init__(self, label: str, count: int) -> None:
        self.label, self.size = label, count

    def _read(self) -> list[PaymentLine]:
        raise RuntimeError(f"the lines of {self.label} were not kept: only its sums were asked for (lines_for)")

    def __len__(self) -> int:
        return self.size


def _of(wh: Warehouse, table: str, key: PricingKey) -> ir.Table:
    t = wh.table(table)
    return t.filter((t.contract_sha256 == key.contract_sha256) & (t.data_sha256 == key.data_sha256)
                    & (t.program_version == key.program))


def stored_payments(
    wh: Warehouse, key: PricingKey, periods: Iterable[Period], lines_for: Collection[str] | None = None
) -> dict[str, Payments]:
    """The periods (of those asked) priced before under `key`, by label: each period's sums read at once, its
    lines when first used (`StoredLines`). A period in `lines_for` (default: every period) whose lines were not
    kept is left out, to be priced again; so is one whose stored sums or lines are incomplete."""
    if not wh.has_table("priced_periods"):
        return {}
    by_label = {p.label: p for p in periods}
    rows = wh.execute(
        "SELECT period_label, line_count, sum_count, lines_kept, unpriced FROM priced_periods"
        " WHERE contract_sha256 = ? AND data_sha256 = ? AND program_version = ?",
        key.values,
    )
    found = {label: (count, sums, kept, unpriced) for label, count, sums, kept, unpriced in rows
             if label in by_label and (kept or (lines_for is not None and label not in lines_for))}
    if not found:
        return {}
    t = _of(wh, "priced_sums", key)
    t = t.filter(t.period_label.isin(sorted(found))).order_by(["period_label", "sum_no"])
    table = wh.to_arrow(t.select("period_label", *SUMMED_BY, "amount_pence"))
    sums: dict[str, list[PaymentLine]] = {label: [] for label in found}
    for label, line in zip(table.column("period_label").to_pylist(), lines_from_arrow(table), strict=True):
        sums[label].append(line)
    # The lines a statement will read must all be there (a run never forgets its own; by hand, they may not be).
    read = sorted(label for label in found if lines_for is None or label in lines_for)
    counted: dict[str, int] = {}
    if read:
        t = _of(wh, "priced_lines", key)
        t = t.filter(t.period_label.isin(read))
        t = t.group_by("period_label").aggregate(lines=t.count())
        got = wh.to_arrow(t)
        counted = dict(zip(got.column("period_label").to_pylist(), got.column("lines").to_pylist(), strict=True))
    payments = {}
    for label, (count, sum_count, kept, unpriced) in found.items():
        if len(sums[label]) != sum_count or (label in read and counted.get(label, 0) != count):
            log.warning("stored pricing of %s is incomplete; pricing it again", label)
            continue
        lines = StoredLines(wh, key, label, count) if kept else SummedOnly(label, count)
        payments[label] = Payments(by_label[label], lines, json.loads(unpriced, object_hook=_decode),
                                   sums=sums[label])
    return payments


def store_payments(
    wh: Warehouse,
    contract: Contract,
    key: PricingKey,
    as_of: date,
    payments: Mapping[str, Payments],
    at: datetime,
    lines_for: Collection[str] | None = None,
) -> bool:
    """Keep the priced periods under `key` (replacing any stored under it), in one transaction, and forget the
    priced runs of the contract version beyond the latest `KEEP`; true when stored. Each period's sums are kept, and
    its lines when it is in `lines_for` (default: every period). Nothing is stored in a read-only warehouse, or
    when a period's unpriced rows hold a value that cannot be written exactly."""
    if wh.read_only or not payments or not wh.has_table("priced_periods"):
        return False
    try:
        unpriced = {label: json.dumps(p.unpriced, default=_encode, sort_keys=True) for label, p in payments.items()}
    except TypeError as exc:
        log.warning("priced periods not stored: %s", exc)
        return False
    kept = {label for label in payments if lines_for is None or label in lines_for}
    lines, sums = [], []
    for label, p in sorted(payments.items()):  # as Arrow tables: a national period has millions of lines
        if label in kept:
            table = lines_table(p.lines)
            lines.append(_keyed(key, label, table, "line_no").cast(_LINE_SCHEMA))
        summed = lines_table(p.summed_lines()).select([*SUMMED_BY, "amount_pence"])
        sums.append(_keyed(key, label, summed, "sum_no").cast(_SUM_SCHEMA))
    labels = sorted(payments)
    marks = ", ".join("?" for _ in labels)
    match = "contract_sha256 = ? AND data_sha256 = ? AND program_version = ?"
    stamp = at.replace(tzinfo=None)
    with _transaction(wh):
        for table_name in ("priced_lines", "priced_sums", "priced_periods"):
            wh.execute(f"DELETE FROM {table_name} WHERE {match} AND period_label IN ({marks})",
                       [*key.values, *labels])
        for table_name, parts in (("priced_lines", lines), ("priced_sums", sums)):
            if parts:
                wh.insert(table_name, wh.register_arrow(f"_{table_name}", pa.concat_tables(parts)))
                wh.unregister(f"_{table_name}")
        for label, p in payments.items():
            summed_lines = p.summed_lines()
            wh.execute(
                "INSERT INTO priced_periods (contract_area, contract_version, contract_sha256, data_sha256,"
                " program_version, as_of, period_label, line_count, total_pence, sum_count, lines_kept, unpriced,"
                " priced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [contract.area, contract.effective_from, *key.values, as_of, label, len(p.lines),
                 sum(line.amount_pence for line in summed_lines), len(summed_lines), label in kept, unpriced[label],
                 stamp],
            )
        _forget_old(wh, contract, key)
    return True


def _keyed(key: PricingKey, label: str, table: pa.Table, numbered: str) -> pa.Table:
    """The rows of a period's table with the pricing key, the period and their order in front."""
    rows = table.num_rows
    columns = [pa.repeat(pa.scalar(v, pa.string()), rows) for v in [*key.values, label]]
    columns.append(pa.array(range(1, rows + 1), pa.int64()))
    return pa.Table.from_arrays(columns + table.columns, names=[*_KEY, "period_label", numbered, *table.column_names])


def _forget_old(wh: Warehouse, contract: Contract, keep: PricingKey) -> None:
    """Forget the priced runs of the contract version beyond the latest `KEEP`, never `keep` (the run storing now:
    its earlier periods are read back later in the same run)."""
    runs = wh.execute(
        "SELECT contract_sha256, data_sha256, program_version, max(priced_at) AS latest FROM priced_periods"
        " WHERE contract_area = ? AND contract_version = ? GROUP BY contract_sha256, data_sha256, program_version"
        " ORDER BY latest DESC, data_sha256",
        [contract.area, contract.effective_from],
    )
    for old in [run for run in runs if list(run[:3]) != keep.values][KEEP - 1 :]:
        for table in ("priced_lines", "priced_sums", "priced_periods"):
            wh.execute(f"DELETE FROM {table} WHERE contract_sha256 = ? AND data_sha256 = ? AND program_version = ?",
                       list(old[:3]))


class _transaction:
    """The warehouse's transaction, or the caller's when one is already open."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.inner = None if wh._in_transaction else wh.transaction()

    def __enter__(self) -> None:
        if self.inner is not None:
            self.inner.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.inner is not None:
            self.inner.__exit__(*exc)


def _encode(value: Any) -> dict[str, str]:
    if isinstance(value, datetime):
        raise TypeError(f"a date and time in an unpriced row ({value!r})")
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"cannot store {type(value).__name__} values of unpriced rows exactly")


def _decode(value: dict[str, Any]) -> Any:
    if value.keys() == {"$date"}:
        return date.fromisoformat(value["$date"])
    if value.keys() == {"$decimal"}:
        return Decimal(value["$decimal"])
    return value
