"""Dirty mode: realistic errors injected into about 1-2% of each table's rows, and some valid old forms.

Errors (each must be reported and kept aside on load): impossible and non-ISO dates, day counts and
ratings out of range, unknown codes, missing required values, exact and conflicting duplicates, orphan
references, discharge before start, a TOP dated well outside its episode. Valid old forms (which must
load): NDTMS discharge numbers, injecting status C/P/N/Z, flags as 1/0 or true/false. Columns an error
can touch are written as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.data import codes
from recoverypbr.data.schema import TABLES_BY_NAME
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t

#: Share of each table's rows given an error, spread evenly over the table's error kinds.
DIRTY_SHARE = 0.015
#: Share of untouched rows written in a valid old form (NDTMS numbers, C/P/N/Z, 1/0 or true/false).
OLD_FORM_SHARE = 0.05
#: Tables with fewer rows than this get no errors (the handful of providers).
DIRTY_MIN_ROWS = 20


@dataclass(frozen=True)
class Fault:
    kind: str
    column: str = ""


TOP_DAYS = tuple(c.name for c in TABLES_BY_NAME["top"].columns if c.kind == "int" and c.maximum == 28)
TOP_RATINGS = tuple(c.name for c in TABLES_BY_NAME["top"].columns if c.kind == "int" and c.maximum == 20)
FAULTS: dict[str, tuple[Fault, ...]] = {
    "clients": (Fault("impossible_date", "date_of_birth"), Fault("non_iso_date", "date_of_birth"),
                Fault("unknown_code", "sex"), Fault("duplicate"), Fault("conflict", "local_authority")),
    "assessments": (Fault("impossible_date", "assessed_on"), Fault("non_iso_date", "assessed_on"),
                    Fault("missing", "assessed_on"), Fault("unknown_code", "primary_substance"),
                    Fault("orphan", "client_id"), Fault("duplicate"), Fault("conflict", "complexity_group")),
    "episodes": (Fault("impossible_date", "start_date"), Fault("non_iso_date", "referral_date"),
                 Fault("missing", "start_date"), Fault("unknown_code", "discharge_reason"),
                 Fault("orphan", "client_id"), Fault("date_order", "discharge_date"), Fault("duplicate"),
                 Fault("conflict", "provider_id")),
    "top": (Fault("impossible_date", "top_date"), Fault("non_iso_date", "top_date"), Fault("missing", "top_date"),
            Fault("day_count"), Fault("rating"), Fault("unknown_code", "stage"), Fault("orphan", "episode_id"),
            Fault("outside_episode", "top_date"), Fault("duplicate"), Fault("conflict", "quality_of_life")),
    "events": (Fault("impossible_date", "event_date"), Fault("non_iso_date", "event_date"),
               Fault("missing", "event_date"), Fault("orphan", "episode_id"), Fault("duplicate"),
               Fault("conflict", "detail")),
    "presentations": (Fault("impossible_date", "presented_on"), Fault("non_iso_date", "presented_on"),
                      Fault("unknown_code", "setting"), Fault("orphan", "client_id"), Fault("duplicate"),
                      Fault("conflict", "source")),
    "offending_cohort": (Fault("impossible_date", "period_end"), Fault("non_iso_date", "period_start"),
                         Fault("duplicate")),
    "feedback": (Fault("non_iso_date", "response_date"), Fault("score", "score"), Fault("orphan", "provider_id"),
                 Fault("missing", "question")),
}
UNKNOWN_CODES = {"sex": ("unspecified", "2"), "primary_substance": ("heroin", "spice"),
                 "discharge_reason": ("finished", "DNA"), "stage": ("middle", "6 month"),
                 "setting": ("court", "police")}
ORPHAN_PREFIX = {"client_id": "C9", "episode_id": "E9"}  # 8 digits: never a generated id (7 digits)
OLD_DISCHARGE = {reason: number for number, reason in reversed(codes.OLD_DISCHARGE_CODES.items())}
OLD_INJECTING = {status: alias.upper() for alias, status in codes.INJECTING_ALIASES.items()}


def text_columns(name: str) -> tuple[str, ...]:
    """Columns written as text in dirty mode: every column an error can touch."""
    touched = {f.column for f in FAULTS.get(name, ()) if f.column}
    if name == "top":
        touched |= {*TOP_DAYS, *TOP_RATINGS}
    return tuple(c.name for c in t.columns_of(name) if c.name in touched)


def inject(rng: np.random.Generator, name: str, table: pa.Table) -> tuple[pa.Table, int]:
    """The table with errors and old forms, its error columns as text; and the number of rows with errors."""
    faults = FAULTS.get(name, ())
    text = table.cast(t.schema(name, text_columns(name)))
    if not faults or table.num_rows < DIRTY_MIN_ROWS:
        return text, 0
    used = np.zeros(table.num_rows, dtype=bool)
    edits: list[Edit] = []
    picks: list[tuple[Fault, np.ndarray]] = []
    for fault, quota in zip(faults, _quotas(rng, len(faults), table.num_rows), strict=True):
        rows = _pick(rng, _eligible(table, fault) & ~used, quota)
        used[rows] = True
        picks.append((fault, rows))
        if fault.kind not in ("duplicate", "conflict"):
            edits.extend(_edit(rng, table, fault, rows))
    text = _old_forms(rng, name, _apply(text, edits), used)
    copies = [_copy(text, fault, rows) for fault, rows in picks if fault.kind in ("duplicate", "conflict")]
    extra = sum(c.num_rows for c in copies)
    changed = sum(len(rows) for fault, rows in picks if fault.kind not in ("duplicate", "conflict"))
    return pa.concat_tables([text, *copies]), changed + extra


def _quotas(rng: np.random.Generator, kinds: int, rows: int) -> np.ndarray:
    """Rows per error kind: the table's share spread evenly, every kind at least once when there is room."""
    budget = max(1, round(DIRTY_SHARE * rows))
    if budget >= kinds:
        return budget // kinds + (np.arange(kinds) < budget % kinds)
    return np.isin(np.arange(kinds), rng.choice(kinds, budget, replace=False)).astype(np.int64)


def _pick(rng: np.random.Generator, eligible: np.ndarray, quota: int) -> np.ndarray:
    candidates = np.flatnonzero(eligible)
    return np.sort(rng.choice(candidates, min(quota, len(candidates)), replace=False))


def _eligible(table: pa.Table, fault: Fault) -> np.ndarray:
    """Rows where the error makes sense: a date to spoil, a discharge to move, a start TOP to misdate."""
    if fault.kind in ("impossible_date", "non_iso_date"):
        return _valid(table[fault.column])
    if fault.kind == "date_order":  # a discharge moved before a start (a referral that never started has none)
        return np.asarray(_valid(table["discharge_date"]) & _valid(table["start_date"]))
    if fault.column in ("discharge_date", "discharge_reason"):
        return _valid(table["discharge_date"])
    if fault.kind == "outside_episode":
        start_stage = pc.equal(table["stage"], "start").to_numpy(zero_copy_only=False)
        return np.asarray(_valid(table["top_date"]) & start_stage)
    return np.ones(table.num_rows, dtype=bool)


def _valid(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False))


Edit = tuple[str, np.ndarray, list[str | None]]  # column, rows, new text


def _edit(rng: np.random.Generator, table: pa.Table, fault: Fault, rows: np.ndarray) -> list[Edit]:
    """New text for `rows`."""
    n = len(rows)
    column = fault.column
    original = table[column].take(pa.array(rows, pa.int64())) if column else None
    match fault.kind:
        case "impossible_date":
            day = rng.choice(["02-30", "02-31", "04-31", "06-31", "09-31", "11-31"], n)
            years = pc.strftime(original, format="%Y").to_pylist()
            values: list[str | None] = [f"{y}-{d}" for y, d in zip(years, day, strict=True)]
        case "non_iso_date":
            values = pc.strftime(original, format="%d/%m/%Y").to_pylist()
        case "missing" if column == "start_date":
            # A blank start date alone is a referral that never started (valid data); with no referral date
            # either, the row is an error.
            return [(column, rows, [None] * n), ("referral_date", rows, [None] * n)]
        case "missing":
            values = [None] * n
        case "unknown_code":
            values = rng.choice(UNKNOWN_CODES[column], n).tolist()
        case "orphan":
            values = ["P09"] * n if column == "provider_id" else [
                f"{ORPHAN_PREFIX[column]}{x:07d}" for x in rng.integers(0, 10_000_000, n)]
        case "date_order":
            values = _shifted(table["start_date"].take(pa.array(rows, pa.int64())), rng.integers(1, 61, n))
        case "outside_episode":
            values = _shifted(original, rng.integers(30, 91, n))
        case "score":
            values = rng.choice(["0", "6"], n).tolist()
        case "day_count":
            return _out_of_range(rng, rows, TOP_DAYS, ("29", "-1"))
        case "rating":
            return _out_of_range(rng, rows, TOP_RATINGS, ("21",))
        case _:
            raise ValueError(fault.kind)
    return [(column, rows, values)]


def _shifted(dates: pa.ChunkedArray, days_before: np.ndarray) -> list[str | None]:
    """ISO text of `dates` moved `days_before` days earlier."""
    days = dates.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64) - days_before
    text: list[str | None] = t.dates(days).cast(pa.string()).to_pylist()
    return text


def _out_of_range(rng: np.random.Generator, rows: np.ndarray, columns: tuple[str, ...], values: tuple[str, ...]
                  ) -> list[Edit]:
    """One of `columns` per row set to one of `values`."""
    which = rng.integers(0, len(columns), len(rows))
    value = rng.choice(values, len(rows))
    return [(c, rows[which == i], value[which == i].tolist()) for i, c in enumerate(columns)]


def _apply(table: pa.Table, edits: list[Edit]) -> pa.Table:
    for column in dict.fromkeys(c for c, _, _ in edits):
        rows = np.concatenate([r for c, r, _ in edits if c == column])
        values = [v for c, _, vs in edits if c == column for v in vs]
        if len(rows) == 0:
            continue
        order = np.argsort(rows)
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        new = pa.array([values[i] for i in order.tolist()], pa.string())
        replaced = pc.replace_with_mask(table[column].combine_chunks(), pa.array(mask), new)
        table = table.set_column(table.column_names.index(column), column, replaced)
    return table


def _copy(table: pa.Table, fault: Fault, rows: np.ndarray) -> pa.Table:
    """Exact copies of `rows`, or copies with the same key and another value in `fault.column`."""
    copies = table.take(pa.array(rows, pa.int64()))
    if fault.kind == "duplicate":
        return copies
    index = copies.column_names.index(fault.column)
    return copies.set_column(index, fault.column, _conflicting(fault.column, copies[fault.column]))


def _conflicting(column: str, values: pa.ChunkedArray) -> pa.Array:
    swaps = {
        "provider_id": {"P01": "P02", "P02": "P01"},
        "complexity_group": {"low": "medium", "medium": "high", "high": "medium"},
        "local_authority": {a: b for (a, _), (b, _) in zip(p.LOCAL_AUTHORITIES, p.LOCAL_AUTHORITIES[::-1],
                                                           strict=True)},
    }
    old = values.to_pylist()
    if column in swaps:
        return pa.array([swaps[column].get(v, v) if v else "medium" for v in old], pa.string())
    if column == "quality_of_life":
        return pa.array([str((int(v or 0) + 5) % 21) for v in old], pa.string())
    return pa.array([f"{v or ''} (amended)".strip() for v in old], pa.string())


def _old_forms(rng: np.random.Generator, name: str, table: pa.Table, used: np.ndarray) -> pa.Table:
    """Valid older spellings on some untouched rows: NDTMS discharge numbers, C/P/N/Z, 1/0 or true/false."""
    for index, column in enumerate(table.column_names):
        spec = TABLES_BY_NAME[name].column(column)
        if spec.kind != "flag" and column not in ("discharge_reason", "injecting_status"):
            continue
        values = table[column].combine_chunks()
        older = _older(column, values) if spec.kind != "flag" else _older_flags(rng, values)
        chosen = (rng.random(len(values)) < OLD_FORM_SHARE) & ~used & _valid(older)
        if chosen.any():
            values = pc.replace_with_mask(values, pa.array(chosen), older.filter(pa.array(chosen)))
        table = table.set_column(index, column, values)
    return table


def _older(column: str, values: pa.Array) -> pa.Array:
    """The old spelling of each value (blank where there is none)."""
    mapping = OLD_DISCHARGE if column == "discharge_reason" else OLD_INJECTING
    position = pc.index_in(values, value_set=pa.array(list(mapping)))
    return pa.array(list(mapping.values()), pa.string()).take(position)


def _older_flags(rng: np.random.Generator, values: pa.Array) -> pa.Array:
    numbers = rng.random(len(values)) < 0.5
    yes = pa.array(np.where(numbers, "1", "true"))
    no = pa.array(np.where(numbers, "0", "false"))
    return pc.if_else(pc.equal(values, "Y"), yes, no)
