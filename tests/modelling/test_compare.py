"""Designs side by side: the same design twice gives the same figures and no differences; one raised tariff is said
in words and costs exactly what its achievements earn at the new price; bad input is refused clearly; the report
opens offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.errors import ContractError
from recoverypbr.modelling.baseline_file import Baseline, Cell, write_baseline
from recoverypbr.modelling.compare import (
    CompareError,
    Comparison,
    Difference,
    compare_designs,
    contract_differences,
    differences_words,
    load_designs,
)
from recoverypbr.modelling.report import external_urls
from recoverypbr.modelling.risk import simulate
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import Warehouse, open_warehouse

CONTRACTS = Path(__file__).parents[2] / "contracts"
MARLSHIRE = CONTRACTS / "marlshire.yaml"
YEAR_ONE = date(2012, 4, 1)
RAISE_PENCE = 5_000  # abstinence, high complexity: £650 -> £700


def raised_tariff(folder: Path) -> Path:
    """Marlshire with one tariff raised: abstinence for the high complexity group from £650 to £700."""
    text = MARLSHIRE.read_text(encoding="utf-8")
    old = "tariffs: {low: 300, medium: 450, high: 650}"
    assert text.count(old) == 1
    path = folder / "raised.yaml"
    path.write_text(text.replace(old, "tariffs: {low: 300, medium: 450, high: 700}"), encoding="utf-8")
    return path


def _baseline(contract: Contract) -> Baseline:
    """A baseline over the area's first contract year, with one cell so that a rate is drawn too."""
    cells = (Cell("abstinence", "high", 200, 70, "0.3500", "0.29", "0.42", "jeffreys", 30, 60, 90, False),)
    return Baseline(contract.area, contract.effective_from, "", YEAR_ONE, date(2013, 3, 31), YEAR_ONE,
                    date(2014, 3, 31), tuple(contract.group_ids), cells, (), ())


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Path]]:
    folder = tmp_path_factory.mktemp("compare-area")
    generate_area(500, 4, folder / "extract", "csv", contract=load_contract(MARLSHIRE))
    db = folder / "area.duckdb"
    run_cli("load", str(folder / "extract"), "--db", str(db))
    with open_warehouse(db, read_only=True) as wh:
        yield wh, folder


@pytest.fixture(scope="module")
def raised(area: tuple[Warehouse, Path]) -> tuple[Comparison, Baseline]:
    wh, folder = area
    baseline = _baseline(load_contract(MARLSHIRE))
    return compare_designs(wh, [MARLSHIRE, raised_tariff(folder)], baseline, 100, 5, years=1), baseline


def test_a_raised_tariff_is_said_in_words(tmp_path: Path) -> None:
    first, second = load_contract(MARLSHIRE), load_contract(raised_tariff(tmp_path))
    differences = contract_differences(first, second)
    assert differences == [Difference("outcomes.abstinence.tariffs.high", "Abstinence, high complexity", "£650",
                                      "£700")]
    assert differences_words(differences, "A", "B") == [
        "outcomes.abstinence.tariffs.high (Abstinence, high complexity): £650 in A, £700 in B"]


def test_differences_say_only_in_and_dated_values_and_stop_at_fifty(tmp_path: Path) -> None:
    text = MARLSHIRE.read_text(encoding="utf-8")
    text = text.replace("floors:\n  subcontractor_quarter:", "floors:\n  prime_quarter:")
    text = text.replace("share_on_results: {2012-04-01: 25%", "share_on_results: {2012-04-01: 20%")
    path = tmp_path / "other.yaml"
    path.write_text(text, encoding="utf-8")
    said = differences_words(contract_differences(load_contract(MARLSHIRE), load_contract(path)), "A", "B")
    assert said == [
        "floors.prime_quarter (Floor: provider P02's quarterly floor (keeps the smaller provider's cash flow "
        "steady)): only in B",
        "floors.subcontractor_quarter (Floor: provider P02's quarterly floor (keeps the smaller provider's cash "
        "flow steady)): only in A",
        "share_on_results (Cap: a contract year's results money (the share of the budget paid on results)): "
        "25% (from 1 April 2013: 30%; from 1 April 2014: 40%) in A, 20% (from 1 April 2013: 30%; from 1 April "
        "2014: 40%) in B"]
    many = [Difference(f"p{i:03d}", "", "1", "2") for i in range(60)]
    assert differences_words(many, "A", "B")[-1] == "and 10 more" and len(differences_words(many, "A", "B")) == 51


def _units(comparison: Comparison) -> int:
    """Achievements of abstinence by high-complexity episodes in design A's year-one template (each is split into
    a line per payee)."""
    lines = comparison.designs[0].templates[0].lines
    return len({(line.episode_id, line.payable_on) for line in lines
                if line.kind == "outcome" and line.outcome_id == "abstinence" and line.complexity_group == "high"})


@pytest.mark.slow
def test_a_raised_tariff_costs_its_achievements_times_the_raise(raised: tuple[Comparison, Baseline]) -> None:
    comparison, baseline = raised
    a, b = comparison.designs
    units = _units(comparison)
    assert units > 0
    # The template (the baseline's own year): earned differs by exactly units x £50, all of it in the high group.
    fixed = [simulate(d.contract, d.templates, baseline, 1, 1, fixed=True) for d in (a, b)]
    assert int(fixed[1].earned.sum() - fixed[0].earned.sum()) == units * RAISE_PENCE
    assert [r["group"] for r in a.per_client][:3] == ["low", "medium", "high"]  # the contract's order
    high = [next(r for r in d.per_client if r["group"] == "high") for d in (a, b)]
    assert (high[1]["earned"] - high[0]["earned"]) * 100 == units * RAISE_PENCE
    assert high[0]["clients"] == high[1]["clients"]
    others = [[r for r in d.per_client if r["group"] != "high"] for d in (a, b)]
    assert others[0] == others[1]
    abstinence = [next(r for r in d.by_outcome if r["item"] == "Abstinence") for d in (a, b)]
    assert (abstinence[1]["earned"] - abstinence[0]["earned"]) * 100 == units * RAISE_PENCE
    # Common random numbers: each run draws the same achievements under both designs, so each run's earned
    # difference is the raise times the high abstinences it drew, never less than nothing.
    difference = b.result.earned.sum(axis=1) - a.result.earned.sum(axis=1)
    assert (difference >= 0).all() and (difference % RAISE_PENCE == 0).all() and difference.max() > 0
    assert abs(difference.mean() / RAISE_PENCE - units) < 0.35 * units
    # Where no limit acts in a run under either design, its spend rises by its earned difference to the penny;
    # where the subcontractor's floor tops up, the raise partly replaces the top-up: never more, never less than 0.
    spend = b.result.paid.sum(axis=(1, 2)) - a.result.paid.sum(axis=(1, 2))
    calm = ~(a.result.acted.any(axis=(1, 2)) | b.result.acted.any(axis=(1, 2)))
    assert calm.sum() > a.result.runs / 2
    assert np.array_equal(spend[calm], difference[calm])
    assert ((spend >= 0) & (spend <= difference)).all()
    assert b.summary.years[0]["mean"] > a.summary.years[0]["mean"]


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(CompareError, match="at least two contract files") as error:
        load_designs([MARLSHIRE])
    assert "A.yaml B.yaml" in error.value.hint
    with pytest.raises(CompareError, match="same baseline cannot serve both"):
        load_designs([MARLSHIRE, CONTRACTS / "kent.yaml"])
    not_a_contract = tmp_path / "notes.yaml"
    not_a_contract.write_text("shopping: [milk, bread]\n", encoding="utf-8")
    with pytest.raises(ContractError):
        load_designs([MARLSHIRE, not_a_contract])


def test_two_pilots_differences_read_cleanly() -> None:
    differences = contract_differences(load_contract(MARLSHIRE), load_contract(CONTRACTS / "worcestershire.yaml"))
    said = differences_words(differences, "A", "B")
    assert len(differences) > 50 and said[-1] == f"and {len(differences) - 50} more"
    assert "attachment_fees: only in A" in said and "caps: only in A" in said and "funnels: only in B" in said
    assert [d.path for d in differences] == sorted(d.path for d in differences)
    assert not any(", ," in line or "  " in line for line in said)


@pytest.mark.slow
def test_the_same_design_twice_gives_identical_figures_no_differences_and_an_offline_report(
    area: tuple[Warehouse, Path], tmp_path: Path
) -> None:
    wh, _ = area
    write_baseline(_baseline(load_contract(MARLSHIRE)), tmp_path / "baseline")
    out = run_cli("model", "compare", str(MARLSHIRE), str(MARLSHIRE), "--baseline", str(tmp_path / "baseline"),
                  "--db", str(wh.path), "--runs", "60", "--seed", "2", "--years", "1", "--out", str(tmp_path / "c"))
    assert "Designs side by side: 60 runs each, seed 2" in out
    assert "A: marlshire.yaml" in out and "B: marlshire.yaml" in out and "P(over results money)" in out
    assert "No differences: A and B are the same design." in out
    figures = json.loads((tmp_path / "c" / "compare.json").read_text(encoding="utf-8"))
    tables = {s["heading"]: s["table"]["rows"] for s in figures["sections"]}
    assert tables["What changed between the files"] == [
        {"from": "A", "to": "B", "difference": "No differences: A and B are the same design."}]
    for heading in ("Expected spend by contract year", "Expected payment per client by complexity group",
                    "Share of money by outcome"):
        rows = [{k: v for k, v in row.items() if k != "design"} for row in tables[heading]]
        assert rows[: len(rows) // 2] == rows[len(rows) // 2:] and rows, heading
    assert tables["Providers' cash flow: design A"] == tables["Providers' cash flow: design B"]
    html = (tmp_path / "c" / "compare.html").read_text(encoding="utf-8")
    assert external_urls(html) == [] and html.count("<svg") == 5
    assert len(list((tmp_path / "c").glob("compare_*.csv"))) == 6
