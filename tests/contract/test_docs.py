"""docs/contracts.md cannot drift from the model: its reference is the generated one, and every field, outcome
type and validation rule is in it."""

from __future__ import annotations

import re
from pathlib import Path

from recoverypbr.contract import check_contract
from recoverypbr.contract.outcomes import LOCAL_TYPES, NATIONAL_TYPES
from recoverypbr.contract.schema import BEGIN, END, all_models, reference_markdown

DOC = Path(__file__).parents[2] / "docs" / "contracts.md"
BROKEN = Path(__file__).parent / "broken"


def _generated(text: str) -> str:
    start = text.index(BEGIN)
    return text[start : text.index(END, start) + len(END)] + "\n"


def test_the_reference_in_the_docs_is_the_generated_one() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert _generated(text) == reference_markdown(), (
        "docs/contracts.md is out of date: run recoverypbr contract schema --format markdown --update "
        "docs/contracts.md"
    )


def test_every_field_of_every_model_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for model in all_models():
        start = re.search(rf"^### {model.__name__}( \(|$)", text, re.MULTILINE)
        assert start, f"no section for {model.__name__}"
        end = text.find("\n### ", start.end())
        section = text[start.start() : end if end > 0 else len(text)]
        for name, info in model.model_fields.items():
            assert f"| `{name}` |" in section, f"{model.__name__}.{name} is not in docs/contracts.md"
            assert info.description, f"{model.__name__}.{name} has no description for the docs"


def test_every_outcome_type_and_rule_is_explained() -> None:
    text = DOC.read_text(encoding="utf-8")
    for outcome_type in (*NATIONAL_TYPES, *LOCAL_TYPES):
        assert f"`{outcome_type}`" in text[: text.index(BEGIN)], outcome_type
    rules = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `") and "|" in line[3:]}
    for file in BROKEN.glob("*.yaml"):
        for problem in check_contract(file)[1].problems:
            assert problem.rule in rules, f"rule {problem.rule} is not in the validation rules table"
