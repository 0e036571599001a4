"""The national 20% rule on money: the share of the "free from drug(s) of dependence" domain's money that reliable
change took in a period.

`contract check` tests the rule on the tariffs (what one client can earn). A statement also reports it on what was
earned: the outcome lines (individual and cohort basis) of the domain's outcomes in the period, before caps and
floors (a cut is not attributable to one outcome), outcomes paid from a fund left out. A share above 20% gets a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import ReliableChange
from recoverypbr.payments.lines import PaymentLine

DOMAIN = "free_from_dependence"
#: The most reliable change may carry of the domain's money (the nationally agreed rule).
MOST = Decimal("0.20")
_EARNED = ("outcome", "cohort")


@dataclass(frozen=True)
class ChangeShare:
    """Pence earned by reliable change and by the whole domain in a period."""

    reliable_change_pence: int
    domain_pence: int

    @property
    def share(self) -> Decimal | None:
        return None if self.domain_pence <= 0 else Decimal(self.reliable_change_pence) / self.domain_pence

    @property
    def over(self) -> bool:
        return self.share is not None and self.share > MOST


def change_share(lines: Iterable[PaymentLine], contract: Contract) -> ChangeShare | None:
    """What reliable change and its domain earned in the lines; None when the contract pays no reliable change."""
    domain = {oid for oid, o in contract.outcomes.items()
              if getattr(o, "domain", None) == DOMAIN and not o.funded_by}
    changes = {oid for oid in domain if isinstance(contract.outcomes[oid], ReliableChange)
               and getattr(contract.outcomes[oid], "tariffs", None)}
    if not changes:
        return None
    earned = [x for x in lines if x.kind in _EARNED and x.outcome_id in domain]
    return ChangeShare(sum(x.amount_pence for x in earned if x.outcome_id in changes),
                       sum(x.amount_pence for x in earned))
