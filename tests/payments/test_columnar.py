"""Pricing in columns (issue 15): a period's lines held as Arrow tables (`lines.ArrowLines`), summed in Arrow, and the
queries of many periods asked once and taken period by period (`pipeline.DatedPricing`), give exactly what the
line-by-line forms give."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.ledger import cohort_measures
from recoverypbr.payments.limits import EarlierKey, earlier_paid, summed, summed_table
from recoverypbr.payments.lines import (
    KIND_ORDER,
    ArrowLines,
    PaymentLine,
    earned_order,
    lines_from_arrow,
    lines_table,
    sorted_earned,
    total,
    total_pence,
)
from recoverypbr.payments.pipeline import dated_pricing, pay_period, payment_inputs, period_ledger
from recoverypbr.payments.run import _pricing_inputs, price_up_to, schedule
from recoverypbr.payments.splits import split_lines
from recoverypbr.warehouse.connection import open_warehouse

ROOT = Path(__file__).parents[2]

words = st.sampled_from(["", "P1", "P2", "é", "a b", "Z"])
line = st.builds(
    PaymentLine,
    kind=st.sampled_from(sorted(KIND_ORDER)),
    provider_id=st.sampled_from(["P1", "P2", "SUB"]),
    reference=st.sampled_from(["outcomes.x.tariffs.all", "outcomes.y.tariffs.high@2013-04-01", "caps.c.amount"]),
    amount_pence=st.integers(-10**9, 10**9),
    payable_on=st.dates(dt.date(2012, 4, 1), dt.date(2015, 3, 31)),
    client_id=st.none() | words,
    episode_id=st.none() | words,
    outcome_id=st.none() | st.sampled_from(["x", "y"]),
    evidence=words,
    whole_pence=st.none() | st.integers(0, 10**6),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(line, max_size=40))
def test_lines_in_arrow_are_the_same_lines_and_sums(lines: list[PaymentLine]) -> None:
    table = lines_table(lines)
    assert lines_from_arrow(table) == lines
    assert ArrowLines(table) == lines and len(ArrowLines(table)) == len(lines)
    assert total_pence(ArrowLines(table)) == total(lines)
    assert summed_table(table) == summed(lines)


@settings(max_examples=60, deadline=None)
@given(st.lists(line, max_size=40))
def test_earned_lines_sort_as_python_sorts_them(lines: list[PaymentLine]) -> None:
    assert lines_from_arrow(sorted_earned(lines_table(lines))) == sorted(lines, key=earned_order)


def _area(name: str, clients: int, seed: int, tmp_path: Path) -> tuple[Contract, Path]:
    """An example contract and a warehouse loaded with an area made for it (`synth --contract`)."""
    file = ROOT / "contracts" / f"{name}.yaml"
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    for args in (["synth", "--contract", str(file), "--clients", str(clients), "--seed", str(seed), "--out",
                  str(tmp_path / "a")],
                 ["load", str(tmp_path / "a"), "--db", str(db)]):
        assert runner.invoke(app, args).exit_code == 0
    return load_contract(file), db


def _unordered(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(r.items())) for r in rows)


def test_a_span_of_periods_asked_once_gives_each_period_what_asking_for_it_alone_gives(tmp_path: Path) -> None:
    contract, db = _area("marlshire", 400, 5, tmp_path)
    periods = [q for q in schedule(contract) if q.start >= dt.date(2013, 4, 1)][:4]
    with open_warehouse(db) as wh:
        setup = _pricing_inputs(wh, contract, periods[-1], periods[-1].end)
        span = type(periods[0])(periods[0].start, periods[-1].end, "span")
        whole = dated_pricing(wh, setup["covered"], contract, span, inputs=setup["inputs"])
        seen = 0
        for q in periods:
            alone = dated_pricing(wh, setup["covered"], contract, q, inputs=setup["inputs"])
            taken = whole.within(q)
            for name in ("outcomes", "fees", "incentives"):
                assert getattr(taken, name).equals(getattr(alone, name)), (q.label, name)
            for name in ("unpriced", "outside", "unpaid"):
                assert _unordered(getattr(taken, name)) == _unordered(getattr(alone, name)), (q.label, name)
            seen += taken.outcomes.num_rows + taken.fees.num_rows
        assert seen > 0
        assert whole.outcomes.num_rows + whole.fees.num_rows == seen


@pytest.mark.parametrize("area", ["wigan", "marlshire"])
def test_pricing_a_run_of_periods_pays_what_pricing_each_on_the_whole_ledger_pays(area: str, tmp_path: Path) -> None:
    """`price_up_to` (the ledger rows pricing reads, the dated queries asked once for every period, lines in Arrow)
    pays each period what `pay_period` pays on the whole ledger, period by period with what the ones before paid.
    Wigan pays on a cohort basis (its not-achieved rows count); Marlshire has fees, splits, caps and floors."""
    contract, db = _area(area, 500, 2, tmp_path)
    year = contract.years[0]
    last = [q for q in schedule(contract) if q.end <= year.end][-1]
    with open_warehouse(db) as wh:
        priced = price_up_to(wh, contract, last, year.end)
        ledger = period_ledger(wh, contract, year.end)
        inputs = payment_inputs(wh, year.end)
        cohort = cohort_measures(wh, contract, year.end)
        earlier: dict[EarlierKey, int] = {}
        paid = 0
        for q in priced.periods:
            alone = pay_period(wh, ledger, contract, q, earlier=dict(earlier), inputs=inputs, cohort=cohort)
            got = priced.payments[q.label]
            assert list(got.lines) == list(alone.lines), q.label
            assert _unordered(got.unpriced) == _unordered(alone.unpriced), q.label
            for key, amount in earlier_paid(alone.lines, contract).items():
                earlier[key] = earlier.get(key, 0) + amount
            paid += abs(alone.total_pence)
        assert paid > 0


def test_a_line_that_cannot_be_split_is_refused_not_dropped() -> None:
    contract = load_contract(ROOT / "contracts" / "marlshire.yaml")
    broken = PaymentLine("outcome", "P01", "r", None, dt.date(2013, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="could not be split"):
        split_lines([broken], contract)
    assert split_lines([], contract) == []
