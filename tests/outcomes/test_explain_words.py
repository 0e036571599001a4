"""`recoverypbr explain` tells a provider one decision as it stood on the as-of date (issue 11, item 13).

The client below was discharged as completed drug-free on 2014-03-21 and had an exit TOP on 2014-03-20, a year
after the as-of date (2013-03-31): on that date the episode was still open, and neither row was known. The client
has no assessment, so its episode has no complexity group under Wigan's points scheme.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from recoverypbr.contract.outcomes import OUTCOME_TYPES, OffendingCohortReduction, type_name
from recoverypbr.outcomes.cases import case_warehouse, load_case
from recoverypbr.outcomes.cli import explain_command
from recoverypbr.outcomes.explain import decisions
from recoverypbr.warehouse.connection import open_warehouse

CONTRACT = Path(__file__).parents[2] / "contracts" / "wigan.yaml"
CASES = Path(__file__).parents[1] / "cases"
AS_OF = "2013-03-31"
TOP: dict[str, Any] = {
    "client_id": "C1",
    "episode_id": "E1",
    "alcohol_units": 5.5,
    "cannabis_days": 3,
    "psychological_health": 12,
    "quality_of_life": 9,
    "paid_work_days": 0,
    "acute_housing_problem": False,
}
TABLES: dict[str, list[dict[str, Any]]] = {
    "episodes": [
        {
            "episode_id": "E1",
            "client_id": "C1",
            "provider_id": "WIG_A",
            "start_date": date(2012, 9, 24),
            "discharge_date": date(2014, 3, 21),
            "discharge_reason": "completed_drug_free",
            "substances": "opiates;alcohol",
        }
    ],
    "top": [
        {**TOP, "top_id": "T1", "top_date": date(2012, 9, 25), "stage": "start", "opiate_days": 28, "alcohol_days": 12},
        {**TOP, "top_id": "T2", "top_date": date(2013, 3, 6), "stage": "review", "opiate_days": 0, "alcohol_days": 0},
        {**TOP, "top_id": "T3", "top_date": date(2014, 3, 20), "stage": "exit", "opiate_days": 0, "alcohol_days": 0},
    ],
}

app = typer.Typer()
app.command("explain")(explain_command)
app.command("unused")(lambda: None)  # two commands, so `explain` is named on the command line


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file holding the client's rows."""
    path = tmp_path_factory.mktemp("explain") / "w.duckdb"
    with open_warehouse(path) as wh, case_warehouse(TABLES) as source:
        for name in TABLES:
            wh.register_arrow("_rows", source.to_arrow(source.table(name)))
            wh.insert(name, wh.table("_rows"))
            wh.unregister("_rows")
    return path


def explain(db: Path, outcome: str) -> str:
    args = ["explain", "C1", "--outcome", outcome, "--contract", str(CONTRACT), "--as-of", AS_OF, "--db", str(db)]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_discharge_after_the_as_of_date_is_not_shown_and_the_episode_was_still_open(db: Path) -> None:
    said = explain(db, "no_representation")
    assert "not eligible, because the episode was still open on 2013-03-31" in said
    assert "did not end in a successful completion" not in said
    assert "2014-03-21" not in said and "completed" not in said
    said = explain(db, "successful_completion")
    assert "not achieved, because the episode was still open on 2013-03-31" in said
    assert "2014-03-20" not in explain(db, "abstinence")


def test_evidence_rows_show_the_fields_that_decided_in_words_not_every_column(db: Path) -> None:
    said = explain(db, "abstinence")
    assert (
        "top:T2: review TOP on 2013-03-06; opiates used on 0 of the past 28 days; alcohol used on 0 of the past 28 days"
        in said
    )
    evidence = said.partition("top:T2:")[2]
    assert "=" not in evidence and "_" not in evidence  # no column names
    assert "alcohol units" not in said and "cannabis" not in said and "psychological" not in said
    said = explain(db, "reliable_change")  # deterioration counts on every substance, so one used is shown too
    assert "top:T1: start TOP on 2012-09-25; opiates used on 28 of the past 28 days; alcohol used on 12" in said
    assert "cannabis (not presenting) used on 3 of the past 28 days" in said
    assert "quality of life" not in said
    said = explain(db, "no_representation")
    assert "episode:E1: started on 2012-09-24; still open on 2013-03-31 (no discharge known by then)" in said
    assert "improved_housing" not in said and "acute housing problem: no" in explain(db, "improved_housing")


@pytest.mark.parametrize("outcome", ["abstinence", "successful_completion", "no_representation", "ceased_injecting"])
def test_a_missing_complexity_group_is_said_in_words_and_nothing_prints_none(db: Path, outcome: str) -> None:
    said = explain(db, outcome)
    assert (
        "(provider WIG_A, no complexity group: the client had no assessment on or before the episode's start)" in said
    )
    assert "None" not in said


@pytest.mark.parametrize("kind", [type_name(c) for c in OUTCOME_TYPES if c is not OffendingCohortReduction])
def test_every_outcome_type_says_its_evidence_rows_in_words(kind: str) -> None:
    """The first golden case of each type, for each client: every evidence id is shown (what the ledger cites was
    known on the as-of date), each with words and no column name."""
    case = load_case(sorted((CASES / kind).glob("*.yaml"))[0])
    clients = sorted({r["client_id"] for r in case.output})
    with case_warehouse(case.input) as wh:
        found = [d for c in clients for d in decisions(wh, case.contract, c, case.outcome, case.as_of)]
    assert found
    for decision in found:
        cited = {ref.partition("=")[0] for ref in decision.row["evidence"].split(";") if ref}
        assert {ref for ref, _ in decision.evidence} == cited
        for ref, text in decision.evidence:
            assert text and "None" not in text and "=" not in text and "_days" not in text, (ref, text)
