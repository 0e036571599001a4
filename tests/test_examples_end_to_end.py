"""Every example contract pays from raw data (issue 10): an area shaped for it (`synth --contract`), loaded, then
`assess`, `outcomes` and `pay` for each statement period of its first contract year, as a commissioner would.

Each outcome the contract names must be achieved by some client (an offending cohort's target met), every priced
line's provider must be one the contract names, and Worcestershire's funnel actuals must equal a count made here
from the loaded rows."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract import load_contract
from recoverypbr.contract.explain import year_figures
from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction, ReliableChange
from recoverypbr.payments.limits import domain_rules
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import schedule
from recoverypbr.synth.shape import shape_for

ROOT = Path(__file__).parents[1]
CONTRACTS = sorted((ROOT / "contracts").glob("*.yaml"))
CLIENTS = 1500
runner = CliRunner()

pytestmark = pytest.mark.slow


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _first_year(contract: Contract) -> list[str]:
    year = contract.years[0]
    return [q.label for q in schedule(contract) if year.start <= q.start and q.end <= year.end]


@pytest.mark.parametrize("file", CONTRACTS, ids=[f.stem for f in CONTRACTS])
def test_the_example_pays_from_raw_data(file: Path, tmp_path: Path) -> None:
    contract = load_contract(file)
    db = tmp_path / "w.duckdb"
    _run("synth", "--contract", str(file), "--clients", str(CLIENTS), "--seed", "3", "--out", str(tmp_path / "area"))
    _run("load", str(tmp_path / "area"), "--db", str(db))
    if contract.complexity is not None:
        _run("assess", "--contract", str(file), "--db", str(db))
    documents: dict[str, list[dict]] = {}
    for label in _first_year(contract):
        out = tmp_path / "statements"
        _run("pay", "--contract", str(file), "--period", label, "--out", str(out), "--format", "json", "--db", str(db))
        documents[label] = [json.loads(f.read_text()) for f in sorted((out / label).glob("statement_*.json"))]
    _run("outcomes", "--contract", str(file), "--as-of", contract.years[0].end.isoformat(), "--db", str(db))
    _priced_lines_go_to_named_providers(contract, documents)
    _paid_outcomes_are_achieved(contract, db, documents)
    if contract.funnels:
        _funnel_actuals_match_an_independent_count(contract, db, documents)
    _explain_figures_are_what_pay_applies(contract, documents)
    pays_change = any(isinstance(o, ReliableChange) and o.tariffs for o in contract.outcomes.values())
    for docs in documents.values():
        for doc in docs:
            assert [r["whose"] for r in doc["reliable_change_share"]] == (
                ["this provider", "all providers"] if pays_change else [])


def _priced_lines_go_to_named_providers(contract: Contract, documents: dict[str, list[dict]]) -> None:
    named = {pid for pid, p in contract.providers.items() if p.role != "lasars"}
    lines = [line for docs in documents.values() for doc in docs for line in doc["lines"]]
    assert lines, "the first year pays something"
    assert {line["provider_id"] for line in lines} <= named
    assert sum(Decimal(line["amount"]) for line in lines) > 0
    # The provider the contract does not name has its activity listed, not paid.
    outside = [u for docs in documents.values() for doc in docs for u in doc["unpriced"]
               if u["why"].startswith("outside the contract: ")]
    if shape_for(contract) is not None:
        assert outside, "the shaped area holds activity outside the contract, listed with why"


def _paid_outcomes_are_achieved(contract: Contract, db: Path, documents: dict[str, list[dict]]) -> None:
    year_end = contract.years[0].end
    with duckdb.connect(str(db), read_only=True) as con:
        achieved = {row[0] for row in con.execute(
            "select distinct outcome_id from outcome_ledger where status = 'achieved' and as_of = ? "
            "and contract_area = ?", [year_end, contract.area]).fetchall()}
    # Every outcome the contract names (paid, a gate's component, a funnel milestone) is achieved by some client;
    # an offending cohort outcome is an area measure, met when its cohort line is paid.
    named = {oid for oid, o in contract.outcomes.items() if not isinstance(o, OffendingCohortReduction)}
    assert named - achieved == set()
    cohorts = {oid for oid, o in contract.outcomes.items() if isinstance(o, OffendingCohortReduction)}
    cohort_lines = {line["outcome_id"] for docs in documents.values() for doc in docs for line in doc["lines"]
                    if line["kind"] == "cohort"}
    assert cohorts <= cohort_lines


def _funnel_actuals_match_an_independent_count(contract: Contract, db: Path, documents: dict[str, list[dict]]
                                               ) -> None:
    last = documents[_first_year(contract)[-1]]
    actual: Counter[tuple[str, str]] = Counter()
    for row in last[0]["funnel"]:
        actual[(row["funnel"], row["milestone"])] += row["actual"]
    year = contract.years[0]
    with duckdb.connect(str(db), read_only=True) as con:
        for fid, funnel in contract.funnels.items():
            first = next(iter(funnel.milestones))
            for mid, milestone in funnel.milestones.items():
                # Clients achieving the milestone's outcome in the funnel's service line, month by month of the
                # contract year, summed: counted in SQL from the stored ledger and the loaded episodes.
                count = con.execute(
                    "select coalesce(sum(n), 0) from (select count(distinct l.client_id) as n from outcome_ledger l "
                    "join episodes e on e.episode_id = l.episode_id where l.status = 'achieved' and l.as_of = ? "
                    "and l.outcome_id = ? and e.service_line = ? and l.achieved_on between ? and ? "
                    "group by year(l.achieved_on), month(l.achieved_on))",
                    [year.end, milestone.outcome, funnel.service_line, year.start, year.end]).fetchone()[0]
                assert actual[(fid, mid)] == count, (fid, mid)
                # Every milestone of the big funnel is reached in the year, and every funnel's first milestone.
                if fid == max(contract.funnels, key=lambda f: first_predicted(contract, f)) or mid == first:
                    assert count > 0, (fid, mid)


def first_predicted(contract: Contract, funnel: str) -> int:
    return next(iter(contract.funnels[funnel].milestones.values())).predicted


def _explain_figures_are_what_pay_applies(contract: Contract, documents: dict[str, list[dict]]) -> None:
    """`contract explain`'s figures for year one are the ones the statements (and pay's limits) use."""
    figures = year_figures(contract, 0)
    doc = documents[_first_year(contract)[-1]][0]
    ytd = doc["year_to_date"]
    from_pay = {"budget": Decimal(ytd["budget"]), "results_money": Decimal(ytd["results_pot"])}
    from_pay |= {f"funds.{f['fund']}": Decimal(f["pot"]) for f in ytd.get("funds", [])}
    for row in doc["funnel_year"]:
        for key in ("unit_price", "maximum"):
            if row[key] is not None:
                from_pay[f"funnels.{row['funnel']}.{row['milestone']}.{key}"] = Decimal(row[key])
    year = Period(contract.years[0].start, contract.years[0].end, "year one")
    for rule in domain_rules(contract):
        in_force = rule.in_force(year)
        assert in_force is not None
        from_pay[rule.path] = pounds(in_force[1])
    assert figures == from_pay
