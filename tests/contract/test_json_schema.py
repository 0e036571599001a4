"""The JSON Schema (`recoverypbr contract schema`) accepts every example, so editors can autocomplete contracts,
and refuses structural mistakes. Needs the `jsonschema` package (a dev dependency)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from recoverypbr.contract import contract_json_schema
from recoverypbr.contract.cli import contract_app
from recoverypbr.contract.load import read_yaml
from recoverypbr.contract.model import Contract

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "contracts").glob("*.yaml"))
BROKEN = Path(__file__).parent / "broken"


def as_json(value: Any) -> Any:
    """YAML data as an editor's JSON view of it: dates as text, numbers as numbers."""
    if isinstance(value, dict):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _errors(file: Path) -> list[str]:
    data, _, _ = read_yaml(file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(contract_json_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(as_json(data))]


def test_the_schema_is_a_valid_json_schema_of_every_contract_field() -> None:
    schema = contract_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # raises SchemaError if the schema itself is invalid
    assert set(schema["properties"]) == set(Contract.model_fields)
    required = {name for name, field in Contract.model_fields.items() if field.is_required()}
    assert set(schema["required"]) == required and {"years", "budget", "providers"} <= required


@pytest.mark.parametrize("file", EXAMPLES, ids=[f.stem for f in EXAMPLES])
def test_the_schema_validates_every_example(file: Path) -> None:
    assert _errors(file) == []


@pytest.mark.parametrize(
    "name",
    ["structure-unknown-outcome-type", "structure-unknown-field", "structure-missing-field", "structure-bad-choice"],
)
def test_the_schema_refuses_structural_mistakes(name: str) -> None:
    assert _errors(BROKEN / f"{name}.yaml")


def test_the_schema_command_prints_the_same_schema() -> None:
    result = CliRunner().invoke(contract_app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == contract_json_schema()
