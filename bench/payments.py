"""Benchmark: `recoverypbr pay` for the last quarter of the third contract year on the million-client area.

    python bench/payments.py [--clients 1000000] [--engine duckdb,postgresql] [--pg-url URL]

The Parquet area is generated once and loaded once into a cached DuckDB warehouse (as bench/outcomes.py does).
Each engine gets a fresh copy of the loaded area (DuckDB: a copy of the file; PostgreSQL: a new database on the
server at --pg-url, or on a temporary server this script starts from /usr/lib/postgresql/15/bin, loaded with
`recoverypbr load`; neither is timed). Then, in a child process each, timed end to end:

1. **cold**: `recoverypbr pay --contract contracts/marlshire.yaml --period 2015-Q1` writing every format (CSV, JSON,
   XLSX, PDF) with nothing priced before: the outcomes are evaluated, every period from the contract's start is
   priced (and kept), the statements are made and written;
2. **again**: the same command once more, as after a review: the priced periods are read back instead.

Printed per engine and run: wall time and the child's peak resident memory (the PostgreSQL server's own memory is
not in it), then whether the statement files are byte for byte the same across engines. Targets on a 2-core
machine: DuckDB cold under 60 s and under 4 GB; PostgreSQL within 3x of DuckDB. A JSON report is written to
bench/payments-report.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from outcomes import CACHE, area, warehouse  # noqa: E402  (bench scripts share the cached area)

CONTRACT = ROOT / "contracts" / "marlshire.yaml"


def run_pay(db: str, out: Path, period: str, formats: str) -> tuple[float, int]:
    """`recoverypbr pay` in a child process: (wall seconds, peak RSS bytes)."""
    command = [sys.executable, "-m", "recoverypbr", "pay", "--contract", str(CONTRACT), "--period", period,
               "--out", str(out), "--db", db, "--format", formats]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"pay failed ({' '.join(command)}):\n{errors}")
    if errors.strip():
        print(f"  (the command wrote to its error stream: {errors.strip()[:300]})")
    return wall, usage.ru_maxrss * 1024


def file_digests(folder: Path) -> dict[str, str]:
    """Statement file name -> SHA-256, for every file of the period's set."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("statement_*"))}


def duckdb_copy(loaded: Path, work: Path) -> str:
    target = work / "area.duckdb"
    shutil.copyfile(loaded, target)
    return str(target)


def postgres_copy(url: str, extract: Path, work: Path) -> str:
    """A new database on the server, loaded with the area (not timed)."""
    import psycopg

    name = f"bench_pay_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = url.rsplit("/", 1)[0] + f"/{name}"
    print(f"  loading {extract.name} into PostgreSQL database {name} (not timed) ...", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recoverypbr", "load", str(extract), "--db", db_url], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return db_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--period", default="2015-Q1", help="the last quarter of the third contract year")
    parser.add_argument("--engine", default="duckdb,postgresql", help="comma-separated: duckdb, postgresql")
    parser.add_argument("--formats", default="csv,json,xlsx,pdf", help="the statement formats pay writes")
    parser.add_argument("--pg-url", default=os.environ.get("RECOVERYPBR_BENCH_PG"),
                        help="a PostgreSQL server's URL with rights to create databases (default: start one)")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    CACHE.mkdir(exist_ok=True)
    extract = area(args.clients, args.seed)
    loaded = warehouse(extract)
    report: dict[str, dict[str, float]] = {}
    digests: dict[str, dict[str, str]] = {}
    server = None
    with tempfile.TemporaryDirectory(prefix="bench-pay-") as tmp:
        work = Path(tmp)
        try:
            for engine in engines:
                print(f"{engine}:", flush=True)
                if engine == "duckdb":
                    db = duckdb_copy(loaded, work)
                elif engine == "postgresql":
                    url = args.pg_url
                    if url is None:
                        sys.path.insert(0, str(ROOT / "tests"))
                        from pg import start_server  # the tests' own server: a temporary folder, loopback only

                        server = start_server()
                        url = server.url("postgres")
                    db = postgres_copy(url, extract, work)
                else:
                    raise SystemExit(f"unknown engine {engine!r}: choose duckdb or postgresql")
                for run in ("cold", "again"):
                    out = work / f"{engine}-{run}"
                    wall, peak = run_pay(db, out, args.period, args.formats)
                    report[f"{engine} {run}"] = {"seconds": round(wall, 1), "peak_gib": round(peak / 2**30, 2)}
                    print(f"  {run:<6} {wall:7.1f} s   peak {peak / 2**30:5.2f} GiB", flush=True)
                    digests[f"{engine} {run}"] = file_digests(out / args.period)
        finally:
            if server is not None:
                server.stop()
    first = next(iter(digests.values()))
    same = all(d == first for d in digests.values())
    files = len(first)
    print(f"statement files     {files} per run; byte for byte the same in every run and engine: {same}")
    if "duckdb cold" in report and "postgresql cold" in report:
        ratio = report["postgresql cold"]["seconds"] / report["duckdb cold"]["seconds"]
        print(f"PostgreSQL / DuckDB {ratio:.2f}x (cold)")
    (HERE / "payments-report.json").write_text(json.dumps(
        {"clients": args.clients, "period": args.period, "formats": args.formats, "runs": report, "files": files,
         "same_bytes": same},
        indent=2) + "\n")
    if not same:
        raise SystemExit("the statement files differ between runs or engines")


if __name__ == "__main__":
    main()
