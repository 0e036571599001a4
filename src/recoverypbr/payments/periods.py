"""Periods: a statement's period and the windows caps and floors are counted over.

A period is a closed date range with a label: `2013-Q1` (calendar quarter, January to March 2013), `2013-04` (a
month), `2013` (a calendar year) or an explicit range `2012-04-01..2013-03-31` (e.g. a contract year). A limit's
window is the month, calendar quarter, contract year or whole contract containing a date, clipped to the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError

WindowKind = Literal["month", "quarter", "year", "contract"]


class PeriodError(RecoveryPbrError):
    """A period label that cannot be read."""


@dataclass(frozen=True, order=True)
class Period:
    """A closed range of dates, `start` to `end` inclusive, with its label."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"period {self.label} ends before it starts", hint="give the earlier date first")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def month(year: int, month_number: int) -> Period:
    return Period(date(year, month_number, 1), _month_end(year, month_number), f"{year}-{month_number:02d}")


def quarter(year: int, number: int) -> Period:
    first = 3 * (number - 1) + 1
    return Period(date(year, first, 1), _month_end(year, first + 2), f"{year}-Q{number}")


def parse_period(text: str) -> Period:
    """`2013-Q1`, `2013-04`, `2013` or `2012-04-01..2013-03-31` as a `Period`."""
    text = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
            return quarter(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            return month(int(m[1]), int(m[2]))
        if re.fullmatch(r"\d{4}", text):
            return Period(date(int(text), 1, 1), date(int(text), 12, 31), text)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
            return Period(date.fromisoformat(m[1]), date.fromisoformat(m[2]), text)
    except ValueError:
        pass
    raise PeriodError(f"cannot read the period {text!r}", hint="write 2013-Q1, 2013-04, 2013 or 2012-04-01..2013-03-31")


def window(kind: WindowKind, day: date, contract: Contract) -> Period | None:
    """The `kind` window containing `day`, clipped to the contract's dates (None outside the contract)."""
    if not contract.start <= day <= contract.end:
        return None
    if kind == "month":
        found = month(day.year, day.month)
    elif kind == "quarter":
        found = quarter(day.year, (day.month - 1) // 3 + 1)
    elif kind == "year":
        index = next(i for i, y in enumerate(contract.years) if y.start <= day <= y.end)
        year = contract.years[index]
        found = Period(year.start, year.end, f"{year.start}..{year.end}")
    else:
        found = Period(contract.start, contract.end, "contract")
    start, end = max(found.start, contract.start), min(found.end, contract.end)
    return found if (start, end) == (found.start, found.end) else Period(start, end, f"{start}..{end}")


def windows(kind: WindowKind, period: Period, contract: Contract) -> list[Period]:
    """Every `kind` window that overlaps `period` (and the contract), in order."""
    found: list[Period] = []
    day = max(period.start, contract.start)
    while day <= min(period.end, contract.end):
        w = window(kind, day, contract)
        if w is None:
            break
        found.append(w)
        day = w.end + timedelta(days=1)
    return found
