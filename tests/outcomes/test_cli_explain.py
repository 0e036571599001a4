"""The `outcomes` and `explain` commands, explanations, the stored ledger and portability of the rules."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import ibis
import pytest
import typer
from typer.testing import CliRunner

from recoverypbr.contract.load import load_contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse, load_case
from recoverypbr.outcomes.cli import explain_command, outcomes_command
from recoverypbr.outcomes.explain import decisions
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS, build_ledger, evaluate
from recoverypbr.warehouse.connection import open_warehouse

CASES = Path(__file__).parents[1] / "cases"
CONTRACTS = Path(__file__).parents[2] / "contracts"

app = typer.Typer()
app.command("outcomes")(outcomes_command)
app.command("explain")(explain_command)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A warehouse file holding the rows of the no-re-presentation custody case."""
    case = load_case(CASES / "no_representation_12m" / "custody_contact.yaml")
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as wh, case_warehouse(case.input) as source:
        for name in case.input:
            data = source.to_arrow(source.table(name))
            wh.register_arrow("_rows", data)
            wh.insert(name, wh.table("_rows"))
            wh.unregister("_rows")
    return path


@pytest.fixture
def contract(tmp_path: Path) -> Path:
    path = tmp_path / "contract.yaml"
    text = (CONTRACTS / "wigan.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    return path


def test_outcomes_table_lists_counts_by_outcome_and_group(db: Path, contract: Path) -> None:
    result = CliRunner().invoke(
        app, ["outcomes", "--contract", str(contract), "--as-of", "2014-06-30", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert "no_representation" in result.output and "achieved" in result.output


def test_outcomes_csv_and_json_hold_every_ledger_row(db: Path, contract: Path, tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    args = ["outcomes", "--contract", str(contract), "--as-of", "2014-06-30", "--db", str(db)]
    assert CliRunner().invoke(app, [*args, "--format", "csv", "--out", str(out)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(LEDGER_COLUMNS)
    wigan = load_contract(contract)
    assert len(rows) == len([o for o in wigan.outcomes.values() if o.type != "offending_cohort_reduction"])
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0
    ledger_rows = json.loads(result.output)["ledger"]
    assert [r["evidence"] for r in ledger_rows] == [r["evidence"] for r in rows]


def test_bad_date_is_refused_with_a_hint(db: Path, contract: Path) -> None:
    result = CliRunner().invoke(app, ["outcomes", "--contract", str(contract), "--as-of", "31/03/2014"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_explain_says_why_with_the_evidence_rows(db: Path, contract: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "explain",
            "C1",
            "--outcome",
            "no_representation",
            "--contract",
            str(contract),
            "--as-of",
            "2014-06-30",
            "--db",
            str(db),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "not achieved" in result.output and "re-presented inside the window" in result.output
    said = " ".join(result.output.split())
    assert "presentation:C1@2013-03-15: presented to the criminal justice system on 2013-03-15" in said


def test_explain_unknown_outcome_names_the_known_ones(db: Path, contract: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["explain", "C1", "--outcome", "nope", "--contract", str(contract), "--as-of", "2014-06-30", "--db", str(db)],
    )
    assert result.exit_code == 2
    assert "abstinence" in result.output


def test_decisions_for_a_gate_name_its_components() -> None:
    case = load_case(CASES / "all_of" / "completion_and_abstinence.yaml")
    with case_warehouse(case.input) as wh:
        found = decisions(wh, case.contract, "C2", "payment_point", case.as_of)
    assert len(found) == 1
    assert "substance_free is not_achieved" in found[0].words
    assert ("outcome:substance_free", "not achieved") in found[0].evidence


def test_the_stored_ledger_is_replaced_not_appended(tmp_path: Path) -> None:
    case = load_case(CASES / "successful_completion" / "completed_drug_free.yaml")
    with case_warehouse(case.input) as wh:
        build_ledger(wh, case.contract, case.as_of)
        summary = build_ledger(wh, case.contract, case.as_of)
        stored = wh.execute("SELECT count(*) FROM outcome_ledger")[0][0]
    assert summary.rows == stored == 3


def test_every_rule_compiles_for_postgresql() -> None:
    """The rules are backend-neutral Ibis: the whole ledger, with calendar-month windows, compiles for PostgreSQL."""
    from recoverypbr.contract.model import Contract
    from recoverypbr.outcomes.inputs import warehouse_inputs
    from recoverypbr.outcomes.ledger import ledger

    outcomes = {}
    for path in sorted(CASES.glob("*/*.yaml")):
        case = load_case(path)
        outcomes.update(
            {
                f"{path.parent.name}_{k}": v
                for k, v in case.contract.outcomes.items()
                if v.type not in ("all_of", "any_of")
            }
        )
    contract = Contract.model_validate({**BASE_CONTRACT, "outcomes": {k: v.model_dump() for k, v in outcomes.items()}})
    with case_warehouse({}) as wh:
        sql = ibis.to_sql(ledger(warehouse_inputs(wh, dt.date(2014, 3, 31)), contract), dialect="postgres")
        assert evaluate(wh, contract, dt.date(2014, 3, 31)).count().execute() == 0
    assert "INTERVAL '12 MONTH'" in sql


def test_explain_reads_the_stored_ledger_after_outcomes(db: Path, contract: Path) -> None:
    args = ["--contract", str(contract), "--as-of", "2014-06-30", "--db", str(db)]
    assert CliRunner().invoke(app, ["outcomes", *args]).exit_code == 0
    result = CliRunner().invoke(app, ["explain", "C1", "--outcome", "successful_completion", *args])
    assert result.exit_code == 0, result.output
    assert "achieved on 2013-01-15" in result.output and "episode:E1" in result.output
