"""Every validation rule refuses its broken contract with the place in the file and the fix (OpenFisca style).

Each file in broken/ breaks one rule and says in its header comments what is wrong and what the report must say:
``# expect-path:`` the exact path of the problem, ``# expect-fix:`` words of the hint (several separated by
`` | ``), ``# expect-message:`` words of the message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recoverypbr.contract import ContractInvalid, check_contract, load_contract

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


def _expectations(file: Path) -> dict[str, str]:
    found = dict(re.findall(r"^# expect-(\w+):[ ]?(.*)$", file.read_text(encoding="utf-8"), re.MULTILINE))
    assert {"path", "fix", "message"} <= set(found), f"{file.name}: header lacks expect-path/fix/message"
    return found


@pytest.mark.parametrize("file", BROKEN, ids=[f.stem for f in BROKEN])
def test_broken_contract_names_the_place_and_the_fix(file: Path) -> None:
    expect = _expectations(file)
    _, report = check_contract(file)
    assert not report.ok, f"{file.name} should be refused"
    matching = [p for p in report.problems if p.path == expect["path"]]
    assert matching, f"{file.name}: no problem at {expect['path']!r}; got {[p.path for p in report.problems]}"
    problem = matching[0]
    assert expect["message"] in problem.message
    for words in expect["fix"].split(" | "):
        assert words.strip() in problem.hint, f"{file.name}: {words!r} not in hint {problem.hint!r}"
    assert problem.line is not None and problem.line > 4, "the YAML line is reported (after the header)"
    # The file breaks only the rule it is named for.
    assert {p.rule for p in report.problems} == {problem.rule}


def test_there_is_a_broken_contract_for_every_rule() -> None:
    rules = {problem.rule for file in BROKEN for problem in check_contract(file)[1].problems}
    assert rules == {
        "attribution", "caps_floors", "codes", "cohort_basis", "complexity", "condition", "dated_values", "funnel",
        "gates", "illustrative", "lasars", "money", "positive", "reference", "reliable_change_share", "share_range",
        "structure", "sum_to_one", "tariff_groups", "window_values", "yaml", "years",
    }


def test_loading_a_broken_contract_raises_with_the_first_problem_and_a_count() -> None:
    file = next(f for f in BROKEN if f.stem == "tariff-unknown-group")
    with pytest.raises(ContractInvalid) as info:
        load_contract(file)
    error = info.value
    assert error.path.endswith("outcomes.abstinence.tariffs.hihg")
    assert "and 1 more problem" in error.message
    assert "Did you mean 'high'?" in error.hint
    assert len(error.report.problems) == 2
