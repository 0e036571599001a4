"""Money: integer pence everywhere, one rounding rule, one way of sharing an amount.

The rounding rule: an amount in pounds (a `Decimal`) becomes pence by ROUND_HALF_UP to the whole penny, once per
line, by `pence`. Contract amounts have at most two decimal places, so a tariff, a unit price or a limit converts
exactly; rounding only ever happens on a computed amount. Sharing a line among providers uses `allocate`, which
never rounds a part on its own: every part is the share rounded down, then the pennies left over go one each to the
parts with the largest remainders (ties: the earlier part in the contract's order), so the parts sum to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

PENNIES = Decimal(100)


def pence(pounds: Decimal) -> int:
    """Pounds -> integer pence, ROUND_HALF_UP to the penny: the project's one rounding rule."""
    return int((pounds * PENNIES).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pounds(amount_pence: int) -> Decimal:
    """Integer pence -> pounds as a `Decimal` with two places (exact)."""
    return (Decimal(amount_pence) / PENNIES).quantize(Decimal("0.01"))


def allocate(whole_pence: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Share `whole_pence` in proportion to `weights` so that the parts sum exactly to the whole.

    Each part is rounded down; the pennies left over go one by one to the largest remainders, earlier parts first
    on a tie. All-zero weights share equally. Works for negative wholes (cap cuts) too."""
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(Decimal(w) < 0 for w in weights):
        raise ValueError("weights must not be negative")
    total = sum((Decimal(w) for w in weights), Decimal(0))
    shares = [Decimal(w) / total for w in weights] if total else [Decimal(1) / len(weights)] * len(weights)
    exact = [Decimal(whole_pence) * share for share in shares]
    parts = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = whole_pence - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts
