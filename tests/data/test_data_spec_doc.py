"""docs/data.md, the project's own data spec, says what the code's schema holds (issue 11, defect 7): every
table, column, NDTMS alias, code and rule a user needs, so the two cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recoverypbr.data import codes
from recoverypbr.data.schema import TABLES, Table
from recoverypbr.data.validate import ID_MAX_LENGTH, TEXT_MAX_LENGTH

DOC = (Path(__file__).parents[2] / "docs" / "data.md").read_text()


def _row(table: Table) -> str:
    found = re.search(rf"^\| `{table.name}` \|.*$", DOC, flags=re.MULTILINE)
    assert found, f"docs/data.md has no row for the table {table.name}"
    return found.group(0)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_column_and_alias_of_the_schema_is_documented(table: Table) -> None:
    row = _row(table)
    for column in table.columns:
        assert f"`{column.name}`" in row, f"{table.name}.{column.name} is not in docs/data.md"
        for alias in column.aliases:
            if alias != column.name:
                assert alias.upper() in row, f"NDTMS alias {alias.upper()} of {table.name}.{column.name}"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_column_the_doc_names_exists(table: Table) -> None:
    columns = re.split(r"\s*\|\s*", _row(table))[3]
    named = set(re.findall(r"`([a-z_0-9]+)`", columns))
    codes_named = {c for col in table.columns for c in (*col.codes, *col.value_aliases)} | set(codes.KNOWN_EVENT_TYPES)
    unknown = named - set(table.column_names) - codes_named - {"hepb_dose_1", "hepb_dose_3", ";"}
    assert not unknown, f"docs/data.md names {sorted(unknown)} for {table.name}, which the schema does not hold"


def test_code_lists_and_limits_are_documented() -> None:
    for reason in codes.DISCHARGE_REASONS:
        assert f"`{reason}`" in DOC
    for stage in codes.TOP_STAGES:
        assert stage in _row(next(t for t in TABLES if t.name == "top"))
    assert f"{ID_MAX_LENGTH} characters" in DOC
    assert f"{TEXT_MAX_LENGTH} characters" in DOC
