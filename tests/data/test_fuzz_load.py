"""Load fuzz (issue 11): mutated extracts load row by row or are kept aside with a reason, and the counts add up;
and the defects the fuzz found, each pinned by a test of its own."""

from __future__ import annotations

import importlib.util
import io
import random
import re
import sys
import tempfile
from itertools import accumulate
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoverypbr import load_extract, open_warehouse
from recoverypbr.data.schema import CLIENTS, TABLES
from recoverypbr.warehouse.connection import Warehouse

CLIENTS_HEADER = "client_id,date_of_birth,birth_year,sex,local_authority\n"
ROWS = 300


def _bench() -> ModuleType:
    """bench/fuzz_load.py, the fuzz machinery (bench/ is not a package)."""
    path = Path(__file__).parents[2] / "bench" / "fuzz_load.py"
    spec = importlib.util.spec_from_file_location("fuzz_load", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_load"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


fuzz = _bench()


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Every table fuzzed with ROWS rows (seed 11), the clients' file also loaded by the CLI."""
    return fuzz.run(ROWS, 11, tmp_path_factory.mktemp("fuzz"), clients=100, cli_tables=("clients",))


def test_every_fuzzed_row_loads_or_is_kept_aside_with_a_reason(outcome: object) -> None:
    assert outcome.all_failures() == []  # type: ignore[attr-defined]
    reports = {r.table: r for r in outcome.reports}  # type: ignore[attr-defined]
    assert list(reports) == [t.name for t in TABLES]
    for r in reports.values():
        assert r.rows == ROWS and r.mutated > ROWS / 2, r.table
        assert r.read == r.records == r.loaded + r.kept_aside, r.table
        # Neither vacuous nor a lost file: some rows load, some are kept aside.
        assert r.loaded > 0 and r.kept_aside > 0, r.table
    assert {d.name for d in fuzz.DIALECTS} <= {r.dialect for r in reports.values()}


def test_a_byte_neither_utf8_nor_windows_1252_is_refused_cleanly_by_library_and_cli(outcome: object) -> None:
    assert outcome.refused == len(TABLES)  # type: ignore[attr-defined]
    assert len(outcome.cli_runs) == 1 and "FAILED" not in outcome.cli_runs[0]  # type: ignore[attr-defined]


def test_the_rules_the_fuzz_accepts_are_the_rules_the_loading_doc_lists() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "loading.md").read_text()
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.MULTILINE))
    assert listed == fuzz.DOCUMENTED_RULES


@pytest.mark.parametrize(
    "text",
    [
        'h1,h2\na,b\n\n"x\ny",z\r\n\r\nab"c,d\n"p""q",r\n \n',
        'h1;h2\r\n"a;\r\nb";c\r1;2\n;\n\n',
        'h1,h2\n"open,quote\nnever\nclosed\n',
        "h1,h2\n1,2",
    ],
)
def test_the_record_count_the_fuzz_expects_is_what_the_reader_reads(text: str) -> None:
    """The fuzz counts a file's records itself; the count must agree with pyarrow's reader on the tricky cases."""
    sep = ";" if text.startswith("h1;") else ","
    bad: list[pacsv.InvalidRow] = []

    def keep(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "skip"

    read = pacsv.read_csv(
        io.BytesIO(text.encode()),
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True, invalid_row_handler=keep),
        convert_options=pacsv.ConvertOptions(column_types={"h1": pa.string(), "h2": pa.string()}),
    )
    assert fuzz.count_records(text, sep)[0] == read.num_rows + len(bad)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dialect=st.sampled_from(fuzz.DIALECTS))
def test_a_single_mutated_row_among_clean_ones_loads_or_is_kept_aside(seed: int, dialect: object) -> None:
    rng = random.Random(seed)
    base = [{"client_id": f"C{i}", "date_of_birth": f"1980-01-{1 + i:02d}", "birth_year": "1980", "sex": "male",
             "local_authority": "Worcestershire"} for i in range(12)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "extract"
        folder.mkdir()
        facts = fuzz.write_table(folder / "clients.csv", CLIENTS, base, dialect, rng, only={rng.randrange(12)})
        report = fuzz.Report("clients", dialect.name)  # type: ignore[attr-defined]
        with open_warehouse(Path(tmp) / "w.duckdb") as wh:
            fuzz.check_load(wh, CLIENTS, load_extract(wh, folder), facts, dialect, report)
        assert report.failures == [], (facts.ops, facts.data[-400:])
        # The 11 clean rows load, unless the mutation took or repeated a key (or left a quote open).
        assert report.loaded >= 10 or {"repeat_key", "exact_repeat", "raw_insert"} & set(facts.ops), facts.ops


# Defects the fuzz found (issue 11), each failing before its fix.


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
