"""Property tests: the set-based parsing agrees with a plain Python reading of the data spec's rules."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoverypbr.data import validate as v
from recoverypbr.data.read import ROW
from recoverypbr.data.schema import TOP
from recoverypbr.warehouse.connection import Warehouse

_INT = re.compile(r"[+-]?[0-9]+(\.0+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: What the loader trims around a value; other characters (a non-breaking space, say) are part of it.
_BLANKS = " \t\n"


@pytest.fixture(scope="module")
def memory() -> Iterator[Warehouse]:
    wh = Warehouse(":memory:")
    yield wh
    wh.close()


def _check(wh: Warehouse, column: str, values: list[str | None]) -> list[tuple[object, str | None]]:
    """(parsed value, rule broken or None) for each value placed in `column` of a TOP row."""
    data = {c: pa.nulls(len(values), pa.string()) for c in TOP.column_names}
    data[column] = pa.array(values, pa.string())
    stage = wh.register_arrow("prop_stage", pa.table({ROW: list(range(len(values))), **data}))
    parsed = v.parse(stage, TOP)
    spec = TOP.column(column)
    rule, _ = v._column_reason(parsed, spec)
    out = wh.to_arrow(parsed.select(parsed[ROW], value=parsed[column], rule=rule).order_by(ROW))
    return list(zip(out["value"].to_pylist(), out["rule"].to_pylist(), strict=True))


def _expected_days(text: str | None) -> tuple[object, str | None]:
    stripped = (text or "").strip(_BLANKS)
    if not stripped:
        return None, None
    if not _INT.fullmatch(stripped):
        return None, "format"
    number = int(stripped.split(".")[0])
    if not -(2**63) <= number < 2**63:
        return None, "format"  # a whole number too large to store (a 64-bit integer) is not a number the loader keeps
    return number, None if 0 <= number <= 28 else "range"


day_texts = st.one_of(
    st.integers(-50, 80).map(str),
    st.integers(0, 30).map(lambda n: f" {n} "),
    st.integers(0, 30).map(lambda n: f"{n}.0"),
    st.sampled_from(["", "  ", "3.5", "ten", "1e1", "0x1", "+7", "--1", "٣"]),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-9223372036854775809", "1" + "0" * 30 + ".0"]),
    st.text(max_size=4),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(day_texts, min_size=1, max_size=25))
def test_day_counts(memory: Warehouse, texts: list[str]) -> None:
    assert _check(memory, "opiate_days", texts) == [_expected_days(t) for t in texts]


def _expected_date(text: str | None) -> tuple[object, str | None]:
    stripped = (text or "").strip(_BLANKS)
    if not stripped:
        return None, "missing"
    if not _DATE.fullmatch(stripped):
        return None, "format"
    try:
        return dt.date.fromisoformat(stripped), None
    except ValueError:
        return None, "format"


date_texts = st.one_of(
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat),
    st.tuples(st.integers(1990, 2030), st.integers(0, 13), st.integers(0, 32)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    ),
    st.sampled_from(["31/01/2013", "2013-1-5", "20130105", "", "2013-02-29", "2012-02-29", "0000-01-01", "0001-01-01"]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(date_texts, min_size=1, max_size=25))
def test_required_dates(memory: Warehouse, texts: list[str]) -> None:
    assert _check(memory, "top_date", texts) == [_expected_date(t) for t in texts]


def test_whole_numbers_too_large_to_store_are_kept_aside(memory: Warehouse) -> None:
    """Issue 11 fuzz: a whole number outside 64 bits stopped the load with a DuckDB ConversionException."""
    texts = ["9223372036854775808", "-9223372036854775809", "12345678901234567890123456789012.0", "28"]
    assert _check(memory, "opiate_days", texts) == [(None, "format")] * 3 + [(28, None)]


def test_year_zero_is_not_a_date(memory: Warehouse) -> None:
    """Issue 11 fuzz: 0000-01-01 loaded as a date that Python (and so every report) cannot read back."""
    assert _check(memory, "top_date", ["0000-01-01", "0000-02-29", "0001-01-01"]) == [
        (None, "format"), (None, "format"), (dt.date(1, 1, 1), None)
    ]


flag_texts = st.sampled_from(["Y", "n", "YES", "no", "1", "0", "true", "False", "t", "F", "maybe", "2", " y ", ""])


@settings(max_examples=25, deadline=None)
@given(st.lists(flag_texts, min_size=1, max_size=15))
def test_flags(memory: Warehouse, texts: list[str]) -> None:
    def expected(text: str) -> tuple[object, str | None]:
        low = text.strip(_BLANKS).lower()
        if not low:
            return None, None
        if low in ("y", "yes", "1", "true", "t"):
            return True, None
        if low in ("n", "no", "0", "false", "f"):
            return False, None
        return None, "format"

    assert _check(memory, "sharing", texts) == [expected(t) for t in texts]


def test_stage_aliases(memory: Warehouse) -> None:
    texts = ["S", "r", "E", "P", "start", "Post-Exit", "exit ", "x"]
    assert [value for value, _ in _check(memory, "stage", texts)] == [
        "start", "review", "exit", "post_exit", "start", "post_exit", "exit", None
    ]


def test_memtable_free(memory: Warehouse) -> None:
    """Parsing is pure Ibis: it compiles for another engine's dialect too."""
    stage = memory.register_arrow("prop_stage", pa.table({ROW: [1], **{c: ["1"] for c in TOP.column_names}}))
    assert "SELECT" in ibis.to_sql(v.parse(stage, TOP), dialect="postgres")
