"""LASARS complexity grouping on a hand-made area: the assessment chosen, thresholds at their edges, ordered rules,
the default group, episodes without assessment, disagreements with the recorded group, and determinism."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer import Typer
from typer.testing import CliRunner

from recoverypbr import ContractError, load_extract, open_warehouse
from recoverypbr.assessment import NO_ASSESSMENT, assess, complexity_groups, warehouse_groups
from recoverypbr.assessment.grouping import band_words, stored_groups
from recoverypbr.contract import Contract, load_contract
from recoverypbr.contract.cli import assess_command
from recoverypbr.warehouse.connection import Warehouse

FIXTURES = Path(__file__).parent / "fixtures"
AREA = FIXTURES / "area"
CONTRACTS = Path(__file__).parents[2] / "contracts"
CHECKED = ("episode_id", "assessment_id", "complexity_group", "points", "rule_id", "recorded_group", "agrees")
NOW = datetime(2013, 7, 1, 9, 30)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made area loaded once; each test opens its own copy."""
    db = tmp_path_factory.mktemp("area") / "area.duckdb"
    with open_warehouse(db) as wh:
        load_extract(wh, AREA)
    return db


@pytest.fixture
def area(loaded: Path, tmp_path: Path) -> Iterator[Warehouse]:
    copy = tmp_path / "area.duckdb"
    shutil.copyfile(loaded, copy)
    with open_warehouse(copy) as wh:
        yield wh


def _rows(wh: Warehouse, contract: Contract) -> list[dict[str, Any]]:
    return wh.to_arrow(warehouse_groups(wh, contract)).to_pylist()


@pytest.mark.parametrize("method", ["points", "rules"])
def test_each_episode_gets_the_group_its_latest_assessment_gives(area: Warehouse, method: str) -> None:
    contract = load_contract(FIXTURES / f"{method}.yaml")
    expected = yaml.safe_load((FIXTURES / f"expected-{method}.yaml").read_text())
    got = [{key: row[key] for key in CHECKED} for row in _rows(area, contract)]
    assert got == expected


def test_the_rule_that_fired_is_written_out(area: Warehouse) -> None:
    points = {r["episode_id"]: r for r in _rows(area, load_contract(FIXTURES / "points.yaml"))}
    assert points["E3"]["rule_text"] == (
        "5 points (5 or more points): currently injecting +2, acute housing need +2, parent or carer +1"
    )
    assert points["E10"]["rule_text"] == "0 points (0 to 2 points): no criterion met"
    assert points["E5"]["rule_text"] == NO_ASSESSMENT
    rules = {r["episode_id"]: r for r in _rows(area, load_contract(FIXTURES / "rules.yaml"))}
    assert rules["E1"]["rule_text"] == "rule 1: injecting status is current and opiate and crack is yes"
    assert rules["E3"]["rule_text"] == "rule 2: acute housing need"
    assert rules["E7"]["rule_text"] == "no rule matched: default group low"


def test_band_words_name_each_band() -> None:
    assert band_words({"low": 0, "medium": 3, "high": 5}) == {
        "low": "0 to 2 points", "medium": "3 to 4 points", "high": "5 or more points"}
    assert band_words({"low": 0, "mid": 1, "high": 2}) == {
        "low": "0 points", "mid": "1 point", "high": "2 or more points"}


def test_assess_replaces_the_contracts_rows_and_lists_disagreements(area: Warehouse) -> None:
    points, rules = load_contract(FIXTURES / "points.yaml"), load_contract(FIXTURES / "rules.yaml")
    first = assess(area, points, now=NOW)
    assess(area, rules, now=NOW)
    again = assess(area, points, now=NOW)
    assert first == again
    assert again.episodes == 10
    assert again.by_group == [("low", 3), ("medium", 3), ("high", 2)]
    assert again.no_assessment == 2
    assert [d["episode_id"] for d in again.disagreements] == ["E3"]
    assert again.disagreements[0]["recorded_group"] == "medium"
    assert again.disagreements[0]["complexity_group"] == "high"
    assert area.count(stored_groups(area, points)) == 10  # replaced, not appended
    assert area.count(stored_groups(area, rules)) == 10  # the other contract's rows are kept
    stored = area.execute("SELECT DISTINCT contract_area, contract_version, evaluated_at FROM complexity_groups")
    assert stored == [("Testshire", points.effective_from, NOW)]


def test_grouping_is_deterministic(area: Warehouse, tmp_path: Path) -> None:
    contract = load_contract(FIXTURES / "points.yaml")
    first = _rows(area, contract)
    assert _rows(area, contract) == first
    with open_warehouse(tmp_path / "again.duckdb") as other:
        load_extract(other, AREA)
        assert _rows(other, contract) == first


def test_grouping_is_one_set_based_query(area: Warehouse) -> None:
    expr = complexity_groups(area.table("episodes"), area.table("assessments"),
                             load_contract(FIXTURES / "rules.yaml").complexity)  # type: ignore[arg-type]
    import ibis

    sql = ibis.to_sql(expr, dialect="postgres")  # portable: the same expression compiles for PostgreSQL
    assert "ROW_NUMBER()" in sql.upper()


def test_a_contract_without_grouping_is_refused(area: Warehouse) -> None:
    with pytest.raises(ContractError, match="no complexity grouping") as info:
        assess(area, load_contract(CONTRACTS / "worcestershire.yaml"))
    assert info.value.path == "complexity"
    assert "add `complexity:`" in info.value.hint


def _cli() -> Typer:
    app = Typer()
    app.command("assess")(assess_command)

    @app.callback()
    def main() -> None:
        """Stand-in for the main app, which registers assess the same way."""

    return app


def test_assess_command_prints_groups_and_exports_disagreements(loaded: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    shutil.copyfile(loaded, db)
    out = tmp_path / "disagreements.csv"
    result = CliRunner().invoke(_cli(), ["assess", "--db", str(db), "--contract", str(FIXTURES / "rules.yaml"),
                                         "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "10 episodes grouped" in result.output
    assert "no assessment on or before their start: 2" in result.output
    assert "differs from the computed group for 4 episodes" in result.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["episode_id"] for r in rows] == ["E1", "E2", "E3", "E4"]
    assert rows[0]["rule_id"] == "complexity.rules.injecting_opiates_and_crack"


def test_assess_command_reports_a_broken_contract_without_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((FIXTURES / "points.yaml").read_text().replace("high: 5}", "high: 2}"))
    result = CliRunner().invoke(_cli(), ["assess", "--db", str(tmp_path / "x.duckdb"), "--contract", str(broken)])
    assert result.exit_code == 2
    assert "Error:" in result.output and "Hint:" in result.output
    assert "complexity.points.bands.high" in result.output
    assert "Traceback" not in result.output
