"""Statements: one provider's payment lines for one period, with totals, the year to date and predicted volumes.

A statement is the unit a commissioner approves and a provider checks. Its lines are numbered from 1 in the order
they were made (earned lines, then caps and floors as applied, then adjustments to earlier approved statements);
every line keeps its client, outcome, tariff reference (and that reference in words) and evidence. The statement's
`document()` is the one JSON-ready form every writer (CSV, JSON, XLSX, PDF) and the approval store read, so all
formats agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from recoverypbr.payments.lines import KIND_ORDER, LINE_COLUMNS, PaymentLine, total
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period

#: Columns of a statement's lines, as written to CSV and XLSX: the line number, then the line's own fields with
#: amounts in pounds (two decimal places).
LINE_HEADER = (
    "line_no",
    "kind",
    "provider_id",
    "client_id",
    "episode_id",
    "outcome_id",
    "complexity_group",
    "stock_or_flow",
    "payable_on",
    "amount",
    "reference",
    "reference_words",
    "evidence",
    "corrects",
    "share",
    "whole",
    "adjusts",
)
KIND_WORDS = {
    "outcome": "Outcome payments",
    "payment_point": "Milestone payment points",
    "cohort": "Cohort payments",
    "attachment_fee": "Attachment fees",
    "incentive": "Incentive payments",
    "cap": "Caps (cuts)",
    "floor": "Floors (top-ups)",
    "adjustment": "Adjustments to approved statements",
}


@dataclass(frozen=True)
class YearToDate:
    """The contract year the statement's period ends in, and what the provider has been paid in it so far."""

    year_label: str
    year_start: date
    year_end: date
    budget_pence: int | None
    share_on_results: str
    results_pot_pence: int | None
    periods: tuple[tuple[str, str, int], ...]
    """(period label, draft or approved or this statement, the provider's lines for the period in pence, not
    counting adjustment lines) for the year's periods up to this one."""
    adjustments_this_year: int = 0
    """Adjustment lines so far (in approved statements and this one) that correct this year's periods."""
    adjustments_earlier_years: int = 0
    """Adjustment lines in this year's statements that correct earlier years' periods (charged to those years)."""
    funds: tuple[tuple[str, str, int | None, int], ...] = ()
    """(fund id, label, the fund's money for the year in pence, what the provider has been paid from it in the
    year so far) for each fund of the contract; `periods` counts the contract's own money only."""

    @property
    def paid_pence(self) -> int:
        """What the provider has been paid for this year's periods so far, adjustments to them included."""
        return sum(amount for _, _, amount in self.periods) + self.adjustments_this_year


@dataclass(frozen=True)
class FunnelRow:
    """One milestone in one month of the contract year: predicted against actual (clients reaching it)."""

    funnel: str
    milestone: str
    label: str
    month: str
    predicted: int
    actual: int


@dataclass(frozen=True)
class MilestoneYear:
    """One milestone's prediction for the contract year and, for a payment point, its price and maximum."""

    funnel: str
    milestone: str
    label: str
    predicted: int
    unit_price_pence: int | None = None
    maximum_pence: int | None = None


@dataclass(frozen=True)
class Statement:
    """A provider's statement for a period: header, lines, year to date, predicted volumes, unpriced rows."""

    statement_id: str
    contract_area: str
    contract_title: str
    contract_version: date
    provider_id: str
    provider_name: str
    period: Period
    as_of: date
    fingerprint: str
    contract_sha256: str
    data_sha256: str
    program_version: str
    lines: tuple[PaymentLine, ...]
    year_to_date: YearToDate | None = None
    funnel: tuple[FunnelRow, ...] = ()
    milestones: tuple[MilestoneYear, ...] = ()
    """Each funnel milestone's year: the year to date against its prediction is summed from `funnel`."""
    unpriced: tuple[Mapping[str, Any], ...] = ()
    reliable_change: tuple[tuple[str, int, int], ...] = ()
    """(whose: this provider or all providers, pence reliable change earned, pence its domain earned) in the period,
    for a contract paying reliable change (`payments.domains`)."""
    notes: tuple[str, ...] = ()
    status: str = "draft"
    open_earlier: tuple[str, ...] = ()
    """Earlier periods in which this provider has a statement not yet approved (approval goes in order)."""
    approved_by: str = ""
    approved_at: str = ""
    stored_document: Mapping[str, Any] | None = None
    """For an approved statement read back from the warehouse: its document exactly as approved."""
    reference_words: tuple[str, ...] = ()
    """Each line's reference in plain words (`payments.words.reference_words`), in the order of `lines`."""

    @property
    def total_pence(self) -> int:
        return total(self.lines)

    def totals_by_kind(self) -> dict[str, int]:
        """Line kind -> pence, in statement order, kinds without lines left out."""
        found: dict[str, int] = {}
        for line in sorted(self.lines, key=lambda x: KIND_ORDER[x.kind]):
            found[line.kind] = found.get(line.kind, 0) + line.amount_pence
        return found

    def line_rows(self) -> list[dict[str, Any]]:
        """The lines as rows of `LINE_HEADER`, amounts in pounds as text with two decimals."""
        said = self.reference_words
        return [line_row(i, line, said[i - 1] if i <= len(said) else "") for i, line in enumerate(self.lines, start=1)]

    def year_to_date_document(self) -> dict[str, Any] | None:
        """The document's `year_to_date`, without making the rest (a national statement's lines take seconds)."""
        if self.stored_document is not None:
            found: dict[str, Any] | None = self.stored_document["year_to_date"]
            return found
        return None if self.year_to_date is None else _ytd_document(self.year_to_date)

    def _funnel_year(self) -> list[dict[str, Any]]:
        """Each milestone's year to date (months of the year up to this period) against its prediction."""
        found = []
        for m in self.milestones:
            rows = [r for r in self.funnel if (r.funnel, r.milestone) == (m.funnel, m.milestone)]
            found.append({
                "funnel": m.funnel, "milestone": m.milestone, "label": m.label, "predicted_year": m.predicted,
                "predicted_to_date": sum(r.predicted for r in rows), "actual_to_date": sum(r.actual for r in rows),
                "unit_price": _money(m.unit_price_pence), "maximum": _money(m.maximum_pence),
            })
        return found

    def document(self) -> dict[str, Any]:
        """The statement as JSON-ready data, keys in a fixed order (the CSV, XLSX and PDF are made from it)."""
        if self.stored_document is not None:
            return dict(self.stored_document)
        return {
            "statement_id": self.statement_id,
            "status": self.status,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "contract": {
                "area": self.contract_area,
                "title": self.contract_title,
                "version": self.contract_version.isoformat(),
                "sha256": self.contract_sha256,
            },
            "provider": {"id": self.provider_id, "name": self.provider_name},
            "period": {"label": self.period.label, "start": self.period.start.isoformat(),
                       "end": self.period.end.isoformat()},
            "as_of": self.as_of.isoformat(),
            "fingerprint": self.fingerprint,
            "data_sha256": self.data_sha256,
            "program_version": self.program_version,
            "totals": {
                "by_kind": {kind: _money(amount) for kind, amount in self.totals_by_kind().items()},
                "total": _money(self.total_pence),
                "lines": len(self.lines),
            },
            "year_to_date": self.year_to_date_document(),
            "funnel": [
                {"funnel": r.funnel, "milestone": r.milestone, "label": r.label, "month": r.month,
                 "predicted": r.predicted, "actual": r.actual}
                for r in self.funnel
            ],
            "funnel_year": self._funnel_year(),
            "reliable_change_share": [
                {"whose": whose, "reliable_change": _money(change), "domain": _money(domain),
                 "share": "" if domain <= 0 else f"{(Decimal(change) * 100 / domain).quantize(Decimal('0.1'))}%"}
                for whose, change, domain in self.reliable_change
            ],
            "unpriced": [dict(row) for row in self.unpriced],
            "notes": list(self.notes),
            "lines": self.line_rows(),
        }


def _money(amount_pence: int | None) -> str | None:
    return None if amount_pence is None else str(pounds(amount_pence))


def _ytd_document(ytd: YearToDate) -> dict[str, Any]:
    pot = ytd.results_pot_pence
    return {
        "year": ytd.year_label,
        "start": ytd.year_start.isoformat(),
        "end": ytd.year_end.isoformat(),
        "budget": _money(ytd.budget_pence),
        "share_on_results": ytd.share_on_results,
        "results_pot": _money(pot),
        "periods": [{"period": p, "status": s, "total": _money(a)} for p, s, a in ytd.periods],
        "adjustments_to_this_year": _money(ytd.adjustments_this_year),
        "paid_to_date": _money(ytd.paid_pence),
        "adjustments_to_earlier_years": _money(ytd.adjustments_earlier_years),
    } | ({"funds": [{"fund": f, "label": label, "pot": _money(pot), "paid_to_date": _money(paid)}
                    for f, label, pot, paid in ytd.funds]} if ytd.funds else {})


def line_row(line_no: int, line: PaymentLine, reference_words: str = "") -> dict[str, Any]:
    """One line as a row of `LINE_HEADER`, with its reference in words."""
    return {
        "line_no": line_no,
        "kind": line.kind,
        "provider_id": line.provider_id,
        "client_id": line.client_id or "",
        "episode_id": line.episode_id or "",
        "outcome_id": line.outcome_id or "",
        "complexity_group": line.complexity_group or "",
        "stock_or_flow": line.stock_or_flow or "",
        "payable_on": _iso(line.payable_on),
        "amount": _pounds_text(line.amount_pence),
        "reference": line.reference,
        "reference_words": reference_words,
        "evidence": line.evidence,
        "corrects": line.corrects,
        "share": line.share,
        "whole": "" if line.whole_pence is None else _pounds_text(line.whole_pence),
        "adjusts": line.adjusts,
    }


@lru_cache(maxsize=1 << 14)
def _pounds_text(amount_pence: int) -> str:
    """`pounds` as text, for a line (a national statement has a few hundred amounts over many lines)."""
    return str(pounds(amount_pence))


@lru_cache(maxsize=1 << 12)
def _iso(day: date) -> str:
    return day.isoformat()


def line_from_stored(row: Mapping[str, Any]) -> PaymentLine:
    """A line read back from the `statement_lines` table."""
    return PaymentLine(**{c: row[c] for c in LINE_COLUMNS})


def statement_id(area: str, version: date, provider_id: str, period: Period) -> str:
    """`<area>/<contract version>/<provider>/<period>`, e.g. `Worcestershire/2012-04-01/WOR_SERVICE/2013-Q1`."""
    return f"{area}/{version.isoformat()}/{provider_id}/{period.label}"


def provider_lines(lines: Sequence[PaymentLine], provider_id: str) -> list[PaymentLine]:
    """The provider's own lines, in the order they were made."""
    return [line for line in lines if line.provider_id == provider_id]
