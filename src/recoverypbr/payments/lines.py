"""Payment lines: the one shape every priced amount, cap cut and floor top-up takes.

A line says who is paid (`provider_id`), how much (`amount_pence`, integer pence, negative for a cap's cut), why
(`reference`: the contract path of the tariff, unit price or limit and the date its value took effect, e.g.
`outcomes.abstinence.tariffs.high@2012-04-01`) and for what (client, episode, outcome, evidence; for a limit line,
`corrects` says the scope and window it corrects; for a cohort-basis line, the achievements it pays above the
baseline). `whole_pence` and `share` show a split line's whole and share.
Statements, approval and adjustments (later) carry these lines as they are and add their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

LineKind = Literal[
    "outcome", "payment_point", "cohort", "attachment_fee", "incentive", "cap", "floor", "adjustment"
]
#: Lines in a statement: earned amounts first, then caps and floors in the order they were applied, then
#: adjustments to earlier approved statements.
KIND_ORDER: dict[str, int] = {
    "outcome": 0,
    "payment_point": 1,
    "cohort": 2,
    "attachment_fee": 3,
    "incentive": 4,
    "cap": 5,
    "floor": 6,
    "adjustment": 7,
}


@dataclass(frozen=True)
class PaymentLine:
    """One line of a provider's payments for a period."""

    kind: LineKind
    provider_id: str
    reference: str
    amount_pence: int
    payable_on: date
    client_id: str | None = None
    episode_id: str | None = None
    outcome_id: str | None = None
    complexity_group: str | None = None
    stock_or_flow: str | None = None
    evidence: str = ""
    corrects: str = ""
    share: str = ""
    whole_pence: int | None = None
    adjusts: str = ""
    """For an adjustment line: the approved statement and line it corrects (`<statement id>#<line no>`), or the
    statement alone for a line that is new."""

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


LINE_COLUMNS = tuple(PaymentLine.__dataclass_fields__)


def earned_order(line: PaymentLine) -> tuple[Any, ...]:
    """The order of earned lines: kind, provider, outcome, client, episode, reference."""
    return (
        KIND_ORDER[line.kind],
        line.provider_id,
        line.outcome_id or "",
        line.client_id or "",
        line.episode_id or "",
        line.reference,
    )


def total(lines: Iterable[PaymentLine]) -> int:
    """The sum of the lines, in pence."""
    return sum(line.amount_pence for line in lines)


def totals_by_provider(lines: Iterable[PaymentLine]) -> dict[str, int]:
    """Provider id -> pence, providers in order of id."""
    found: dict[str, int] = {}
    for line in lines:
        found[line.provider_id] = found.get(line.provider_id, 0) + line.amount_pence
    return dict(sorted(found.items()))
