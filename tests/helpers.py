"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from recoverypbr.data.schema import TABLES
from recoverypbr.payments.lines import LineKind, PaymentLine
from recoverypbr.payments.periods import Period
from recoverypbr.payments.statements import Statement, YearToDate
from recoverypbr.warehouse.connection import Warehouse

FIXTURES = Path(__file__).parent / "fixtures"
DIRTY = FIXTURES / "dirty"


def snapshot(wh: Warehouse, *, with_loads: bool = False) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every data table and the quarantine, sorted: equal snapshots mean nothing changed."""
    names = [t.name for t in TABLES] + ["quarantine", "schema_version"]
    if with_loads:
        names += ["loads", "load_files"]
    return {name: sorted(wh.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}


def words(text: str) -> str:
    """Command output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def squashed(text: str) -> str:
    """Text without any white space: for finding a long path in output that wrapped it mid-word."""
    return "".join(text.split())


def run_cli(*args: str) -> str:
    """Run the CLI in-process as a user would; it must succeed; its output with wrapping undone."""
    from typer.testing import CliRunner

    from recoverypbr.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return words(result.output)


def synthetic_statement(lines: int) -> Statement:
    """A draft statement of provider P1 for 2013-Q2 with `lines` made-up lines (kinds, outcomes, groups, amounts
    positive and negative, words with a pound sign), for the writers at a national provider's size; cheap to make."""
    kinds: tuple[LineKind, ...] = ("outcome", "outcome", "payment_point", "cap", "adjustment")
    made = []
    for i in range(lines):
        kind = kinds[i % len(kinds)]
        made.append(PaymentLine(
            kind=kind, provider_id="P1", reference=f"outcomes.o{i % 7}.tariffs.g{i % 3}",
            amount_pence=-(i % 9_973) if kind == "cap" else 1 + (i * 7_919) % 250_000,
            payable_on=date(2013, 4, 1) + timedelta(days=i % 91), client_id=f"C{i:07d}", episode_id=f"E{i:07d}",
            outcome_id=None if kind in ("cap", "adjustment") else f"o{i % 7}",
            complexity_group=None if kind == "cap" else f"g{i % 3}", stock_or_flow="flow", evidence=f"ev {i}",
            adjusts="Area/2013-04-01/P1/2013-Q1#1" if kind == "adjustment" else "",
        ))
    period = Period(date(2013, 4, 1), date(2013, 6, 30), "2013-Q2")
    ytd = YearToDate("year 1", date(2013, 4, 1), date(2014, 3, 31), 100_000_000_00, "20%", 20_000_000_00,
                     (("2013-Q2", "this statement", sum(x.amount_pence for x in made if x.kind != "adjustment")),),
                     adjustments_this_year=sum(x.amount_pence for x in made if x.kind == "adjustment"))
    return Statement(
        statement_id="Area/2013-04-01/P1/2013-Q2", contract_area="Area", contract_title="A national contract",
        contract_version=date(2013, 4, 1), provider_id="P1", provider_name="Provider one", period=period,
        as_of=date(2013, 6, 30), fingerprint="f" * 64, contract_sha256="c" * 64, data_sha256="d" * 64,
        program_version="recoverypbr test", lines=tuple(made), year_to_date=ytd,
        reference_words=tuple(f"Outcome o{i % 7}, group g{i % 3}, £{i % 500}.00 (contract 2013-04-01)"
                              for i in range(lines)),
    )
