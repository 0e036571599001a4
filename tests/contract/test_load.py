"""Reading contracts: exact numbers, shares, dated values, YAML lines and paths in messages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from recoverypbr import ContractError
from recoverypbr.contract import Contract, check_text, load_contract, value_on
from recoverypbr.contract.load import contract_path, line_of, read_yaml
from recoverypbr.contract.types import DatedMoney, Money, Share, TariffTable, percent, pounds

ROOT = Path(__file__).parents[2]
MINIMAL = (ROOT / "tests" / "assessment" / "fixtures" / "points.yaml").read_text()


def test_yaml_numbers_are_read_as_exact_decimals() -> None:
    data, lines, problems = read_yaml("price: 1236.50\nmaximum: 327672.50\ntiny: 0.1\ncount: 265\n")
    assert data == {"price": Decimal("1236.50"), "maximum": Decimal("327672.50"), "tiny": Decimal("0.1"),
                    "count": 265}
    assert str(data["price"]) == "1236.50"
    assert lines[("maximum",)] == 2
    assert problems == []


@pytest.mark.parametrize(("text", "expected"), [
    ("1236.50", Decimal("1236.50")), ("£1,236.50", Decimal("1236.50")), (" £327,672.50 ", Decimal("327672.50")),
    (4000000, Decimal(4000000)), (1236.5, Decimal("1236.5")),
])
def test_money_is_accepted_as_commissioners_write_it(text: object, expected: Decimal) -> None:
    assert TypeAdapter(Money).validate_python(text) == expected


@pytest.mark.parametrize("text", ["1,2x", "12.345", True, "nan"])
def test_money_that_is_not_pounds_and_pence_is_refused(text: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Money).validate_python(text)


@given(st.decimals(min_value=0, max_value=100, places=2))
def test_a_percentage_is_the_fraction(share: Decimal) -> None:
    assert TypeAdapter(Share).validate_python(f"{share}%") == share / 100
    assert percent(share / 100) == f"{share.normalize():f}%"


def test_an_undated_value_holds_for_the_whole_contract() -> None:
    dated = TypeAdapter(DatedMoney).validate_python(500)
    assert value_on(dated, date(1990, 1, 1)) == Decimal(500)
    table = TypeAdapter(TariffTable).validate_python({date(2012, 4, 1): 100, date(2013, 4, 1): 120})
    assert set(table) == {"all"}
    assert value_on(table["all"], date(2013, 4, 1)) == Decimal(120)


@given(
    st.dictionaries(st.dates(date(2010, 1, 1), date(2020, 12, 31)), st.integers(0, 10**6), min_size=1, max_size=6),
    st.dates(date(2009, 1, 1), date(2022, 1, 1)),
)
def test_the_value_in_force_is_the_latest_dated_on_or_before(values: dict[date, int], on: date) -> None:
    dated = {since: Decimal(v) for since, v in values.items()}
    earlier = [since for since in dated if since <= on]
    expected = dated[max(earlier)] if earlier else None
    assert value_on(dated, on) == expected


def test_pounds_are_written_for_people() -> None:
    assert [pounds(Decimal(x)) for x in ("4000000", "1236.50", "-300", "0.5")] == [
        "£4,000,000", "£1,236.50", "-£300", "£0.50"]


def test_problems_carry_the_yaml_line_of_their_path() -> None:
    text = MINIMAL.replace("tariffs: {low: 100, medium: 200, high: 300}", "tariffs: {low: 100, medium: 200}")
    contract, report = check_text(text, "x.yaml")
    assert contract is not None
    [problem] = report.problems
    assert problem.path == "outcomes.completion.tariffs.high"
    assert problem.line == text.splitlines().index("    tariffs: {low: 100, medium: 200}") + 1
    assert problem.where("x.yaml") == f"x.yaml:{problem.line} outcomes.completion.tariffs.high"


def test_line_of_falls_back_to_the_deepest_known_key() -> None:
    lines = {(): 1, ("outcomes",): 5, ("outcomes", "abstinence"): 6}
    assert line_of("outcomes.abstinence.tariffs.high", lines) == 6
    assert line_of("caps", lines) == 1


def test_pydantic_locations_become_file_paths() -> None:
    data = {"outcomes": {"x": {"type": "abstinence", "tariffs": {"low": "bad"}}}}
    loc = ("outcomes", "x", "abstinence", "tariffs", "function-before[...]", "low", "0001-01-01")
    assert contract_path(loc, data) == "outcomes.x.tariffs.low"
    assert contract_path(("outcomes", "x", "abstinence", "label"), data, keep_last=True) == "outcomes.x.label"


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    contract, report = check_text("- just\n- a list\n")
    assert contract is None
    assert "a contract is a YAML mapping" in report.problems[0].message


def test_an_unreadable_file_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read the contract") as info:
        load_contract(tmp_path / "missing.yaml")
    assert "UTF-8 YAML" in info.value.hint


def test_the_model_is_frozen_and_floats_from_python_keep_their_digits() -> None:
    data, _, _ = read_yaml(MINIMAL)
    data["budget"] = 100000.1
    contract = Contract.model_validate(data)
    assert value_on(contract.budget, contract.start) == Decimal("100000.1")
    with pytest.raises(ValidationError):
        contract.area = "elsewhere"  # type: ignore[misc]
