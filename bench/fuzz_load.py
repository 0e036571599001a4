"""Load fuzz (issue 11): every row of a mutated extract either loads or is kept aside with a reason.

    python bench/fuzz_load.py --rows 10000 --seed 1 --out /tmp/fuzz

A calibrated synthetic extract (`recoverypbr synth`, CSV) is the starting point. For each canonical table a CSV
of `--rows` rows is written in which most rows are mutated by seeded random operators: fields dropped,
duplicated or swapped, lines cut short, separators, quotes and line breaks inside values (quoted or not), hostile
values (formula starters, very long text, control characters, NUL, stray non-UTF-8 bytes, emoji, whitespace,
SQL-ish text, huge and negative numbers, dd/mm/yyyy and impossible dates), blank keys, keys repeated with other
values, exact repeats, dangling references, junk lines. Files are written in several dialects: UTF-8, with a
byte-order mark, Windows (CRLF) line ends, Windows-1252, semicolons and tabs.

Each table's file is loaded (with clean files of the tables it refers to) into a fresh warehouse by
`load_extract`, and checked: no exception but a clean DataError where the documented rule refuses the whole
file; rows read = rows loaded + rows kept aside; rows read = the records written (an independent count of the
file's records; blank lines are skipped by the reader); every row number is either stored or in the quarantine,
never both; every quarantine entry has a documented rule and a reason; the table holds exactly the loaded rows,
and they read back. One table is loaded again by the CLI in a subprocess (no traceback may reach the user), and a
small file per table holding a byte that is neither UTF-8 nor Windows-1252 must be refused, naming its line.

Prints a table per table and exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import random
import shutil
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from recoverypbr import DataError, load_extract, open_warehouse
from recoverypbr.data.ingest import LoadResult
from recoverypbr.data.schema import TABLES, Table, table
from recoverypbr.warehouse.connection import Warehouse

#: The quarantine's rules, as docs/loading.md lists them.
DOCUMENTED_RULES = frozenset({
    "missing", "format", "too_long", "range", "date_order", "discharge_incomplete", "inconsistent", "duplicate",
    "conflict", "reference", "knock_on", "client_mismatch", "top_outside_episode", "line_shape",
})
#: Windows-1252 leaves these bytes undefined (the loader refuses a non-UTF-8 file holding one).
CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"
#: File names: the offending file is named `offending` (its columns say which of the two tables it is).
FILE_NAMES = {"offending_cohort": "offending", "offending_individual": "offending"}


@dataclass(frozen=True)
class Dialect:
    """How a fuzzed file is written."""

    name: str
    encoding: str = "utf-8"  # or "cp1252"
    bom: bool = False
    newline: str = "\n"
    sep: str = ","
    stray_bytes: bool = False  # values may hold bytes that are not UTF-8 (the file is then read as cp1252)
    quote_all: bool = False


DIALECTS = (
    Dialect("utf-8"),
    Dialect("utf-8, BOM, CRLF", bom=True, newline="\r\n"),
    Dialect("semicolon", sep=";", quote_all=True),
    Dialect("tab", sep="\t"),
    Dialect("cp1252, CRLF", encoding="cp1252", newline="\r\n", stray_bytes=True),
    Dialect("utf-8 + stray bytes", stray_bytes=True, quote_all=True),
    Dialect("BOM, semicolon, CRLF", bom=True, newline="\r\n", sep=";"),
    Dialect("cp1252, semicolon", encoding="cp1252", sep=";", stray_bytes=True),
    Dialect("BOM + stray bytes", bom=True, stray_bytes=True),
)


class Raw(str):
    """A value written as it is, unquoted, even when it holds a separator, a quote or a line break."""


def _stray(text: str) -> str:
    """Bytes 0x80-0xff that are not UTF-8, as lone surrogates (written out by the `fuzz` error handler)."""
    return "".join(chr(0xDC00 + b) if b >= 0x80 else chr(b) for b in text.encode("latin-1"))


def _encode_error(exc: UnicodeError) -> tuple[bytes, int]:
    assert isinstance(exc, UnicodeEncodeError)
    out = bytearray()
    for ch in exc.object[exc.start : exc.end]:
        out += bytes([ord(ch) - 0xDC00]) if 0xDC80 <= ord(ch) <= 0xDCFF else b"?"
    return bytes(out), exc.end


codecs.register_error("fuzz", _encode_error)  # type: ignore[arg-type]

HOSTILE: dict[str, list[str]] = {
    "formula": ["=1+2", "+441234567890", "-2+3", "@SUM(A1:A9)", '=HYPERLINK("http://x.invalid","y")',
                "=cmd|' /C calc'!A0", "\t=1+1"],
    "long": ["x" * 65, "y" * 256, "z" * 1001, "w" * 2001, "é" * 5000],
    "control": ["\x01\x02\x07", "a\x1bb", "\x0b\x0c", "\x7f", "\x1a", "a\x08b"],
    "nul": ["\x00", "a\x00b", "C1\x00"],
    "stray_bytes": [_stray("\xe9t\xe9"), _stray("\xff\xfe"), _stray("\x80"), _stray("caf\xe9"), _stray("\x92s")],
    "emoji": ["\U0001f600", "\U0001f48a\U0001f642", "\U0001f44d\U0001f3fd", "\U0001f37a", "🏳️‍🌈"],
    "whitespace": [" ", "   ", "\t", " \t ", "\u00a0", "\u2003", "\u200b"],
    "sql": ["'; DROP TABLE clients; --", "1 OR 1=1", "' OR ''='", "Robert'); DROP TABLE episodes;--", "NULL",
            "null", "None", "NaN", "\\N", "%s%s%s", "{0}"],
    "huge": ["9" * 30, "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e308",
             "1" + "0" * 400, "Infinity", "-inf", "1,000", "0x10", "1e3", "12345678901234567890123456789012.0"],
    "negative": ["-1", "-0", "-28", "-0.5", "-2147483649", "- 3"],
    "dmy_date": ["25/12/2015", "01/02/2014", "2015/12/25", "12-25-2015", "20151225", "5 Jan 2015"],
    "impossible_date": ["2015-02-30", "2015-13-01", "2015-00-10", "0000-00-00", "0000-01-01", "9999-12-31",
                        "2015-02-29", "1899-12-31", "2100-01-01", "2015-1-5", "2015-01-05 00:00:00",
                        "2015-01-05T10:00", "99999-01-01", "-2015-01-01"],
    "unicode": ["\uff23\uff10\uff10\uff10\uff11", "C\u200b0001", "\u202eevil", "Zo\u00eb", "\ufb01", "e\u0301",
                "\u0663", "\u2028", "\ufeffC1"],
    "quotes": ['say "hi"', '"', '""', "''", '"quoted"'],
    "separators": [",", ";", "a,b", "a;b", "a\tb", ",,,"],
    "line_breaks": ["a\nb", "a\r\nb", "\r", "\n", "line one\nline two\nline three"],
}
#: Values of each kind: some valid (they must load), some not.
BY_KIND: dict[str, list[str]] = {
    "id": ["X1", " X2 ", "a b", "A-1_2.3:4/5#6", "#1", "_1", "é1"],
    "date": ["2015-06-01", " 2015-06-01 ", "2016-02-29", "1950-01-01", "2030-12-31"],
    "int": ["0", "+3", "3.0", "3.5", " 7 ", "28", "29", "200", "5000", "٣"],
    "decimal": ["0", ".5", "5.", "-0.0", "3.25", "200", "200.01", "NaN", "inf", "1e3"],
    "flag": ["Y", "n", "YES", "no", "1", "0", "true", "F", "maybe", "2", "ja"],
    "code": ["M", "f", "S", "r", "E", "P", "C", "Z", "CJ", "at risk", "1", "13", "14", "unknown", "OPIATES"],
    "list": ["opiates;crack", "OPIATES; crack", "opiates;;crack", ";", "opiates,crack", "heroin", "alcohol;alcohol"],
    "text": ["Worcestershire", "O'Brien & Sons <b>", "x" * 255, "x" * 1000],
}
JUNK_LINES = ["", " ", "#", "\x1a", "END OF FILE", "total"]


@dataclass
class Facts:
    """What was written: the counts a load must reproduce."""

    rows: int = 0  # rows generated (before mutation)
    mutated: int = 0
    records: int = 0  # data records in the file, as an RFC 4180 reader sees them
    blank_lines: int = 0  # empty lines (the reader skips them)
    lines: int = 0  # physical data lines
    ops: Counter[str] = field(default_factory=Counter)
    data: bytes = b""


@dataclass
class Report:
    table: str
    dialect: str
    ops: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    mutated: int = 0
    lines: int = 0
    blank: int = 0
    records: int = 0
    read: int = 0
    loaded: int = 0
    kept_aside: int = 0
    rules: list[str] = field(default_factory=list)
    seconds: float = 0.0
    refused: str = ""
    failures: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """A fuzz run: per-table reports, failures outside them (refusal probes, CLI runs), and the CLI runs made."""

    reports: list[Report] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cli_runs: list[str] = field(default_factory=list)
    refused: int = 0  # refusal probes refused as documented

    def all_failures(self) -> list[str]:
        return [f"{r.table}: {f}" for r in self.reports for f in r.failures] + self.failures


# ---------------------------------------------------------------------------------------------------------------
# The starting extract


def base_extract(folder: Path, clients: int, seed: int) -> dict[str, list[dict[str, str]]]:
    """A clean synthetic area as rows of text per table (and individual offending, which synth does not write)."""
    from recoverypbr.synth import generate_area

    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate_area(clients, seed, folder, "csv")
        (folder / ".complete").write_text("ok")
    rows: dict[str, list[dict[str, str]]] = {}
    for spec in TABLES:
        path = folder / f"{spec.name}.csv"
        if path.exists():
            with path.open(newline="", encoding="utf-8") as handle:
                rows[spec.name] = [{k: v or "" for k, v in r.items()} for r in csv.DictReader(handle)]
    rng = random.Random(seed)
    ids = [r["client_id"] for r in rows["clients"]]
    offences: dict[tuple[str, str], dict[str, str]] = {}
    while len(offences) < len(ids):
        row = {"client_id": rng.choice(ids), "offence_date": _random_date(rng), "offences": str(rng.randint(1, 6))}
        offences[(row["client_id"], row["offence_date"])] = row
    rows["offending_individual"] = list(offences.values())
    if not rows.get("feedback"):
        providers = [r["provider_id"] for r in rows["providers"]]
        rows["feedback"] = [
            {"provider_id": rng.choice(providers), "response_date": _random_date(rng), "client_id": "",
             "question": "I feel more in control", "score": str(rng.randint(1, 5)), "comment": ""}
            for _ in range(100)
        ]
    return rows


def _random_date(rng: random.Random) -> str:
    return (dt.date(2011, 1, 1) + dt.timedelta(days=rng.randrange(3650))).isoformat()


def unique_rows(spec: Table, base: list[dict[str, str]], n: int, rng: random.Random) -> list[dict[str, str]]:
    """`n` rows from `base`, cycling through it; repeats get a new key (an id suffix, or another date)."""
    names = spec.column_names
    own_ids = [k for k in spec.key if k in names and spec.column(k).kind == "id" and not spec.column(k).references]
    dates = [k for k in spec.key if k in names and spec.column(k).kind == "date"]
    keyed = all(k in names for k in spec.key)
    seen: set[tuple[str, ...]] = set()
    out: list[dict[str, str]] = []
    i = 0
    while len(out) < n:
        row, cycle = dict(base[i % len(base)]), i // len(base)
        i += 1
        if cycle and own_ids:
            row[own_ids[0]] = f"{row[own_ids[0]]}-{cycle}"
        elif cycle and dates:
            row[dates[0]] = _random_date(rng)
        if keyed:
            key = tuple(row.get(k, "") for k in spec.key)
            if key in seen:
                continue
            seen.add(key)
        out.append(row)
    return out


def parents(spec: Table) -> list[str]:
    """The tables `spec` refers to, directly or not, in load order."""
    found: set[str] = set()
    todo = [spec]
    while todo:
        for col in todo.pop().references:
            assert col.references is not None
            if col.references[0] not in found:
                found.add(col.references[0])
                todo.append(table(col.references[0]))
    return [t.name for t in TABLES if t.name in found]


# ---------------------------------------------------------------------------------------------------------------
# Mutation


class Mutator:
    """Seeded random operators over one table's rows."""

    def __init__(self, spec: Table, dialect: Dialect, rng: random.Random) -> None:
        self.spec, self.dialect, self.rng = spec, dialect, rng
        self.names = list(spec.column_names)
        self.kinds = [spec.column(c).kind for c in self.names]
        self.refs = [i for i, c in enumerate(self.names) if spec.column(c).references]
        self.keys = [i for i, c in enumerate(self.names) if c in spec.key]
        self.earlier: list[list[str]] = []  # clean rows already written, for repeats
        self.field_ops = [
            (self.hostile, 30), (self.of_kind, 14), (self.blank, 5), (self.padded, 4), (self.quoted_insert, 5),
            (self.raw_insert, 4), (self.drop_field, 3), (self.dup_field, 3), (self.swap, 4), (self.blank_key, 3),
            (self.dangling, 4 if self.refs else 0), (self.dmy, 4), (self.repeat_key, 3 if self.keys else 0),
        ]

    def pick(self, ops: list[tuple[object, int]]) -> object:
        return self.rng.choices([op for op, _ in ops], weights=[w for _, w in ops])[0]

    def value(self, category: str) -> str:
        text = self.rng.choice(HOSTILE[category])
        if category == "stray_bytes" and not self.dialect.stray_bytes:
            return text.encode("utf-8", "surrogateescape").decode("cp1252", "replace")  # what it would mean
        if category == "long" and self.rng.random() < 0.01:
            return "L" * 100_000
        return text

    # Field operators: each changes `fields` in place and returns its name.
    def hostile(self, fields: list[str]) -> str:
        category = self.rng.choice(list(HOSTILE))
        fields[self.rng.randrange(len(fields))] = self.value(category)
        return f"hostile:{category}"

    def of_kind(self, fields: list[str]) -> str:
        i = self.rng.randrange(min(len(fields), len(self.kinds)))
        fields[i] = self.rng.choice(BY_KIND[self.kinds[i]])
        return f"kind:{self.kinds[i]}"

    def blank(self, fields: list[str]) -> str:
        fields[self.rng.randrange(len(fields))] = ""
        return "blank"

    def padded(self, fields: list[str]) -> str:
        i = self.rng.randrange(len(fields))
        fields[i] = self.rng.choice([" ", "\t", "  "]) + fields[i] + self.rng.choice(["", " ", "\t"])
        return "padded"

    def quoted_insert(self, fields: list[str]) -> str:
        i = self.rng.randrange(len(fields))
        insert = self.rng.choice([",", ";", "\t", '"', '""', "\n", "\r\n", "\r", '","'])
        cut = self.rng.randint(0, len(fields[i]))
        fields[i] = fields[i][:cut] + insert + fields[i][cut:]
        return "quoted_insert"

    def raw_insert(self, fields: list[str]) -> str:
        """A separator, a line break or a quote written unquoted (never a quote opening a field)."""
        i = self.rng.randrange(len(fields))
        text = fields[i].replace('"', "").replace("\r", "").replace("\n", "")
        insert = self.rng.choice([self.dialect.sep, self.dialect.sep * 2, "\n", "\r\n", '"'])
        cut = self.rng.randint(1 if insert == '"' else 0, max(len(text), 1))
        if insert == '"' and not text:
            text = "a"
        fields[i] = Raw(text[:cut] + insert + text[cut:])
        return "raw_insert"

    def drop_field(self, fields: list[str]) -> str:
        del fields[self.rng.randrange(len(fields))]
        return "drop_field"

    def dup_field(self, fields: list[str]) -> str:
        i = self.rng.randrange(len(fields))
        fields.insert(i, fields[i])
        return "dup_field"

    def swap(self, fields: list[str]) -> str:
        if len(fields) > 1:
            i, j = self.rng.sample(range(len(fields)), 2)
            fields[i], fields[j] = fields[j], fields[i]
        return "swap"

    def blank_key(self, fields: list[str]) -> str:
        for i in self.keys or [0]:
            if i < len(fields):
                fields[i] = self.rng.choice(["", " ", "\t"])
        return "blank_key"

    def dangling(self, fields: list[str]) -> str:
        i = self.rng.choice(self.refs)
        if i < len(fields):
            fields[i] = f"NOPE{self.rng.randrange(10**6)}"
        return "dangling_reference"

    def dmy(self, fields: list[str]) -> str:
        dates = [i for i, k in enumerate(self.kinds) if k == "date" and i < len(fields) and len(fields[i]) == 10]
        if not dates:
            return self.hostile(fields)
        i = self.rng.choice(dates)
        y, m, d = fields[i][:4], fields[i][5:7], fields[i][8:10]
        fields[i] = f"{d}/{m}/{y}"
        return "dmy_date"

    def repeat_key(self, fields: list[str]) -> str:
        if not self.earlier:
            return self.blank(fields)
        other = self.rng.choice(self.earlier[-500:])
        for i in self.keys:
            if i < len(fields):
                fields[i] = other[i]
        return "repeat_key"

    # Rows and lines
    def cell(self, value: str) -> str:
        if isinstance(value, Raw):
            return str(value)
        special = (self.dialect.sep, '"', "\n", "\r")
        if self.dialect.quote_all or any(s in value for s in special):
            return '"' + value.replace('"', '""') + '"'
        return value

    def lines(self, row: dict[str, str], facts: Facts, mutate: float) -> list[str]:
        """The line(s) written for one row (without line ends), and the operators used in `facts`."""
        fields = [row.get(c, "") for c in self.names]
        out: list[str] = []
        if self.rng.random() >= mutate:
            self.earlier.append(list(fields))
            return [self.join(fields)]
        facts.mutated += 1
        roll = self.rng.random()
        if roll < 0.04 and self.earlier:  # an identical repeat of an earlier row
            facts.ops["exact_repeat"] += 1
            return [self.join(list(self.rng.choice(self.earlier[-500:])))]
        if roll < 0.07:
            facts.ops["junk_line"] += 1
            out.append(self.rng.choice([*JUNK_LINES, self.dialect.sep * (len(fields) - 1)]))
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            op = self.pick(self.field_ops)
            facts.ops[op(fields)] += 1  # type: ignore[operator]
        line = self.join(fields)
        roll = self.rng.random()
        if roll < 0.06:
            facts.ops["truncated"] += 1
            line = line[: self.rng.choice(outside_quotes(line, self.dialect.sep))]
        elif roll < 0.08:
            facts.ops["trailing_separator"] += 1
            line += self.dialect.sep
        out.append(line)
        return out

    def join(self, fields: list[str]) -> str:
        return self.dialect.sep.join(self.cell(f) for f in fields)


def outside_quotes(line: str, sep: str) -> list[int]:
    """Positions at which `line` can be cut without leaving a quote open."""
    cuts, quoted, start = [0], False, True
    for i, ch in enumerate(line):
        if ch == '"' and (quoted or start):
            quoted = not quoted
        start = not quoted and ch == sep
        if not quoted:
            cuts.append(i + 1)
    return cuts


def count_records(text: str, sep: str) -> tuple[int, int, int]:
    """(records, blank lines, physical lines) after the header, as a reader that opens a quote only at a field's
    start sees them: a line break inside quotes continues the record; an empty line is no record."""
    records, blank, lines = -1, 0, 0  # records counts the header too
    quoted, start, length, i, n = False, True, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"':
                if text.startswith('"', i + 1):
                    i += 1
                else:
                    quoted = False
            elif ch in "\r\n":
                lines += 1
                if ch == "\r" and text.startswith("\n", i + 1):
                    i += 1
            i += 1
            continue
        if ch in "\r\n":
            lines += 1
            if length:
                records += 1
            else:
                blank += 1
            length, start = 0, True
            if ch == "\r" and text.startswith("\n", i + 1):
                i += 1
            i += 1
            continue
        length += 1
        if ch == '"' and start:
            quoted = True
        start = ch == sep
        i += 1
    if length or quoted:
        records, lines = records + 1, lines + 1
    return records, blank, lines - 1


def write_table(path: Path, spec: Table, rows: list[dict[str, str]], dialect: Dialect, rng: random.Random,
                mutate: float = 0.7, only: set[int] | None = None) -> Facts:
    """Write `rows` as a CSV file in `dialect`, each mutated with probability `mutate` (or exactly the rows `only`
    when given); return what was written."""
    mutator = Mutator(spec, dialect, rng)
    facts = Facts(rows=len(rows))
    header = [_header_name(spec, c, rng) for c in spec.column_names]
    lines = [dialect.sep.join(mutator.cell(h) for h in header)]
    for i, row in enumerate(rows):
        lines += mutator.lines(row, facts, mutate if only is None else float(i in only))
    if only is None:
        across_blocks(lines, mutator, rows, facts)
    text = dialect.newline.join(lines) + dialect.newline
    data = text.encode(dialect.encoding, "fuzz")
    if not is_utf8(data):
        # Design the files to load: a byte Windows-1252 leaves undefined refuses the whole file (see `refusal`).
        data = data.translate(bytes.maketrans(CP1252_UNDEFINED, b"?????"))
    if dialect.bom:
        data = codecs.BOM_UTF8 + data
    path.write_bytes(data)
    facts.data = data
    decoded = data.decode("utf-8-sig") if is_utf8(data) else data.removeprefix(codecs.BOM_UTF8).decode("cp1252")
    facts.records, facts.blank_lines, facts.lines = count_records(decoded, dialect.sep)
    return facts


#: The CSV reader's block size (pyarrow's default): it splits a file into blocks of this many bytes.
BLOCK = 1 << 20


def across_blocks(lines: list[str], mutator: Mutator, rows: list[dict[str, str]], facts: Facts) -> None:
    """At each 1 MiB mark of a large file, a row that starts before the mark and whose quoted line break falls after
    it: a reader that cuts blocks at any line break splits that row in two (random mutations rarely land there)."""
    dialect, spec = mutator.dialect, mutator.spec
    encoded = [(line + dialect.newline).encode(dialect.encoding, "fuzz") for line in lines]
    utf8 = all(is_utf8(b) for b in encoded)

    def size(line: str) -> int:  # bytes as the reader sees them (a Windows-1252 file is transcoded to UTF-8 first)
        data = line.encode(dialect.encoding, "fuzz")
        if utf8:
            return len(data)
        return len(data.translate(bytes.maketrans(CP1252_UNDEFINED, b"?????")).decode("cp1252").encode("utf-8"))

    sizes = [size(line + dialect.newline) for line in lines]
    own = [c for c in spec.key if c in spec.column_names and not spec.column(c).references]
    mark = BLOCK
    while mark < sum(sizes) - BLOCK // 10:
        starts = [3 * dialect.bom, *accumulate(sizes)]
        k = next(i for i in range(len(lines)) if starts[i + 1] >= mark)
        j = k if mark - starts[k] >= 40 else k - 1
        if j >= 1:
            fields = [rows[mutator.rng.randrange(len(rows))].get(c, "") for c in spec.column_names]
            if own:
                i = spec.column_names.index(own[0])
                fields[i] = f"{fields[i]}-across{mark // BLOCK}"
            prefix = "".join(mutator.cell(f) + dialect.sep for f in fields[:-1]) + '"'
            pad = max(1, mark + 40 - starts[j] - size(prefix))
            lines[j] = f'{prefix}{"x" * pad}\nthe far side of the mark"'
            sizes[j] = size(lines[j] + dialect.newline)
            facts.ops["across_block"] += 1
        mark += BLOCK


def _header_name(spec: Table, name: str, rng: random.Random) -> str:
    """The column's canonical name or NDTMS alias, in any case, maybe with spaces around."""
    aliases = spec.column(name).aliases
    chosen = rng.choice([name, *aliases]) if aliases and rng.random() < 0.5 else name
    chosen = rng.choice([chosen, chosen.upper(), chosen.title()])
    return rng.choice([chosen, chosen, f" {chosen} "])


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Loading and checking


def check_load(wh: Warehouse, spec: Table, result: LoadResult, facts: Facts, dialect: Dialect, report: Report) -> None:
    """The invariants of one table's load; failures are added to `report`."""
    fail = report.failures.append
    (tl,) = [t for t in result.tables if t.table == spec.name]
    report.read, report.loaded, report.kept_aside = tl.rows_read, tl.rows_loaded, tl.rows_quarantined
    if report.read != report.loaded + report.kept_aside:
        fail(f"rows read {report.read} != loaded {report.loaded} + kept aside {report.kept_aside}")
    if report.read != facts.records:
        fail(f"rows read {report.read} != {facts.records} records written")
    if tl.rows_new != report.loaded:
        fail(f"a fresh warehouse: {tl.rows_new} new of {report.loaded} loaded")
    (stored,) = wh.execute(f'SELECT count(*) FROM "{spec.name}"')[0]
    if stored != report.loaded:
        fail(f"the table holds {stored} rows, not the {report.loaded} loaded")
    q = "FROM quarantine WHERE table_name = ?"
    (empty,) = wh.execute(
        f"SELECT count(*) {q} AND (coalesce(trim(rule), '') = '' OR coalesce(trim(reason), '') = '')", [spec.name]
    )[0]
    if empty:
        fail(f"{empty} quarantine entries without a rule or a reason")
    report.rules = sorted(str(r) for (r,) in wh.execute(f"SELECT DISTINCT rule {q}", [spec.name]))
    undocumented = set(report.rules) - DOCUMENTED_RULES
    if undocumented:
        fail(f"rules not in docs/loading.md: {sorted(undocumented)}")
    kept = {int(r) for (r,) in wh.execute(f"SELECT DISTINCT row_number {q}", [spec.name])}
    loaded = {int(r) for (r,) in wh.execute(f'SELECT source_row FROM "{spec.name}"')}
    if len(kept) != report.kept_aside:
        fail(f"{len(kept)} distinct rows in the quarantine, {report.kept_aside} counted as kept aside")
    if len(loaded) != report.loaded:
        fail(f"{len(loaded)} distinct source rows stored, {report.loaded} counted as loaded")
    if kept & loaded:
        fail(f"{len(kept & loaded)} rows both stored and kept aside, e.g. row {min(kept & loaded)}")
    every = set(range(2, report.read + 2))
    if (kept | loaded) != every:
        lost = sorted(every - kept - loaded)[:5]
        fail(f"{len(every - kept - loaded)} rows neither stored nor kept aside (e.g. {lost}); "
             f"{len((kept | loaded) - every)} row numbers outside 2..{report.read + 1}")
    try:
        wh.to_arrow(wh.table(spec.name)).to_pylist()
    except Exception as exc:  # a stored value that cannot be read back breaks every report that reads it
        fail(f"the stored rows do not read back: {type(exc).__name__}: {exc}")
    notes = " ".join(tl.notes)
    if ("Windows-1252" in notes) == is_utf8(facts.data.removeprefix(codecs.BOM_UTF8)):
        fail(f"notes {tl.notes!r} do not match the file's encoding")
    separator = {",": "", ";": "semicolon-separated", "\t": "tab-separated"}[dialect.sep]
    if separator and separator not in notes:
        fail(f"notes {tl.notes!r} do not say {separator}")


def fuzz_table(spec: Table, base: dict[str, list[dict[str, str]]], n: int, dialect: Dialect, seed: int,
               out: Path) -> tuple[Report, Path]:
    """Write, load and check one table's fuzzed file; return the report and the extract's folder."""
    rng = random.Random(f"{seed}:{spec.name}")
    folder = out / spec.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for parent in parents(spec):
        write_table(folder / f"{parent}.csv", table(parent), base[parent], Dialect("utf-8"), rng, mutate=0.0)
    rows = unique_rows(spec, base[spec.name], n, rng)
    facts = write_table(folder / f"{FILE_NAMES.get(spec.name, spec.name)}.csv", spec, rows, dialect, rng)
    report = Report(spec.name, dialect.name, facts.ops, rows=facts.rows, mutated=facts.mutated, lines=facts.lines,
                    blank=facts.blank_lines, records=facts.records)
    db = out / f"{spec.name}.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        with open_warehouse(db) as wh:
            result = load_extract(wh, folder)
            report.seconds = time.perf_counter() - started
            for tl in result.tables:
                if tl.table != spec.name and (tl.rows_read != tl.rows_loaded or tl.rows_quarantined):
                    report.failures.append(f"clean parent {tl.table}: {tl.rows_quarantined} of {tl.rows_read} "
                                           "rows kept aside")
            check_load(wh, spec, result, facts, dialect, report)
    except DataError as exc:
        report.seconds = time.perf_counter() - started
        report.refused = str(exc)
        report.failures.append(f"refused a file the documented rules accept: {exc}")
    except Exception:
        report.seconds = time.perf_counter() - started
        report.failures.append("exception:\n" + traceback.format_exc())
    return report, folder


def refusal(spec: Table, base: dict[str, list[dict[str, str]]], seed: int, out: Path) -> list[str]:
    """A small file holding a byte that is neither UTF-8 nor Windows-1252 is refused whole, naming its line."""
    rng = random.Random(f"{seed}:{spec.name}:refusal")
    folder = out / f"{spec.name}-refused"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = unique_rows(spec, base[spec.name], 50, rng)
    line = rng.randrange(len(rows))
    victim = next((c for c in spec.column_names if spec.column(c).kind == "text"), spec.column_names[0])
    rows[line][victim] += chr(0xDC00 + rng.choice(CP1252_UNDEFINED)) + _stray("\xe9")
    path = folder / f"{FILE_NAMES.get(spec.name, spec.name)}.csv"
    text = "\n".join([",".join(spec.column_names), *(",".join(r.get(c, "") for c in spec.column_names)
                                                       for r in rows)]) + "\n"
    path.write_bytes(text.encode("utf-8", "fuzz"))
    db = out / f"{spec.name}-refused.duckdb"
    db.unlink(missing_ok=True)
    try:
        with open_warehouse(db) as wh:
            load_extract(wh, folder)
            return ["a file with a byte undefined in Windows-1252 loaded"]
    except DataError as exc:
        wanted = f"line {line + 2} holds byte"
        with open_warehouse(db) as wh:
            loads = wh.execute("SELECT count(*) FROM loads")[0][0]
        problems = [] if wanted in str(exc) else [f"the refusal does not say {wanted!r}: {exc}"]
        return problems + ([f"{loads} loads recorded by a refused load"] if loads else [])
    except Exception:
        return ["exception:\n" + traceback.format_exc()]


def cli_load(folder: Path, db: Path, refused: bool = False) -> list[str]:
    """Load `folder` with the `recoverypbr load` command: exit 0 (or, when `refused`, 2 with a clean error message)
    and no traceback."""
    db.unlink(missing_ok=True)
    script = Path(sys.executable).with_name("recoverypbr")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "recoverypbr"]
    done = subprocess.run([*command, "load", str(folder), "--db", str(db)], capture_output=True, text=True,
                          errors="replace", timeout=900, check=False)
    problems = []
    if "Traceback" in done.stderr or "Traceback" in done.stdout:
        problems.append("a traceback reached the user:\n" + done.stderr[-3000:])
    wanted = 2 if refused else 0
    if done.returncode != wanted or (refused and "Error:" not in done.stdout + done.stderr):
        problems.append(f"exit code {done.returncode}, not {wanted}: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    return problems


def run(rows: int, seed: int, out: Path, clients: int, cli_tables: tuple[str, ...] = ("top",),
        only: tuple[str, ...] = ()) -> Outcome:
    """Fuzz every table (or `only` these), loading `cli_tables` by the CLI too."""
    out.mkdir(parents=True, exist_ok=True)
    base = base_extract(out / f"base-{clients}-seed{seed}", clients, seed)
    order = random.Random(seed).sample(DIALECTS, len(DIALECTS))
    outcome = Outcome()
    reports, other, cli_runs = outcome.reports, outcome.failures, outcome.cli_runs
    for i, spec in enumerate(TABLES):
        if only and spec.name not in only:
            continue
        report, folder = fuzz_table(spec, base, rows, order[i % len(order)], seed, out)
        reports.append(report)
        problems = refusal(spec, base, seed, out)
        outcome.refused += not problems
        other += [f"{spec.name} refusal probe: {p}" for p in problems]
        if spec.name in cli_tables and not report.failures:
            problems = cli_load(folder, out / f"{spec.name}-cli.duckdb")
            problems += cli_load(out / f"{spec.name}-refused", out / f"{spec.name}-cli-refused.duckdb", refused=True)
            other += [f"{spec.name} via the CLI: {p}" for p in problems]
            cli_runs.append(f"{spec.name}: `recoverypbr load` exit 0, and exit 2 with a clean message for the refused "
                            f"file; {'no traceback' if not problems else 'FAILED'}")
            with open_warehouse(out / f"{spec.name}-cli.duckdb", read_only=True) as wh:
                got = wh.execute("SELECT rows_read, rows_quarantined FROM load_files WHERE table_name = ?",
                                 [spec.name])
            if got != [(report.read, report.kept_aside)]:
                other.append(f"{spec.name} via the CLI: read/kept aside {got} != {report.read}/{report.kept_aside}")
    return outcome


def table_text(reports: list[Report]) -> str:
    head = ("table", "dialect", "rows", "mutated", "lines", "blank", "records", "read", "loaded", "kept aside",
            "rules", "s")
    body = [
        (r.table, r.dialect, f"{r.rows:,}", f"{r.mutated:,}", f"{r.lines:,}", f"{r.blank:,}", f"{r.records:,}",
         f"{r.read:,}", f"{r.loaded:,}", f"{r.kept_aside:,}", str(len(r.rules)), f"{r.seconds:.1f}")
        for r in reports
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in [head, *body]]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows written per table")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="working folder (files, warehouses)")
    parser.add_argument("--clients", type=int, default=2000, help="clients in the synthetic area started from")
    parser.add_argument("--table", action="append", default=[], help="only this table (repeatable)")
    parser.add_argument("--cli", default="top", help="tables also loaded by the CLI (comma-separated)")
    args = parser.parse_args()
    started = time.perf_counter()
    outcome = run(args.rows, args.seed, args.out, args.clients, tuple(args.cli.split(",")), tuple(args.table))
    reports = outcome.reports
    print(f"load fuzz: {args.rows:,} rows per table, seed {args.seed}, {args.clients:,} synthetic clients, "
          f"{dt.date.today().isoformat()}")
    print(table_text(reports))
    print("rows: rows generated; lines: physical data lines written (junk lines added, rows split by an unquoted "
          "line break); blank: empty lines, which the reader skips; records: lines - blank - lines inside quoted "
          "values, counted by this script; read, loaded, kept aside: the load's counts")
    print("rules seen: " + ", ".join(sorted({rule for r in reports for rule in r.rules})))
    ops = sum((r.ops for r in reports), Counter())
    print("mutations applied: " + ", ".join(f"{op} {n:,}" for op, n in sorted(ops.items(), key=lambda o: -o[1])))
    print(f"refusal probes: {outcome.refused} of {len(reports)} files holding a byte undefined in Windows-1252 "
          "refused whole, naming the line, nothing recorded")
    for line in outcome.cli_runs:
        print("CLI " + line)
    print(f"total {time.perf_counter() - started:.0f} s")
    failures = outcome.all_failures()
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    if failures:
        raise SystemExit(1)
    print("every row loaded or was kept aside with a reason; the counts add up")


if __name__ == "__main__":
    main()
