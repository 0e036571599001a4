"""Tables the CLI prints, read in an 80-column terminal or a pipe (issue 11, defect 11): nothing is cut, the
contract's results money is not shown as if each provider had it, and every placeholder says what it means."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator

import pytest
from rich.console import Console

import recoverypbr._console
import recoverypbr.cli
import recoverypbr.outcomes.cli
import recoverypbr.payments.cli
from recoverypbr.outcomes.cli import _print_counts
from recoverypbr.payments.cli import print_summary
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.periods import Period
from recoverypbr.payments.statements import Statement, YearToDate

MODULES = (recoverypbr._console, recoverypbr.cli, recoverypbr.outcomes.cli, recoverypbr.payments.cli)


@pytest.fixture()
def screen(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the commands print, on an 80-column console that is not a terminal (as in a pipe)."""
    out = io.StringIO()
    narrow = Console(file=out, width=80, force_terminal=False, color_system=None)
    for module in MODULES:
        monkeypatch.setattr(module, "console", narrow)
    yield out


def _statement(provider: str, period_pence: int, year_pence: int) -> Statement:
    period = Period(dt.date(2013, 4, 1), dt.date(2013, 6, 30), "2013-Q2")
    line = PaymentLine(kind="outcome", provider_id=provider, reference="outcomes.x.tariffs.all",
                       amount_pence=period_pence, payable_on=dt.date(2013, 6, 30))
    ytd = YearToDate("2013-14", dt.date(2013, 4, 1), dt.date(2014, 3, 31), 400_000_000, "25%", 100_000_000,
                     (("2013-Q1", "approved", year_pence - period_pence), ("2013-Q2", "this statement", period_pence)))
    return Statement(
        statement_id=f"Area/2013-04-01/{provider}/2013-Q2", contract_area="Area", contract_title="Title",
        contract_version=dt.date(2013, 4, 1), provider_id=provider, provider_name=provider, period=period,
        as_of=dt.date(2013, 6, 30), fingerprint="f" * 64, contract_sha256="c" * 64, data_sha256="d" * 64,
        program_version="test", lines=(line,), year_to_date=ytd,
    )


MADE = [
    _statement("WOR_ADULT_DRUGS_SERVICE", 12_345_678, 34_567_890),
    _statement("WOR_ADULT_ALCOHOL_SERVICE", 987_654, 1_987_654),
]


def _rows(text: str) -> list[str]:
    """The table's body rows (lines between the box's side borders holding a provider)."""
    return [line for line in text.splitlines() if line.startswith("│")]


def test_the_payments_table_shows_the_contracts_results_money_once(screen: io.StringIO) -> None:
    print_summary(MADE, "Area payments for 2013-Q2, written to somewhere/with/a/long/folder/name")
    text = screen.getvalue()
    assert "1,000,000.00" not in "\n".join(_rows(text)), "results money repeated on a provider's row"
    assert text.count("£1,000,000.00 for the whole contract") == 1
    # Each provider's own figures, whole: this period, paid this year, and its share of the results money.
    for figure in ("123,456.78", "345,678.90", "9,876.54", "19,876.54", "34.6%", "2.0%"):
        assert figure in text, figure


def test_the_payments_table_is_not_cut_at_80_columns(screen: io.StringIO) -> None:
    print_summary(MADE, "Area payments for 2013-Q2")
    text = screen.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    words = " ".join(text.split())
    for provider in ("WOR_ADULT_DRUGS_SERVICE", "WOR_ADULT_ALCOHOL_SERVICE"):
        assert provider in re.sub(r"[│┃ ]", "", text) or provider in words


def test_the_outcomes_table_is_not_cut_and_says_what_no_group_means(screen: io.StringIO) -> None:
    counts = [
        {"outcome_id": "sustained_and_planned_discharge_adult_drugs", "complexity_group": group, "achieved": 1234,
         "pending_maturation": 56_789, "not_achieved": 12_345, "not_eligible": 123_456, "rate": 0.4921}
        for group in ("high", None)
    ]
    _print_counts(counts, "Worcestershire outcomes as of 2013-03-31 (1,234,567 ledger rows)")
    text = screen.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for figure in ("49.2%", "56,789", "123,456", "1,234"):
        assert figure in text, figure
    assert "(none)" not in text
    assert "no group = the client had no assessment on or before the episode's start" in " ".join(text.split())


def test_a_table_too_wide_for_the_terminal_is_printed_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(recoverypbr._console, "console", Console(file=out, width=40, color_system=None))
    counts = [{"outcome_id": "sustained_and_planned_discharge", "complexity_group": None, "achieved": 1,
               "pending_maturation": 2, "not_achieved": 3, "not_eligible": 4, "rate": 0.25}]
    _print_counts(counts, "Outcomes")
    text = out.getvalue()
    assert "…" not in text
    assert "outcome: sustained_and_planned_discharge" in text
    assert "  group: no group" in text and "  rate: 25.0%" in text


def test_an_outcome_id_folds_whole_rather_than_being_cut(screen: io.StringIO) -> None:
    counts = [{"outcome_id": "an_outcome_with_an_uncommonly_long_identifier", "complexity_group": "high",
               "achieved": 1, "pending_maturation": 2, "not_achieved": 3, "not_eligible": 4, "rate": 0.25}]
    _print_counts(counts, "Outcomes")
    text = screen.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("─")) + 1 :]
    first_column = "".join(line.split()[0] for line in body if not line.startswith("rate ="))
    assert first_column.startswith("an_outcome_with_an_uncommonly_long_identifier")
