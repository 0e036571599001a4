"""Files as providers' systems write them (issue 11): Windows encodings, separators, a byte-order mark, lines cut
short, formula-bearing values, oversized fields, a file much smaller than last time; and quarantine per provider."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES

from recoverypbr import DataError, load_extract
from recoverypbr.data.quarantine import export_csv, quarantine_rows
from recoverypbr.data.validate import ID_RULE
from recoverypbr.warehouse.connection import Warehouse

FILES = FIXTURES / "files"
COUNCIL = "Malvern Hills \u2013 Upton-upon-S\u00e9vern"  # an en dash and an accent: bytes differ by encoding


def _table(result, name):  # type: ignore[no-untyped-def]
    return next(t for t in result.tables if t.table == name)


def test_a_windows_1252_file_loads_and_says_so(wh: Warehouse) -> None:
    raw = (FILES / "cp1252" / "clients.csv").read_bytes()
    assert b"\x96" in raw[:8192]  # the en dash, as Windows writes it, inside the header reader's first block
    result = load_extract(wh, FILES / "cp1252")
    clients = _table(result, "clients")
    assert (clients.rows_read, clients.rows_new, clients.rows_quarantined) == (300, 300, 0)
    assert clients.notes == ("read as Windows-1252 (cp1252) text: not UTF-8 from line 6",)
    assert wh.execute("SELECT local_authority FROM clients WHERE client_id = 'C5'") == [(COUNCIL,)]
    assert wh.execute("SELECT notes FROM load_files WHERE table_name = 'clients'") == [(clients.notes[0],)]


def test_a_file_in_neither_encoding_is_refused_naming_its_line(wh: Warehouse) -> None:
    with pytest.raises(DataError, match=r"line 4 holds byte 0x81, which is neither UTF-8 nor Windows-1252") as info:
        load_extract(wh, FILES / "not_text")
    assert "UTF-8" in info.value.hint
    assert wh.execute("SELECT count(*) FROM loads") == [(0,)]


def test_semicolon_and_tab_separated_files_load_and_say_which(wh: Warehouse, tmp_path: Path) -> None:
    result = load_extract(wh, FILES / "semicolon")
    assert (_table(result, "clients").rows_new, _table(result, "clients").notes) == (300, ("semicolon-separated",))
    assert _table(result, "providers").rows_new == 2
    tabbed = tmp_path / "tabbed"
    tabbed.mkdir()
    text = (FILES / "semicolon" / "clients.csv").read_text().replace(";", "\t")
    (tabbed / "clients.csv").write_text(text.replace("C1\t", "C1000\t", 1))
    result = load_extract(wh, tabbed)
    assert (_table(result, "clients").rows_new, _table(result, "clients").notes) == (1, ("tab-separated",))


def test_utf8_with_a_byte_order_mark_and_windows_line_ends_loads_cleanly(wh: Warehouse) -> None:
    result = load_extract(wh, FILES / "bom_crlf")
    assert (_table(result, "clients").rows_new, _table(result, "clients").notes) == (300, ())
    assert wh.execute("SELECT DISTINCT local_authority FROM clients") == [(COUNCIL,)]
    assert wh.execute("SELECT count(*) FROM providers WHERE service_lines = 'adult drugs'") == [(2,)]


def test_a_file_cut_mid_row_keeps_the_cut_line_aside_and_a_shrunk_table_warns(wh: Warehouse) -> None:
    load_extract(wh, FILES / "truncated")
    result = load_extract(wh, FILES / "truncated" / "cut")
    episodes = _table(result, "episodes")
    # 150 whole rows and the cut line: read = loaded + kept aside.
    assert (episodes.rows_read, episodes.rows_loaded, episodes.rows_quarantined) == (151, 150, 1)
    assert wh.execute("SELECT row_number, column_name, value, rule, reason FROM quarantine") == [
        (152, "(whole line)", "E151,C151,P2", "line_shape",
         "line 152 has 3 of the header's 7 fields: the line is cut short (is the file complete?) or a field holds "
         "an unquoted line break"),
    ]
    assert episodes.warnings == (
        "episodes shrank sharply: 151 rows read against 300 at load 1 (50%); is the extract complete? "
        "Rows already stored are kept",
    )
    assert wh.execute("SELECT notes FROM load_files WHERE load_id = 2") == [(episodes.warnings[0],)]
    assert wh.execute("SELECT count(*) FROM episodes") == [(300,)]


def test_ids_that_could_be_formulas_are_kept_aside_and_knock_on_rows_say_why(wh: Warehouse) -> None:
    load_extract(wh, FILES / "formulas")
    rows = wh.execute(
        "SELECT table_name, row_number, column_name, rule, reason FROM quarantine ORDER BY table_name, row_number"
    )
    assert ("clients", 3, "client_id", "format", ID_RULE) in rows
    assert ("clients", 5, "client_id", "format", ID_RULE) in rows
    assert ("episodes", 3, "episode_id", "format", ID_RULE) in rows
    knock_on = [r for r in rows if r[3] == "knock_on"]
    assert [r[:3] for r in knock_on] == [("episodes", 3, "client_id")]
    assert knock_on[0][4].startswith('kept aside because its client =HYPERLINK("http://example.invalid/","C2") was '
                                     "kept aside (row 3 of clients.csv: not a valid id")
    # Free text may hold anything; it is made safe where it is written out (tests/statements).
    assert wh.execute("SELECT local_authority FROM clients WHERE client_id = 'C3'") == [("=cmd|' /C calc'!A0",)]
    assert wh.execute("SELECT service_line FROM episodes WHERE episode_id = 'E3'") == [("@SUM(1+1)",)]


def test_an_oversized_field_is_kept_aside_and_stored_shortened(wh: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    shutil.copy(FILES / "formulas" / "providers.csv", folder)
    (folder / "clients.csv").write_text(f"client_id,local_authority\nC1,Worcestershire\nC2,{'x' * 1_000_000}\n")
    result = load_extract(wh, folder)
    assert _table(result, "clients").rows_quarantined == 1
    ((rule, reason, value),) = wh.execute("SELECT rule, reason, value FROM quarantine")
    assert (rule, reason) == ("too_long", "longer than 255 characters")
    assert value == "x" * 200 + "… (1000000 characters)"


def test_the_quarantine_for_one_provider_holds_only_its_clients_rows(wh: Warehouse, tmp_path: Path) -> None:
    load_extract(wh, FILES / "formulas")
    owners = {
        (r["table_name"], r["row_number"], r["column_name"]): r["provider_id"]
        for r in wh.to_arrow(quarantine_rows(wh)).to_pylist()
    }
    # C2's row is P1's (its episode -E2 is P1's, though that episode was kept aside too); +C4 has no episode.
    assert owners[("clients", 3, "client_id")] == "P1"
    assert owners[("episodes", 3, "episode_id")] == "P1"
    assert owners[("clients", 5, "client_id")] == ""
    p2 = wh.to_arrow(quarantine_rows(wh, provider="P2")).to_pylist()
    assert p2 == []
    out = tmp_path / "p1.csv"
    assert export_csv(quarantine_rows(wh, provider="P1"), wh, out) == 4  # the episode row breaks three rules
    with out.open() as handle:
        exported = list(csv.DictReader(handle))
    assert {r["provider_id"] for r in exported} == {"P1"}
    # Written safely: the formula-bearing id is quoted as text.
    assert all(not v.startswith(("=", "+", "-", "@")) for r in exported for v in r.values())
    assert any(v.startswith("'=HYPERLINK") for r in exported for v in r.values())


def _manifest(folder: Path, rows: dict[str, int]) -> Path:
    from recoverypbr.data.read import file_sha256

    lines = ["file,rows,sha256"] + [f"{n},{r},{file_sha256(folder / n)}" for n, r in rows.items()]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder / "manifest.csv"


def test_a_manifest_that_matches_is_checked_and_said(wh: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    shutil.copytree(FILES / "truncated", folder, ignore=shutil.ignore_patterns("cut"))
    _manifest(folder, {"clients.csv": 300, "providers.csv": 2, "episodes.csv": 300})
    result = load_extract(wh, folder)
    assert result.manifest == str(folder / "manifest.csv")
    assert result.ignored_files == []


def test_a_file_that_differs_from_its_manifest_is_refused_and_nothing_loads(wh: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    shutil.copytree(FILES / "truncated", folder, ignore=shutil.ignore_patterns("cut"))
    control = _manifest(folder, {"clients.csv": 300, "providers.csv": 2, "episodes.csv": 300})
    shutil.copy(FILES / "truncated" / "cut" / "episodes.csv", folder / "episodes.csv")  # cut in transfer
    with pytest.raises(DataError, match=r"episodes.csv has SHA-256 .* the manifest says"):
        load_extract(wh, folder)
    # The same cut file with a manifest naming no hash: its row count gives it away, inside the transaction.
    _manifest(folder, {"clients.csv": 300, "providers.csv": 2, "episodes.csv": 300})
    control.write_text(control.read_text().replace(control.read_text().splitlines()[3].split(",")[2], ""))
    with pytest.raises(DataError, match=r"151 data rows read, the manifest says 300: is the file complete\?"):
        load_extract(wh, folder)
    assert wh.execute("SELECT count(*) FROM loads") == [(0,)]
    assert wh.execute("SELECT count(*) FROM clients") == [(0,)]
    # A file the manifest does not list, or a listed file that is missing, is refused too.
    (folder / "manifest.csv").unlink()
    other = _manifest(tmp_path, {})  # an empty manifest elsewhere
    with pytest.raises(DataError, match="lists no file"):
        load_extract(wh, folder, manifest=other)
    (tmp_path / "manifest.csv").write_text("file,rows,sha256\nclients.csv,300,\nmissing.csv,,\n")
    with pytest.raises(DataError, match=re.escape("missing.csv is in the manifest but not in the extract; "
                                                  "episodes.csv is in the extract but not in the manifest")):
        load_extract(wh, folder, manifest=tmp_path / "manifest.csv")
