"""The baseline's history moved onto the contract's calendar, so that the real engine can price it.

A baseline window usually lies before go-live, where the contract has no periods, tariffs in force or limits'
windows. `shifted_warehouse` copies every canonical table into a new warehouse (in memory by default) with every
date moved by the same number of days, so that the window's first day falls on the contract's first day, and each
episode's `stock_or_flow` said again against the contract's start (started before it: stock; else flow). The
engine (outcomes, grouping, pricing, limits) then runs on the copy unchanged: nothing of its rules is restated
here. A window that already starts on the contract's first day is copied unmoved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis

from recoverypbr.contract.model import Contract
from recoverypbr.data.schema import TABLES
from recoverypbr.warehouse.connection import Warehouse, open_warehouse
from recoverypbr.warehouse.row_digests import insert_rows


@dataclass(frozen=True)
class Shift:
    """How the history was moved: `days` added to every date (window_from + days = the contract's start)."""

    days: int

    def forward(self, day: date) -> date:
        return day + timedelta(days=self.days)

    def back(self, day: date) -> date:
        return day - timedelta(days=self.days)


def shift_for(window_from: date, contract: Contract) -> Shift:
    """The shift that puts the window's first day on the contract's first day."""
    return Shift((contract.start - window_from).days)


def shifted_warehouse(
    wh: Warehouse, shift: Shift, contract: Contract, path: Path | str = ":memory:"
) -> Warehouse:
    """A new warehouse (schema migrated) holding every canonical table of `wh` with its dates moved by
    `shift.days` and episodes' `stock_or_flow` against the contract's start. The caller closes it."""
    copy = open_warehouse(path)
    try:
        with copy.transaction():
            for spec in TABLES:
                if not wh.has_table(spec.name):
                    continue
                source = wh.table(spec.name)
                moved = {
                    c.name: source[c.name] + ibis.interval(days=shift.days)
                    for c in spec.columns
                    if c.kind == "date" and c.name in source.columns
                }
                if moved:
                    source = source.mutate(**moved)
                if spec.name == "episodes" and "stock_or_flow" in source.columns:
                    before = source.start_date < contract.start
                    source = source.mutate(stock_or_flow=ibis.ifelse(before, "stock", "flow"))
                data = wh.to_arrow(source)
                staged = copy.register_arrow("_shift_rows", data)
                columns = [c for c in staged.columns if c in copy.table(spec.name).columns]
                insert_rows(copy, spec.name, staged.select(*columns))  # the moved rows' digests worked out anew
                copy.unregister("_shift_rows")
    except BaseException:
        copy.close()
        raise
    return copy
