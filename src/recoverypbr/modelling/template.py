"""One contract year as the engine prices it on the baseline's history: what the Monte Carlo resamples.

The baseline's history is moved so that its window starts on the year's first day (`shift.shifted_warehouse`); the
outcome ledger is built as of the year's last day and every statement period of the year is priced by the
payments engine itself (`payments.run.price_up_to`). The template keeps the year's **earned** lines as the engine
made them: outcome lines with their tariffs, uplifts and gates, payment points, cohort payments, attachment fees
and incentives, each already split among its payees. Limits (milestones' maxima, caps, the share on results,
floors) are not kept: the simulation applies them again, with the engine's own `payments.limits`, to each run's
lines. The template also keeps what the engine paid in each period after its limits (`paid`), which a run that
draws nothing at random must reproduce to the penny.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.modelling.shift import Shift, shifted_warehouse
from recoverypbr.outcomes.engine import episode_groups
from recoverypbr.outcomes.ledger import build_ledger
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pipeline import payment_inputs
from recoverypbr.payments.run import price_up_to, schedule
from recoverypbr.warehouse.connection import Warehouse

#: Line kinds a period earns before limits (caps' and floors' lines, including milestones' maxima, are re-made).
EARNED_KINDS = frozenset({"outcome", "payment_point", "cohort", "attachment_fee", "incentive"})
#: The complexity group of an episode the engine could not group (no assessment before its start).
NO_GROUP = "none"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class YearTemplate:
    """A contract year priced on the shifted baseline: its periods, earned lines and episodes."""

    index: int
    year: Period
    shift: Shift
    periods: tuple[Period, ...]
    lines: tuple[PaymentLine, ...]
    """Earned lines of the year's periods, split among payees, before any limit."""
    paid: dict[str, int]
    """Period label -> what the engine paid in the period after its limits (all providers, pence)."""
    episodes: pa.Table
    """Every episode of the shifted history: `episode_id`, `start_date`, `complexity_group` (`none` when the engine
    found none)."""


def contract_year(contract: Contract, index: int) -> Period:
    """Contract year `index` (0 is the first) as a period labelled `year N (start to end)`."""
    if not 0 <= index < len(contract.years):
        raise IndexError(index)
    y = contract.years[index]
    return Period(y.start, y.end, f"year {index + 1} ({y.start.isoformat()} to {y.end.isoformat()})")


def year_periods(contract: Contract, year: Period) -> list[Period]:
    """The statement periods of the payment schedule that start in the year."""
    return [p for p in schedule(contract) if year.start <= p.start <= year.end]


def year_lines(wh: Warehouse, contract: Contract, start: date, end: date) -> list[PaymentLine]:
    """Every line the engine pays (earned, maxima, caps, floors) in the statement periods that start in the year
    `start` to `end`, priced as `pay` prices them: from the contract's start, as of the year's last day (the ledger
    as of that day is built first). What gaming and the tariff solver total."""
    year = Period(start, end, "year")
    periods = year_periods(contract, year)
    build_ledger(wh, contract, end)
    priced = price_up_to(wh, contract, periods[-1], end)
    return [line for q in periods for line in priced.payments[q.label].lines]


def year_template(
    wh: Warehouse, contract: Contract, window_from: date, index: int, progress: Progress | None = None
) -> YearTemplate:
    """The engine's earned lines of contract year `index` on the history of `wh` moved so that `window_from` falls on
    the year's first day."""
    return price_year(moved_history(wh, contract, window_from, index, progress), contract, index, progress)


@dataclass(frozen=True)
class MovedHistory:
    """The baseline's history moved onto one contract year, in a warehouse of its own (closed by `price_year`)."""

    copy: Warehouse
    shift: Shift


def moved_history(
    wh: Warehouse, contract: Contract, window_from: date, index: int, progress: Progress | None = None
) -> MovedHistory:
    """The history of `wh` moved so that `window_from` falls on the first day of contract year `index`."""
    year = contract_year(contract, index)
    shift = Shift((year.start - window_from).days)
    if progress:
        progress(f"moving the baseline onto {year.label}")
    return MovedHistory(shifted_warehouse(wh, shift, contract), shift)


def price_year(moved: MovedHistory, contract: Contract, index: int, progress: Progress | None = None) -> YearTemplate:
    """Build the ledger as of the year's last day on the moved history and price the year's periods with the
    engine; the moved history's warehouse is closed afterwards. Years in their own warehouses may be priced at once
    (each warehouse is its own connection)."""
    year = contract_year(contract, index)
    copy = moved.copy
    try:
        if progress:
            progress(f"outcomes as of {year.end.isoformat()}")
        build_ledger(copy, contract, year.end)
        periods = year_periods(contract, year)
        if progress:
            progress(f"pricing {len(periods)} periods of {year.label}")
        priced = price_up_to(copy, contract, periods[-1], year.end, since=year.start)
        lines: list[PaymentLine] = []
        paid: dict[str, int] = {}
        for q in periods:
            found = priced.payments[q.label].lines
            lines += [line for line in found if line.kind in EARNED_KINDS]
            paid[q.label] = sum(line.amount_pence for line in found)
        inputs = payment_inputs(copy, year.end)
        groups = episode_groups(inputs, contract)
        e = copy.table("episodes")
        e = e.left_join(groups, e.episode_id == groups.g_episode).select(
            episode_id=e.episode_id, start_date=e.start_date,
            complexity_group=groups.complexity_group.fill_null(NO_GROUP),
        )
        episodes = copy.to_arrow(e.order_by("episode_id"))
    finally:
        copy.close()
    return YearTemplate(index, year, moved.shift, tuple(periods), tuple(lines), paid, episodes)


def year_templates(
    wh: Warehouse, contract: Contract, window_from: date, indexes: list[int], progress: Progress | None = None
) -> list[YearTemplate]:
    """`year_template` for each contract year asked. Pricing a year is mostly compiling the engine's queries, which
    holds Python's lock, so for a warehouse file opened read-only (as `model risk` opens it) the years are made in
    child processes, as many at once as the machine has cores; otherwise one after the other."""
    workers = min(len(indexes), os.cpu_count() or 1)
    if workers < 2 or not wh.read_only or str(wh.path) == ":memory:" or wh.dialect != "duckdb":
        return [year_template(wh, contract, window_from, i, progress) for i in indexes]
    if progress:
        progress(f"moving the baseline onto {len(indexes)} contract years and pricing them, {workers} at a time")
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_template_of_file, [str(wh.path)] * len(indexes), [contract] * len(indexes),
                             [window_from] * len(indexes), indexes))


def _template_of_file(db: str, contract: Contract, window_from: date, index: int) -> YearTemplate:
    """`year_template` in a child process, on the warehouse file opened read-only."""
    from recoverypbr.warehouse.connection import open_warehouse

    with open_warehouse(db, read_only=True) as wh:
        return year_template(wh, contract, window_from, index)
