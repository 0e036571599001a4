"""Benchmark: `recoverypbr model risk` with 10,000 runs on the 5,000-client demo area, end to end.

    python bench/modelling.py [--runs 10000] [--clients 5000] [--years N]

The demo area (the `recoverypbr demo` extract: 5,000 clients, seed 1, shaped for contracts/marlshire.yaml) is
generated and loaded once under bench/.cache/, with its baseline (the year before go-live). The timed part runs the
command itself in a child process, so that its wall time includes start-up, the templates (the history moved onto
each contract year, outcomes and the engine's pricing) and every run, and its peak memory is its own. Target on a
2-core machine: under 30 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"
ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"

PREPARE = """
import sys
from pathlib import Path
from recoverypbr.contract.load import load_contract
from recoverypbr.data.ingest import load_extract
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import open_warehouse
clients, folder, contract = int(sys.argv[1]), Path(sys.argv[2]), load_contract(sys.argv[3])
generate_area(clients, 1, folder / "extract", "csv", dirty=True, contract=contract)
with open_warehouse(folder / "area.duckdb") as wh:
    load_extract(wh, folder / "extract")
"""


def prepared(clients: int) -> Path:
    """The cached demo area's folder (extract, warehouse and baseline), made on first use (not timed)."""
    folder = CACHE / f"modelling-{clients}-seed1"
    if not (folder / ".complete").exists():
        print(f"making the {clients:,}-client demo area in {folder} (once) ...", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", PREPARE, str(clients), str(folder), str(CONTRACT)], check=True)
        subprocess.run([sys.executable, "-m", "recoverypbr", "model", "baseline", "--contract", str(CONTRACT),
                        "--from", "2011-04-01", "--to", "2012-03-31", "--db", str(folder / "area.duckdb"),
                        "--out", str(folder / "baseline")], check=True, stdout=subprocess.DEVNULL)
        (folder / ".complete").write_text("ok")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--years", type=int, default=None, help="contract years to simulate (default: all)")
    args = parser.parse_args()
    folder = prepared(args.clients)
    command = [sys.executable, "-m", "recoverypbr", "model", "risk", "--contract", str(CONTRACT), "--baseline",
               str(folder / "baseline"), "--db", str(folder / "area.duckdb"), "--runs", str(args.runs),
               "--seed", "1", "--out", str(folder / "risk")]
    if args.years:
        command += ["--years", str(args.years)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"model risk failed with exit code {os.waitstatus_to_exitcode(status)}:\n{output}")
    print(output.rstrip())
    print(f"clients            {args.clients:,}")
    years = f"{args.years} contract year(s)" if args.years else "every contract year"
    print(f"runs               {args.runs:,} ({years})")
    print(f"wall time          {wall:.1f} s (the command in a child process, start-up included)")
    print(f"peak memory        {usage.ru_maxrss / 2**20:.2f} GiB (the child process)")


if __name__ == "__main__":
    main()
