"""Spend risk: a run that draws nothing pays what `pay` pays, to the penny; runs are reproducible; the shortcut
that skips the engine's limits never skips a run they would change; bad input is refused clearly."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.modelling.baseline_file import Baseline, Cell
from recoverypbr.modelling.risk import (
    RiskError,
    _needs_engine,
    _price_run,
    _rules,
    _screen,
    model_risk,
    prepare_year,
    simulate,
    summarise,
)
from recoverypbr.modelling.template import YearTemplate, year_template
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import price_up_to, schedule
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import Warehouse, open_warehouse

MARLSHIRE = Path(__file__).parents[2] / "contracts" / "marlshire.yaml"
YEAR_ONE = date(2012, 4, 1)


def tight_contract(folder: Path) -> Path:
    """Marlshire with a cap and a floor that bite on a 600-client area: the yearly cap at £60,000 and the
    subcontractor's quarterly floor at £6,000."""
    text = MARLSHIRE.read_text(encoding="utf-8")
    text = text.replace("amount: {2012-04-01: 1000000, 2013-04-01: 1200000, 2014-04-01: 1600000}",
                        "amount: {2012-04-01: 60000, 2013-04-01: 60000, 2014-04-01: 60000}")
    text = text.replace("amount: 5000\n", "amount: 6000\n")
    assert "60000" in text and "6000\n" in text
    path = folder / "tight.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def area_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600-client area shaped for Marlshire, loaded (no connection left open)."""
    folder = tmp_path_factory.mktemp("risk-area")
    contract = load_contract(MARLSHIRE)
    generate_area(600, 4, folder / "extract", "csv", contract=contract)
    db = folder / "area.duckdb"
    run_cli("load", str(folder / "extract"), "--db", str(db))
    # A copy no test opens for writing, for the command to open read-only (and its child processes with it).
    shutil.copyfile(db, folder / "read-only.duckdb")
    return db


@pytest.fixture(scope="module")
def area(area_db: Path) -> Iterator[tuple[Warehouse, Path]]:
    """The area open for writing (pricing stores the ledger), and its folder."""
    with open_warehouse(area_db) as wh:
        yield wh, area_db.parent


def _baseline(contract: Contract, cells: tuple[Cell, ...] = ()) -> Baseline:
    return Baseline(contract.area, contract.effective_from, "", YEAR_ONE, date(2013, 3, 31), YEAR_ONE,
                    date(2014, 3, 31), tuple(contract.group_ids), cells, (), ())


def _pay_by_period(wh: Warehouse, contract: Contract, year: Period) -> dict[str, dict[str, int]]:
    """What `pay` pays each provider in each period of the year, as of the year's last day."""
    periods = [q for q in schedule(contract) if year.start <= q.start <= year.end]
    priced = price_up_to(wh, contract, periods[-1], year.end)
    return {q.label: priced.payments[q.label].by_provider for q in periods}


@pytest.mark.slow
@pytest.mark.parametrize("tight", [False, True], ids=["marlshire", "tight-cap-and-floor"])
def test_a_run_that_draws_nothing_pays_what_pay_pays(area: tuple[Warehouse, Path], tight: bool) -> None:
    wh, folder = area
    contract = load_contract(tight_contract(folder) if tight else MARLSHIRE)
    template = year_template(wh, contract, YEAR_ONE, 0)
    paid = _pay_by_period(wh, contract, template.year)
    assert sum(sum(p.values()) for p in paid.values()) > 0
    for resolution in ("day", "month"):
        result = simulate(contract, [template], _baseline(contract), 3, seed=1, fixed=True, resolution=resolution)
        for r in range(3):
            for i, q in enumerate(result.periods):
                assert int(result.paid[r, i].sum()) == sum(paid[q.label].values()), (resolution, q.label)
        if resolution == "day":
            by_provider = {q.label: {p: int(result.paid[0, i, k]) for k, p in enumerate(result.providers)
                                     if result.paid[0, i, k]} for i, q in enumerate(result.periods)}
            assert by_provider == {label: {p: a for p, a in found.items() if a} for label, found in paid.items()}
        if tight:
            assert result.engine_runs == 3
            acted = dict(zip(result.limits, result.acted[0, 0], strict=True))
            assert acted["caps.overall_year"] and acted["floors.subcontractor_quarter"]


@pytest.fixture(scope="module")
def tight_template(area: tuple[Warehouse, Path]) -> tuple[Contract, YearTemplate]:
    wh, folder = area
    contract = load_contract(tight_contract(folder))
    return contract, year_template(wh, contract, YEAR_ONE, 0)


@pytest.mark.slow
def test_runs_are_reproducible_and_vary(tight_template: tuple[Contract, YearTemplate]) -> None:
    contract, template = tight_template
    cells = (Cell("abstinence", "low", 200, 50, "0.2500", "0.19", "0.31", "jeffreys", 30, 60, 90, False),)
    a = simulate(contract, [template], _baseline(contract, cells), 300, seed=7)
    b = simulate(contract, [template], _baseline(contract, cells), 300, seed=7)
    c = simulate(contract, [template], _baseline(contract, cells), 300, seed=8)
    assert np.array_equal(a.paid, b.paid) and np.array_equal(a.acted, b.acted)
    assert not np.array_equal(a.paid, c.paid)
    earned = a.earned.sum(axis=1)
    assert earned.min() < earned.max()
    # The yearly cap of £60,000 holds in every run (its floors fit inside it), and binds in most.
    spend = a.paid.sum(axis=(1, 2))
    assert spend.max() <= 6_000_000 and (spend == 6_000_000).mean() > 0.5
    summary = summarise(a)
    assert summary.years[0]["p95"] == 60000
    assert {r["limit"] for r in summary.limits} >= {"caps.overall_year", "share_on_results"}


@pytest.mark.slow
@settings(max_examples=60)
@given(data=st.data())
def test_a_run_the_shortcut_skips_gets_no_line_from_the_limits(
    tight_template: tuple[Contract, YearTemplate], data: st.DataObject
) -> None:
    contract, template = tight_template
    prep = prepare_year(template, contract, None, "month")
    screen = _screen(contract, _rules(contract), prep.buckets, template.year)
    scale = data.draw(st.sampled_from([0, 1, 2, 5, 20, 100, 400]))
    amounts = np.array([data.draw(st.integers(0, 1000 * scale)) * 100 for _ in prep.buckets], dtype=np.int64)
    if _needs_engine(screen, amounts[None, :])[0]:
        return
    earned = np.zeros((len(template.periods), 0))
    paid, acted = _price_run(contract, [template], prep.buckets, np.array([0, len(prep.buckets)]), amounts,
                             list(template.periods), {p: i for i, p in enumerate(
                                 sorted({b.provider_id for b in prep.buckets} | {"P01", "P02"}))},
                             [rule.path for rule in _rules(contract)])
    assert not acted.any() and earned.size == 0
    assert int(paid.sum()) == int(amounts.sum())


def test_bad_input_is_refused_clearly(area: tuple[Warehouse, Path]) -> None:
    wh, _ = area
    contract = load_contract(MARLSHIRE)
    with pytest.raises(RiskError, match="at least 1"):
        model_risk(wh, contract, _baseline(contract), 0, 1)
    with pytest.raises(RiskError, match="between 1 and 3"):
        model_risk(wh, contract, _baseline(contract), 10, 1, years=4)
    other = Baseline("Elsewhere", contract.effective_from, "", YEAR_ONE, date(2013, 3, 31), YEAR_ONE,
                     date(2014, 3, 31), (), (), (), ())
    with pytest.raises(RiskError, match="made for Elsewhere"):
        model_risk(wh, contract, other, 10, 1)


@pytest.mark.slow
def test_the_command_writes_a_report_that_opens_offline(area_db: Path, tmp_path: Path) -> None:
    from recoverypbr.modelling.baseline_file import write_baseline
    from recoverypbr.modelling.report import external_urls

    contract = load_contract(MARLSHIRE)
    write_baseline(_baseline(contract), tmp_path / "baseline")
    # Two years: the command opens the warehouse read-only and makes the years' templates in child processes.
    db = area_db.parent / "read-only.duckdb"
    out = run_cli("model", "risk", "--contract", str(MARLSHIRE), "--baseline", str(tmp_path / "baseline"),
                  "--db", str(db), "--runs", "200", "--seed", "3", "--years", "2", "--out", str(tmp_path / "r"))
    assert "Spend by contract year: 200 runs, seed 3" in out
    assert re.search(r"year 1 .* year 2 ", out) and "P(over)" in out
    html = (tmp_path / "r" / "risk.html").read_text(encoding="utf-8")
    assert external_urls(html) == [] and "<svg" in html
    doc = json.loads((tmp_path / "r" / "risk.json").read_text(encoding="utf-8"))
    assert "Spend by contract year" in json.dumps(doc)
