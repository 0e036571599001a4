"""Tariffs solved to the budget: golden designs worked by hand, the constraints' errors, and (slow) the acceptance
test: the solved tariffs, paid by the real engine over the shifted baseline year, spend the results money within 1%."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import run_cli, squashed
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract.load import check_text, load_contract
from recoverypbr.contract.types import tariff_on
from recoverypbr.modelling.baseline_file import Baseline, Flow, Stock, write_baseline
from recoverypbr.modelling.shift import shift_for, shifted_warehouse
from recoverypbr.modelling.tariffs import (
    Counts,
    Design,
    InfeasibleDesign,
    Problem,
    TariffsError,
    check_domain_weights,
    design_from,
    draft_contract,
    draft_text,
    solve,
    solve_tariffs,
    solved_outcomes,
)
from recoverypbr.payments.run import price_up_to, schedule
from recoverypbr.warehouse.connection import open_warehouse

MARLSHIRE = Path(__file__).parents[2] / "contracts" / "marlshire.yaml"
D = Decimal


def _problem(units: dict[tuple[str, str], int], groups: tuple[str, ...], clients: dict[str, int] | None = None,
             domains: dict[str, str] | None = None, stages: dict[str, str] | None = None) -> Problem:
    outcomes = sorted({o for o, _ in units})
    return Problem(groups, domains or dict.fromkeys(outcomes, "free_from_dependence"),
                   stages or dict.fromkeys(outcomes, "final"), {c: D(n) for c, n in units.items()},
                   dict.fromkeys(units, D(1)), {g: D(n) for g, n in (clients or {}).items()})


def test_golden_group_ratio_and_outcome_weights() -> None:
    # 60% of £10,000 on abstinence: 10 low + 5 high achievements, high earns 2x low: a = 6000 / (10 + 5 x 2) = 300,
    # so £300 and £600 (10 x 300 + 5 x 600 = 6,000). Completion: 4 low + 2 high: 4000 / (4 + 2 x 2) = 500 -> £500
    # and £1,000.
    p = _problem({("abstinence", "low"): 10, ("abstinence", "high"): 5, ("completion", "low"): 4,
                  ("completion", "high"): 2}, ("low", "high"))
    design = Design(outcomes={"abstinence": D("0.6"), "completion": D("0.4")}, group_ratio=D(2))
    s = solve(p, design, D(10000))
    assert s.tariffs == {("abstinence", "low"): D(300), ("abstinence", "high"): D(600),
                         ("completion", "low"): D(500), ("completion", "high"): D(1000)}
    assert s.spend == D(10000) and s.residual == 0


def test_golden_equal_earnings_per_client() -> None:
    # 100 low and 50 high clients share £3,000 equally (£20 each): low's £2,000 over 20 achievements is £100, high's
    # £1,000 over 5 is £200.
    p = _problem({("abstinence", "low"): 20, ("abstinence", "high"): 5}, ("low", "high"), {"low": 100, "high": 50})
    s = solve(p, Design(equal_earnings=True), D(3000))
    assert s.tariffs == {("abstinence", "low"): D(100), ("abstinence", "high"): D(200)}


def test_golden_domains_and_interim_split() -> None:
    # Free from dependence 80% of £10,000 = £8,000, a quarter on interim: abstinence £2,000 / 10 = £200, completion
    # £6,000 / 20 = £300. Health 20% = £2,000 has no interim outcome, so quality of life takes it all: / 4 = £500.
    p = _problem({("abstinence", "all"): 10, ("completion", "all"): 20, ("quality_of_life", "all"): 4}, ("all",),
                 domains={"abstinence": "free_from_dependence", "completion": "free_from_dependence",
                          "quality_of_life": "health_wellbeing"},
                 stages={"abstinence": "interim", "completion": "final", "quality_of_life": "final"})
    design = design_from({"domains": {"free_from_dependence": "80%", "health_wellbeing": "20%"},
                          "interim_share": "25%"})
    s = solve(p, design, D(10000))
    assert s.tariffs == {("abstinence", "all"): D(200), ("completion", "all"): D(300),
                         ("quality_of_life", "all"): D(500)}


def test_rounding_to_pounds_leaves_a_residual() -> None:
    # £1,000 over 3 achievements: £333.33... -> £333, so £1 is left.
    s = solve(_problem({("abstinence", "all"): 3}, ("all",)), Design(), D(1000))
    assert s.tariffs[("abstinence", "all")] == D(333) and s.residual == D(1)
    assert solve(_problem({("abstinence", "all"): 3}, ("all",)), Design(round_to="penny"), D(1000)).residual \
        == D("0.01")


def test_outcome_with_money_but_no_achievements_conflicts() -> None:
    p = _problem({("abstinence", "all"): 0, ("completion", "all"): 5}, ("all",))
    with pytest.raises(InfeasibleDesign, match=re.escape("abstinence is given 5,000.00 pounds but no achievement")):
        solve(p, Design(outcomes={"abstinence": D("0.5"), "completion": D("0.5")}), D(10000))


def _marlshire_problem() -> Problem:
    c = load_contract(MARLSHIRE)
    units = {(o, g): D(5) for o in c.outcomes for g in c.group_ids}
    return Problem(tuple(c.group_ids), {o: c.outcomes[o].domain for o in c.outcomes},
                   {o: c.outcomes[o].stage for o in c.outcomes}, units, dict.fromkeys(units, D(1)))


def test_reliable_change_forced_above_20_percent_is_refused_by_the_contract_rule() -> None:
    c = load_contract(MARLSHIRE)
    ffd = {"reliable_change": "90%", "abstinence": "4%", "successful_completion": "3%", "no_representation": "3%"}
    s = solve(_marlshire_problem(), design_from({"outcomes": ffd}), D(100000))
    by_outcome: dict[str, dict[str, Decimal]] = {}
    for (o, g), t in s.tariffs.items():
        by_outcome.setdefault(o, {})[g] = t
    text = draft_text(MARLSHIRE.read_text(encoding="utf-8"), c, by_outcome, {}, date(2013, 4, 1))
    with pytest.raises(InfeasibleDesign, match=r"reliable change carries .* at most 20%.*reliable_change_share"):
        draft_contract(text, validated=True)


def test_draft_keeps_the_file_and_dates_the_new_tariffs() -> None:
    c = load_contract(MARLSHIRE)
    text = MARLSHIRE.read_text(encoding="utf-8")
    draft = draft_text(text, c, {"abstinence": {"low": D(310), "medium": D(460), "high": D(700)}}, {},
                       date(2013, 4, 1), header="# solved\n")
    new, report = check_text(draft)
    assert report.ok and new is not None
    assert new.effective_from == date(2013, 4, 1)
    assert new.outcomes["abstinence"].tariffs["high"] == {date(2012, 4, 1): D(650), date(2013, 4, 1): D(700)}
    assert draft.count("\n") == text.count("\n") + 1 and "# Marlshire: the synthetic area" in draft
    changed = [(a, b) for a, b in zip(text.splitlines(), draft.splitlines()[1:], strict=True) if a != b]
    assert len(changed) == 2  # effective_from and abstinence's tariffs, nothing else


def test_domain_weights_left_to_fixed_money_conflict_and_say_what_fits() -> None:
    # Bracknell Forest: year two's results money is £360,000; offending (40%) is paid by a cohort amount, so the
    # tariffs can spend at most free from dependence's 45% (£162,000) and health's 15% (£54,000): £216,000.
    c = load_contract(MARLSHIRE.parent / "bracknell-forest.yaml")
    solved = solved_outcomes(c)
    units = {(o, g): D(5) for o in solved for g in c.group_ids}
    p = Problem(tuple(c.group_ids), {o: c.outcomes[o].domain for o in solved}, {o: c.outcomes[o].stage for o in solved},
                units, dict.fromkeys(units, D(1)), {}, {str(d): w for d, w in c.weights.items()})
    s = solve(p, Design(), D(360000))
    with pytest.raises(InfeasibleDesign) as found:
        check_domain_weights(c, s, c.at_risk(date(2013, 4, 1)), Counts({}, {}), D(360000))
    assert "free from drug(s) of dependence domain is given 270,000.00 pounds, above its weight (45% of " \
           "360,000.00 = 162,000.00 pounds)" in found.value.message
    assert "reduced offending 40%" in found.value.hint and "--results-money 216000.00 or less" in found.value.hint
    fits = solve(p, Design(), D(216000))
    check_domain_weights(c, fits, c.at_risk(date(2013, 4, 1)), Counts({}, {}), D(216000))


EXAMPLES = sorted((Path(__file__).parents[2] / "contracts").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_contract_takes_a_draft_that_passes_contract_check(path: Path) -> None:
    # Whatever the file's layout (flow or block tables, dated values, stock tariffs), the draft keeps every other
    # field and gives exactly the tariffs asked for from effective_from, the earlier values before it.
    c = load_contract(path)
    solved = solved_outcomes(c)
    since = date(2013, 4, 1) if any(y.start == date(2013, 4, 1) for y in c.years[1:]) else c.start
    asked = {o: {g: D(2) * (tariff_on(c.outcomes[o].tariffs, g, since) or D(0)) + 1 for g in c.group_ids}
             for o in solved}
    draft, report = check_text(draft_text(path.read_text(encoding="utf-8"), c, asked, {}, since))
    assert draft is not None and report.ok, report.problems
    assert draft.effective_from == since
    for o in solved:
        for g in c.group_ids:
            assert tariff_on(draft.outcomes[o].tariffs, g, since) == asked[o][g]
            assert since == c.start or tariff_on(draft.outcomes[o].tariffs, g, c.start) == tariff_on(
                c.outcomes[o].tariffs, g, c.start)
    same = {"effective_from", "outcomes"}
    assert draft.model_dump(exclude=same) == c.model_dump(exclude=same)
    tables = {"tariffs", "stock_tariffs"}
    assert all(draft.outcomes[o].model_dump(exclude=tables) == c.outcomes[o].model_dump(exclude=tables)
               for o in c.outcomes)


def test_design_errors_are_clear() -> None:
    with pytest.raises(TariffsError, match="unknown key"):
        design_from({"group_ration": 2})
    with pytest.raises(TariffsError, match="both group_ratio and equal_earnings"):
        design_from({"group_ratio": 2, "equal_earnings": True})
    with pytest.raises(TariffsError, match="not a share"):
        design_from({"interim_share": "lots"})
    with pytest.raises(TariffsError, match=r"outcome\(s\) abstinance, which have no tariffs to solve"):
        solve(_problem({("abstinence", "all"): 3}, ("all",)), design_from({"outcomes": {"abstinance": 1}}), D(10))
    with pytest.raises(TariffsError, match="shares for abstinence but not completion"):
        solve(_problem({("abstinence", "all"): 3, ("completion", "all"): 1}, ("all",)),
              design_from({"outcomes": {"abstinence": "50%"}}), D(10))


def _baseline(contract_area: str = "Marlshire (synthetic)") -> Baseline:
    groups = ("low", "medium", "high")
    return Baseline(contract_area, date(2012, 4, 1), "-", date(2010, 4, 1), date(2011, 3, 31), date(2012, 4, 1),
                    date(2012, 3, 31), groups, (),
                    tuple(Flow(f"2010-{m:02d}", g, 4) for m in range(4, 13) for g in groups),
                    (Stock("low", 20), Stock("medium", 30), Stock("high", 25)))


def test_no_tariffs_to_solve(tmp_path: Path) -> None:
    text = re.sub(r"\n    tariffs: \{[^}]*\}", "", MARLSHIRE.read_text(encoding="utf-8"))
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TariffsError, match="no tariffs to solve"):
        solve_tariffs(None, tmp_path / "c.yaml", _baseline())  # type: ignore[arg-type]  # not reached


def test_results_money_above_the_caps_names_them() -> None:
    with pytest.raises(InfeasibleDesign) as found:
        solve_tariffs(None, MARLSHIRE, _baseline(), results_money=D(2000000))  # type: ignore[arg-type]
    assert "above the share on results (1,200,000.00 pounds" in found.value.message
    assert "above caps.overall_year (1,200,000.00 pounds a year)" in found.value.message


def test_cli_reports_an_infeasible_design(tmp_path: Path) -> None:
    open_warehouse(tmp_path / "w.duckdb").close()
    write_baseline(_baseline(), tmp_path / "baseline")
    result = CliRunner().invoke(app, ["model", "tariffs", "--contract", str(MARLSHIRE), "--baseline",
                                      str(tmp_path / "baseline"), "--db", str(tmp_path / "w.duckdb"),
                                      "--results-money", "5000000", "--out", str(tmp_path / "draft.yaml")])
    assert result.exit_code == 2
    assert "the design cannot hold" in " ".join(result.output.split())
    assert not (tmp_path / "draft.yaml").exists()


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recoverypbr import load_extract
    from recoverypbr.synth import generate_area

    folder = tmp_path_factory.mktemp("tariffs")
    generate_area(400, 3, folder / "area", contract=load_contract(MARLSHIRE))
    with open_warehouse(folder / "w.duckdb") as wh:
        load_extract(wh, folder / "area")
    return folder / "w.duckdb"


@pytest.mark.slow
def test_solved_tariffs_spend_the_results_money_in_a_real_pay(area: Path, tmp_path: Path) -> None:
    # The command solves; the check is independent: the draft contract, read back, paid by price_up_to over the
    # baseline year moved onto the contract's first year, spends the results money within 1%.
    baseline = _baseline()
    write_baseline(baseline, tmp_path / "baseline")
    (tmp_path / "design.yaml").write_text("group_ratio: 2\n", encoding="utf-8")
    shown = run_cli("model", "tariffs", "--contract", str(MARLSHIRE), "--baseline", str(tmp_path / "baseline"),
                    "--db", str(area), "--design", str(tmp_path / "design.yaml"), "--results-money", "250000",
                    "--effective-from", "2012-04-01", "--out", str(tmp_path / "draft.yaml"))
    assert "Tariffs from 2012-04-01" in shown and "tariffs-report.md" in squashed(shown)
    draft, report = check_text((tmp_path / "draft.yaml").read_text(encoding="utf-8"))
    assert draft is not None and report.ok, report.problems
    year = draft.years[0]
    with open_warehouse(area, read_only=True) as wh, \
            shifted_warehouse(wh, shift_for(baseline.window_from, draft), draft) as copy:
        periods = [q for q in schedule(draft) if q.end <= year.end]
        priced = price_up_to(copy, draft, periods[-1], year.end)
    paid = Decimal(sum(line.amount_pence for q in periods for line in priced.payments[q.label].lines)) / 100
    assert abs(paid - D(250000)) <= D(2500), paid
    for outcome in ("abstinence", "successful_completion"):
        tariffs = draft.outcomes[outcome].tariffs
        assert abs(tariffs["high"][date.min] - 2 * tariffs["low"][date.min]) <= 1  # the ratio, to the pound
    written = (tmp_path / "tariffs-report.md").read_text(encoding="utf-8")
    from recoverypbr.modelling.report import external_urls

    page = (tmp_path / "tariffs-report.html").read_text(encoding="utf-8")
    assert external_urls(page) == [] and "<svg" in page and "Solved tariffs" in page
    assert f"spends £{paid:,.2f}" in written and "## Tariffs by outcome and group" in written
    assert (tmp_path / "tariffs.csv").read_text(encoding="utf-8").startswith("outcome_id,domain,stage,")
