"""Load fuzz (issue 11): mutated extracts load row by row or are kept aside with a reason, and the counts add up;
and the defects the fuzz found, each pinned by a test of its own."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from recoverypbr import load_extract
from recoverypbr.warehouse.connection import Warehouse

CLIENTS_HEADER = "client_id,date_of_birth,birth_year,sex,local_authority\n"


def test_a_quoted_line_break_across_the_readers_block_boundary_stays_in_its_value(
    wh: Warehouse, tmp_path: Path
) -> None:
    """The CSV reader splits a file into 1 MiB blocks; told that values hold no line breaks, it cut a quoted value
    that spans a block's end in two: half the value loaded silently and the rest became a bad line."""
    folder = tmp_path / "extract"
    folder.mkdir()
    lines = [f"C{n},1980-01-01,,male,Worcestershire\n" for n in range(30_000)]
    first, second = "Malvern Hills", "Upton, the far side of a 1 MiB block"
    before = f',1980-01-01,,male,"{first}'
    # Rows up to a little short of 1 MiB, then a row that starts before the 1 MiB mark and whose quoted line break
    # falls 5 bytes after it (its id padded to place it there).
    ends = list(accumulate(map(len, lines), initial=len(CLIENTS_HEADER)))
    n = next(i for i, end in enumerate(ends) if end > (1 << 20) - 40) - 1
    n_id = "D" * ((1 << 20) + 5 - ends[n] - len(before))
    lines.insert(n, f'{n_id}{before}\n{second}"\n')
    (folder / "clients.csv").write_text(CLIENTS_HEADER + "".join(lines))
    assert (folder / "clients.csv").stat().st_size > 1 << 20
    (clients,) = load_extract(wh, folder).tables
    assert (clients.rows_read, clients.rows_loaded, clients.rows_quarantined) == (len(lines), len(lines), 0)
    assert wh.execute("SELECT local_authority FROM clients WHERE client_id = ?", [n_id]) == [
        (f"{first}\n{second}",)
    ]


def test_a_file_with_a_utf8_byte_order_mark_but_windows_1252_text_loads(wh: Warehouse, tmp_path: Path) -> None:
    """Read as Windows-1252, the mark became 'ï»¿' glued to the first header, and the file was refused for a missing
    client_id column (found: 'ï»¿client_id')."""
    folder = tmp_path / "extract"
    folder.mkdir()
    text = CLIENTS_HEADER + "C1,1980-01-01,,male,Upton-upon-S\u00e9vern\n"
    (folder / "clients.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("cp1252"))
    (clients,) = load_extract(wh, folder).tables
    assert (clients.rows_read, clients.rows_new) == (1, 1)
    assert clients.notes == ("read as Windows-1252 (cp1252) text: not UTF-8 from line 2",)
    assert wh.execute("SELECT local_authority FROM clients") == [("Upton-upon-S\u00e9vern",)]
