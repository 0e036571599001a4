"""Payment lines: the one shape every priced amount, cap cut and floor top-up takes.

A line says who is paid (`provider_id`), how much (`amount_pence`, integer pence, negative for a cap's cut), why
(`reference`: the contract path of the tariff, unit price or limit and the date its value took effect, e.g.
`outcomes.abstinence.tariffs.high@2012-04-01`) and for what (client, episode, outcome, evidence; for a limit line,
`corrects` says the scope and window it corrects; for a cohort-basis line, the achievements it pays above the
baseline). `whole_pence` and `share` show a split line's whole and share.
Statements, approval and adjustments (later) carry these lines as they are and add their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal, NamedTuple

import pyarrow as pa

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


class PaymentLine(NamedTuple):
    """One line of a provider's payments for a period. An immutable named tuple: a national run makes millions of
    them, and a tuple is made several times faster than a frozen dataclass."""

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
        return self._asdict()


LINE_COLUMNS: tuple[str, ...] = PaymentLine._fields
_INDEX = {name: i for i, name in enumerate(LINE_COLUMNS)}
_DEFAULTS = PaymentLine._field_defaults
_new = tuple.__new__


def lines_from_arrow(table: pa.Table, **fixed: Any) -> list[PaymentLine]:
    """One line per row of an Arrow table whose columns are line fields (`fixed` gives a value for every row, e.g.
    the kind; a field in neither takes its default), read column by column: a period's rows in millions."""
    rows = table.num_rows
    columns: list[Iterable[Any]] = []
    for name in LINE_COLUMNS:
        if name in fixed:
            columns.append(itertools.repeat(fixed[name], rows))
        elif name in table.column_names:
            columns.append(table.column(name).to_pylist())
        else:
            columns.append(itertools.repeat(_DEFAULTS[name], rows))
    return [_new(PaymentLine, values) for values in zip(*columns, strict=False)]


def with_changes(line: PaymentLine, **changes: Any) -> PaymentLine:
    """The line with some fields changed (`_replace`, faster: a national period splits millions of lines)."""
    values = list(line)
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return _new(PaymentLine, values)


# `shared_part` builds a line by position: these fields must stay where it puts them.
if LINE_COLUMNS[1:4:2] != ("provider_id", "amount_pence") or LINE_COLUMNS[12:] != ("share", "whole_pence", "adjusts"):
    raise ImportError("PaymentLine's fields moved: shared_part must be changed with them")


def shared_part(line: PaymentLine, provider_id: str, amount_pence: int, share: str, whole_pence: int) -> PaymentLine:
    """A payee's part of a shared line (`splits`): `with_changes` of these four fields, made directly (a national
    period has millions of parts)."""
    return _new(PaymentLine, (line[0], provider_id, line[2], amount_pence, *line[4:12], share, whole_pence, line[14]))


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
