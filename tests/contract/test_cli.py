"""`recoverypbr contract schema|check|explain`, run in-process on the sub-app the main CLI registers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recoverypbr.contract.cli import PROBLEMS_EXIT, contract_app
from recoverypbr.contract.schema import reference_markdown

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "contracts").glob("*.yaml"))
BROKEN = Path(__file__).parent / "broken"
runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(contract_app, ["--help"])
    assert result.exit_code == 0
    for command in ("schema", "check", "explain"):
        assert command in result.output


@pytest.mark.parametrize("file", EXAMPLES, ids=[f.stem for f in EXAMPLES])
def test_check_accepts_every_example(file: Path) -> None:
    result = runner.invoke(contract_app, ["check", str(file)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK ")


def test_check_lists_every_problem_with_its_line_path_and_fix() -> None:
    file = BROKEN / "tariff-unknown-group.yaml"
    result = runner.invoke(contract_app, ["check", str(file)])
    assert result.exit_code == PROBLEMS_EXIT
    assert f"{file}:30 outcomes.abstinence.tariffs.hihg" in result.output
    assert f"{file}:30 outcomes.abstinence.tariffs.high" in result.output
    assert "Problem: 'hihg' is not a complexity group of this contract" in result.output
    assert "Fix: use the groups declared under complexity.groups" in result.output
    assert "2 problems in" in result.output


def test_check_reports_a_missing_file_as_an_error_with_a_hint(tmp_path: Path) -> None:
    result = runner.invoke(contract_app, ["check", str(tmp_path / "nowhere.yaml")])
    assert result.exit_code == 2
    assert "Error:" in result.output and "Hint:" in result.output
    assert "Traceback" not in result.output


def test_explain_prints_the_plain_english_account() -> None:
    result = runner.invoke(contract_app, ["explain", str(ROOT / "contracts" / "oxfordshire.yaml")])
    assert result.exit_code == 0, result.output
    assert "Money at risk" in result.output
    assert "Moving a client from harm minimisation into recovery" in result.output


def test_explain_refuses_a_broken_contract_with_the_fix() -> None:
    result = runner.invoke(contract_app, ["explain", str(BROKEN / "reliable-change-over-20-percent.yaml")])
    assert result.exit_code == 2
    assert "outcomes.reliable_change.tariffs.low" in result.output
    assert "at most 20%" in result.output
    assert "Hint: reduce the reliable change tariff to £175 or less" in result.output


def test_schema_prints_the_reference_and_writes_files(tmp_path: Path) -> None:
    shown = runner.invoke(contract_app, ["schema", "--format", "markdown"])
    assert shown.exit_code == 0
    assert shown.output == reference_markdown()
    out = tmp_path / "contract.schema.json"
    written = runner.invoke(contract_app, ["schema", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text().startswith("{")
