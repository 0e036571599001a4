"""Ingest of the hand-made dirty extract: every validation rule, idempotence, upserts, formats."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from helpers import DIRTY, FIXTURES, snapshot
from openpyxl import Workbook

from recoverypbr import DataError, load_extract, open_warehouse
from recoverypbr.warehouse.connection import Warehouse


def _expected() -> set[tuple[str, int, str, str]]:
    with (FIXTURES / "dirty-expected.csv").open() as handle:
        return {(r["table"], int(r["row"]), r["column"], r["rule"]) for r in csv.DictReader(handle)}


def _quarantined(wh: Warehouse) -> set[tuple[str, int, str, str]]:
    rows = wh.execute("SELECT table_name, row_number, column_name, rule FROM quarantine")
    return {(str(a), int(b), str(c), str(d)) for a, b, c, d in rows}


def test_every_rule_reports_its_rows_and_the_rest_loads(wh: Warehouse) -> None:
    result = load_extract(wh, DIRTY)
    assert _quarantined(wh) == _expected()
    loaded = {t.table: t.rows_new for t in result.tables}
    assert loaded == {
        "clients": 3, "providers": 2, "assessments": 1, "episodes": 4, "top": 4,
        "events": 2, "presentations": 2, "offending_cohort": 2, "feedback": 2,
    }
    # No row is lost: each row read either loaded or was kept aside.
    for t in result.tables:
        assert t.rows_read == t.rows_loaded + t.rows_quarantined, t.table
    assert result.ignored_files == ["notes.txt"]
    assert next(t for t in result.tables if t.table == "episodes").ignored_columns == ("keyworker",)


def test_reasons_name_the_value_and_the_fix(wh: Warehouse) -> None:
    load_extract(wh, DIRTY)
    reasons = dict(
        ((t, r, c), (v, why))
        for t, r, c, v, why in wh.execute("SELECT table_name, row_number, column_name, value, reason FROM quarantine")
    )
    assert reasons["episodes", 4, "discharge_date"] == (
        "2013-02-01", "discharge_date is before start_date (2013-03-05)"
    )
    assert reasons["top", 4, "opiate_days"] == ("29", "out of range: must be between 0 and 28")
    assert "completed_drug_free" in reasons["episodes", 11, "discharge_reason"][1]
    assert reasons["clients", 8, "client_id"][1] == "an identical copy of row 7 (that row is kept)"
    assert "14 days' grace" in reasons["top", 5, "top_date"][1]
    # Issue 11 (6): a row whose parent was kept aside says so, with the parent's row and reason.
    assert reasons["episodes", 7, "client_id"][1] == (
        "kept aside because its client C2 was kept aside (row 3 of clients.csv: not a valid ISO date (YYYY-MM-DD))"
    )
    files = {f for (f,) in wh.execute("SELECT DISTINCT file FROM quarantine WHERE table_name = 'top'")}
    assert files == {str(DIRTY / "top.csv")}


def test_values_are_normalised(wh: Warehouse) -> None:
    load_extract(wh, DIRTY)
    episode = dict(zip(
        ("reason", "substances", "start"),
        wh.execute("SELECT discharge_reason, substances, start_date FROM episodes WHERE episode_id = 'E1'")[0],
        strict=True,
    ))
    assert episode == {"reason": "completed_drug_free", "substances": "opiates;crack", "start": dt.date(2013, 1, 10)}
    assert wh.execute("SELECT substances FROM episodes WHERE episode_id = 'E12'") == [("cannabis",)]
    assert wh.execute("SELECT sex FROM clients WHERE client_id = 'C1'") == [("male",)]
    assert wh.execute("SELECT stage, opiate_days, acute_housing_problem FROM top WHERE top_id = 'T1'") == [
        ("start", 20, True)
    ]
    assert wh.execute("SELECT injecting_status, housing_need, opiate_and_crack FROM assessments") == [
        ("current", "at_risk", True)
    ]
    assert wh.execute("SELECT setting FROM presentations ORDER BY presented_on") == [
        ("treatment",), ("criminal_justice",)
    ]
    assert ("hepb_dose_2",) in wh.execute("SELECT event_type FROM events")
    # Two identical anonymous feedback responses are two responses, not a duplicate.
    assert wh.execute("SELECT count(*) FROM feedback WHERE score = 5") == [(2,)]


def test_loading_the_same_extract_twice_changes_nothing(wh: Warehouse) -> None:
    load_extract(wh, DIRTY)
    before = snapshot(wh)
    second = load_extract(wh, DIRTY)
    assert snapshot(wh) == before
    assert second.rows_changed == 0
    assert all(t.rows_new == t.rows_updated == 0 for t in second.tables)
    assert wh.execute("SELECT load_id, rows_changed FROM loads ORDER BY load_id") == [(1, 21), (2, 0)]


def _rewrite(path: Path, edit: dict[str, dict[str, str]], extra: list[dict[str, str]] = ()) -> None:  # type: ignore[assignment]
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    key = fields[0]
    for row in rows:
        row.update(edit.get(row[key], {}))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows([*rows, *extra])


def test_a_newer_extract_upserts_by_id(wh: Warehouse, dirty_copy: Path) -> None:
    load_extract(wh, dirty_copy)
    _rewrite(dirty_copy / "episodes.csv", {"E2": {"DISD": "2013-12-01", "DISRSN": "dropped_out"}})
    _rewrite(dirty_copy / "clients.csv", {}, [{"client_id": "C8", "date_of_birth": "1999-09-09", "birth_year": "",
                                               "sex": "F", "local_authority": "Malvern"}])
    result = load_extract(wh, dirty_copy)
    by_table = {t.table: (t.rows_new, t.rows_updated, t.rows_unchanged) for t in result.tables}
    assert by_table["episodes"] == (0, 1, 2)
    assert by_table["clients"] == (1, 0, 3)
    assert wh.execute("SELECT discharge_date, discharge_reason, load_id FROM episodes WHERE episode_id = 'E2'") == [
        (dt.date(2013, 12, 1), "dropped_out", 2)
    ]
    assert wh.execute("SELECT count(*) FROM episodes") == [(3,)]
    # The quarantine keeps what the earlier file set aside and adds the newer file's entries once.
    assert wh.execute("SELECT count(DISTINCT sha256) FROM quarantine WHERE table_name = 'episodes'") == [(2,)]


def _to_parquet(source: Path, target: Path) -> None:
    target.mkdir()
    for path in source.glob("*.csv"):
        names = next(csv.reader(path.read_text().splitlines()))
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, "string")))
        pq.write_table(table, target / f"{path.stem}.parquet")


def _to_xlsx(source: Path, target: Path) -> None:
    book = Workbook()
    book.remove(book.active)
    for path in sorted(source.glob("*.csv")):
        sheet = book.create_sheet(path.stem)
        for row in csv.reader(path.read_text().splitlines()):
            sheet.append([cell if cell != "" else None for cell in row])
    book.save(target)


@pytest.mark.parametrize("convert", [_to_parquet, _to_xlsx], ids=["parquet", "xlsx"])
def test_parquet_and_xlsx_load_like_csv(tmp_path: Path, convert) -> None:  # type: ignore[no-untyped-def]
    with open_warehouse(tmp_path / "csv.duckdb") as from_csv:
        load_extract(from_csv, DIRTY)
        expected = _quarantined(from_csv)
        rows = {t: sorted(from_csv.execute(f'SELECT * EXCLUDE (load_id, source_row) FROM "{t}"'), key=repr)
                for t in ("clients", "episodes", "top", "feedback")}
    target = tmp_path / ("extract.xlsx" if convert is _to_xlsx else "extract")
    convert(DIRTY, target)
    with open_warehouse(tmp_path / "other.duckdb") as other:
        load_extract(other, target)
        # Parquet has no header row: its rows count records from 1, where CSV and XLSX count the header as row 1.
        shift = 1 if convert is _to_parquet else 0
        assert _quarantined(other) == {(t, row - shift, c, r) for t, row, c, r in expected}
        for t, content in rows.items():
            assert sorted(other.execute(f'SELECT * EXCLUDE (load_id, source_row) FROM "{t}"'), key=repr) == content


def test_typed_parquet_columns_validate_too(wh: Warehouse, tmp_path: Path) -> None:
    import pyarrow as pa

    folder = tmp_path / "typed"
    folder.mkdir()
    shutil.copy(DIRTY / "clients.csv", folder)
    pq.write_table(pa.table({
        "cohort_id": ["X", "X"],
        "period_start": pa.array([dt.datetime(2012, 1, 1), dt.datetime(2012, 4, 1)], pa.timestamp("us")),
        "period_end": pa.array([dt.date(2012, 3, 31), dt.date(2012, 3, 31)]),
        "people": pa.array([10, 10], pa.int64()),
        "offences": pa.array([30, 50], pa.int32()),
        "is_baseline": [True, False],
    }), folder / "offending.parquet")
    load_extract(wh, folder)
    assert wh.execute("SELECT period_start, offences, is_baseline FROM offending_cohort") == [
        (dt.date(2012, 1, 1), 30, True)
    ]
    assert ("offending_cohort", 2, "period_end", "date_order") in _quarantined(wh)


def test_a_missing_required_column_loads_nothing(wh: Warehouse, dirty_copy: Path) -> None:
    load_extract(wh, DIRTY)
    before = snapshot(wh, with_loads=True)
    text = (dirty_copy / "episodes.csv").read_text().replace("MODST", "first_seen")
    (dirty_copy / "episodes.csv").write_text(text)
    with pytest.raises(DataError, match=r"start_date \(NDTMS MODST\)") as info:
        load_extract(wh, dirty_copy)
    assert "nothing was loaded" in info.value.hint
    assert snapshot(wh, with_loads=True) == before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"clients.csv": ""}, "empty or has no header"),
        ({"clients.csv": "client_id\nC1\n", "clients.parquet": None}, "two files hold the table clients"),
        ({"episodes.csv": "episode_id,MODST,start_date\n"}, "both mean 'start_date'"),
        ({"top.csv": 'top_id,"client_id\nT1,"C1\n'}, None),
    ],
)
def test_unreadable_files_are_refused_with_a_hint(wh: Warehouse, tmp_path: Path, files, message) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "bad"
    folder.mkdir()
    for name, text in files.items():
        if text is None:
            pq.write_table(pacsv.read_csv(DIRTY / "clients.csv"), folder / name)
        else:
            (folder / name).write_text(text)
    if message is None:
        with pytest.raises(DataError):
            load_extract(wh, folder)
        return
    with pytest.raises(DataError, match=message) as info:
        load_extract(wh, folder)
    assert info.value.hint


def test_a_single_file_must_be_a_workbook(wh: Warehouse) -> None:
    with pytest.raises(DataError, match="not an XLSX workbook"):
        load_extract(wh, DIRTY / "clients.csv")


def test_rows_already_loaded_satisfy_references(wh: Warehouse, tmp_path: Path) -> None:
    """A later extract of TOPs alone can refer to episodes loaded earlier."""
    load_extract(wh, DIRTY)
    folder = tmp_path / "later"
    folder.mkdir()
    (folder / "top.csv").write_text("top_id,client_id,episode_id,top_date,stage\nT99,C5,E2,2013-09-01,review\n")
    result = load_extract(wh, folder)
    assert result.tables[0].rows_new == 1
