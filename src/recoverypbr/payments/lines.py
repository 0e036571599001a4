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
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from operator import attrgetter
from typing import Any, Literal, NamedTuple, overload

import pyarrow as pa
import pyarrow.compute as pc

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


#: The Arrow types of the line fields: a period's lines as one table (`lines_table`, `ArrowLines`).
LINE_SCHEMA = pa.schema(
    [(c, pa.int64() if c in ("amount_pence", "whole_pence") else pa.date32() if c == "payable_on" else pa.string())
     for c in LINE_COLUMNS]
)


def lines_table(lines: Sequence[PaymentLine]) -> pa.Table:
    """The lines as an Arrow table of `LINE_SCHEMA`, in order: the lines' own table when they are `ArrowLines`."""
    if isinstance(lines, ArrowLines):
        return lines.table
    return pa.table([pa.array(list(map(attrgetter(c), lines)), LINE_SCHEMA.field(c).type) for c in LINE_COLUMNS],
                    schema=LINE_SCHEMA)


def as_lines_table(table: pa.Table, **fixed: Any) -> pa.Table:
    """An Arrow table whose columns are some line fields as a table of `LINE_SCHEMA`: `fixed` gives a value for
    every row (e.g. the kind) and a field in neither takes its default; what `lines_from_arrow` makes, as a table."""
    rows = table.num_rows
    columns = []
    for field in LINE_SCHEMA:
        if field.name in fixed:
            columns.append(pa.repeat(pa.scalar(fixed[field.name], field.type), rows))
        elif field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.repeat(pa.scalar(_DEFAULTS[field.name], field.type), rows))
    return pa.table(columns, schema=LINE_SCHEMA)


def sorted_earned(table: pa.Table) -> pa.Table:
    """A table of earned lines (`LINE_SCHEMA`, one kind) in `earned_order`, ties kept in the order given (a stable
    sort; strings compare as Python's do, by code point)."""
    if table.num_rows < 2:
        return table
    keys = [pc.fill_null(table.column(c), "") for c in ("provider_id", "outcome_id", "client_id", "episode_id")]
    ranks = pa.array([KIND_ORDER[k] for k in table.column("kind").unique().to_pylist()], pa.int64())
    kinds = pc.index_in(table.column("kind"), value_set=table.column("kind").unique())
    order = pa.table({"k": pc.take(ranks, kinds), **{f"s{i}": key for i, key in enumerate(keys)},
                      "r": table.column("reference")})
    index = pc.sort_indices(order, sort_keys=[(name, "ascending") for name in order.column_names])
    return table.take(index)


class LazyLines(Sequence[PaymentLine]):
    """Lines made into `PaymentLine`s only when a caller reads them one by one (then kept): `_read` makes them."""

    _lines: list[PaymentLine] | None = None

    @abstractmethod
    def _read(self) -> list[PaymentLine]:
        """The lines, made on the first call and kept."""

    @overload
    def __getitem__(self, index: int) -> PaymentLine: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PaymentLine]: ...

    def __getitem__(self, index: int | slice) -> PaymentLine | Sequence[PaymentLine]:
        return self._read()[index]

    def __iter__(self) -> Iterator[PaymentLine]:
        return iter(self._read())


class ArrowLines(LazyLines):
    """A period's lines held as one Arrow table (`LINE_SCHEMA`): made into `PaymentLine`s only when a caller reads
    them one by one, so a national period that is only stored and summed never is."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def _read(self) -> list[PaymentLine]:
        if self._lines is None:
            self._lines = lines_from_arrow(self.table)
        return self._lines

    def __len__(self) -> int:
        rows: int = self.table.num_rows
        return rows

    def __eq__(self, other: object) -> bool:
        """Equal to the same lines as a list (as the list of lines it stands for is)."""
        if isinstance(other, ArrowLines):
            same: bool = self.table.equals(other.table)
            return same
        return isinstance(other, list) and self._read() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrowLines({self.table.num_rows} lines)"


def total_pence(lines: Sequence[PaymentLine]) -> int:
    """`total`, summed in Arrow when the lines are `ArrowLines`."""
    if isinstance(lines, ArrowLines):
        found: int | None = pc.sum(lines.table.column("amount_pence")).as_py()
        return found or 0
    return total(lines)


def with_changes(line: PaymentLine, **changes: Any) -> PaymentLine:
    """The line with some fields changed (`_replace`, faster: a national period splits millions of lines)."""
    values = list(line)
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return _new(PaymentLine, values)


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
