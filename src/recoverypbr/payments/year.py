"""The year to date a statement shows: the contract year its period ends in, and what the provider has been paid
for that year's periods so far.

Each line counts in the contract year containing its payable date, the rule the caps and the share on results use:
a period that straddles two contract years (quarters under years that start on 1 May) counts its lines of each year
in that year. The periods' totals count the contract's own money; what each fund (`funds:`) paid is shown on its
own. Each period overlapping the year lists its lines of the year (approved statements as approved, the
statement being made as made, open earlier periods as currently priced), without adjustment lines. An adjustment
line counts towards the year in which the period it corrects (named in its `adjusts`) ends, not the year of the
statement it is in: a clawback in year two of a year-one payment does not make room in year two's results money.
Adjustments in this year's statements to earlier years' periods are shown on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from recoverypbr.contract.model import Contract, ContractYear
from recoverypbr.contract.types import value_on
from recoverypbr.payments.limits import fund_in, funded
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.statements import YearToDate


def adjusted_period(line: PaymentLine) -> str:
    """The label of the period an adjustment line corrects: `<area>/<version>/<provider>/<period>#<line>`."""
    return line.adjusts.split("#", 1)[0].rsplit("/", 1)[-1]


def year_of(contract: Contract, day_in_it: Period) -> ContractYear | None:
    """The contract year a period ends in."""
    return next((y for y in contract.years if y.start <= day_in_it.end <= y.end), None)


def year_to_date(
    contract: Contract,
    period: Period,
    periods: Sequence[Period],
    statements: Mapping[str, tuple[str, Sequence[PaymentLine]]],
) -> YearToDate | None:
    """The year to date for a statement of `period`; `statements` maps each schedule period up to it to (status,
    the provider's lines in it)."""
    year = year_of(contract, period)
    if year is None:
        return None
    labels = {q.label: q for q in periods}

    def in_year(label: str) -> bool:
        q = labels.get(label)
        return q is not None and year.start <= q.end <= year.end

    paid_from = funded(contract)

    def by_fund(lines: Sequence[PaymentLine]) -> dict[str, int]:
        """What the lines paid in the year (adjustments aside) from each fund ('' for the contract's own money)."""
        found: dict[str, int] = {}
        for line in lines:
            if line.kind != "adjustment" and year.start <= line.payable_on <= year.end:
                fund = fund_in(line, paid_from)
                found[fund] = found.get(fund, 0) + line.amount_pence
        return found

    so_far = [q for q in periods if q.start <= period.start and q.start <= year.end and year.start <= q.end]
    paid = {q.label: by_fund(statements[q.label][1]) for q in so_far}
    totals = [(q.label, statements[q.label][0], paid[q.label].get("", 0)) for q in so_far]
    funds = tuple(
        (fid, fund.label, _pence_or_none(value_on(fund.amount, year.start)),
         sum(paid[q.label].get(fid, 0) for q in so_far))
        for fid, fund in contract.funds.items()
    )
    adjustments = list(_adjustment_lines(statements[q.label][1] for q in periods if q.start <= period.start))
    this_year = sum(x.amount_pence for x in adjustments if in_year(adjusted_period(x)))
    in_this_years_statements = [
        x for q in periods if q.start <= period.start and in_year(q.label) for x in statements[q.label][1]
        if x.kind == "adjustment"
    ]
    earlier_years = sum(x.amount_pence for x in in_this_years_statements if not in_year(adjusted_period(x)))
    budget = value_on(contract.budget, year.start)
    share = value_on(contract.share_on_results, year.start)
    pot = contract.at_risk(year.start)
    return YearToDate(
        year_label=year.label or f"year {contract.years.index(year) + 1}",
        year_start=year.start,
        year_end=year.end,
        budget_pence=None if budget is None else pence(budget),
        share_on_results="" if share is None else f"{(share * 100).normalize():f}%",
        results_pot_pence=None if pot is None else pence(pot),
        periods=tuple(totals),
        adjustments_this_year=this_year,
        adjustments_earlier_years=earlier_years,
        funds=funds,
    )


def _pence_or_none(value: Decimal | None) -> int | None:
    return None if value is None else pence(value)


def _adjustment_lines(groups: Iterable[Sequence[PaymentLine]]) -> Iterable[PaymentLine]:
    for lines in groups:
        yield from (x for x in lines if x.kind == "adjustment")
