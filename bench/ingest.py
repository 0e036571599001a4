"""Benchmark: load a synthetic area from Parquet into a fresh warehouse.

    python bench/ingest.py --clients 1000000

The area is generated once and cached under bench/.cache/ (same seed, same bytes). The load runs in a
child process so that its peak memory is its own; the figures printed are the load's wall time, rows per
second, and the child's peak resident memory. Targets on a 2-core machine: under 60 s and under 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"

LOADER = """
import json, sys, time
from recoverypbr import load_extract, open_warehouse
db, extract = sys.argv[1:3]
with open_warehouse(db) as wh:
    started = time.perf_counter()
    result = load_extract(wh, extract)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": result.rows_read, "loaded": result.rows_loaded,
                  "quarantined": result.rows_quarantined}))
"""


def area(clients: int, seed: int) -> Path:
    """The cached Parquet area, generated on first use."""
    folder = CACHE / f"area-{clients}-seed{seed}"
    done = folder / ".complete"
    if not done.exists():
        from recoverypbr.synth import generate_area

        print(f"generating {clients:,} clients into {folder} (once) ...", flush=True)
        started = time.perf_counter()
        generate_area(clients, seed, folder, "parquet")
        done.write_text("ok")
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def run_load(extract: Path) -> tuple[dict[str, float], int]:
    """Load in a child process; return its report and its peak RSS in bytes."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        child = subprocess.Popen(
            [sys.executable, "-c", LOADER, str(Path(tmp) / "bench.duckdb"), str(extract)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"the load failed with exit code {child.returncode}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    extract = area(args.clients, args.seed)
    size = sum(p.stat().st_size for p in extract.glob("*.parquet"))
    report, peak = run_load(extract)
    print(f"clients          {args.clients:,}")
    print(f"input            {size / 1e6:,.0f} MB of Parquet in {extract}")
    print(f"rows read        {report['rows']:,.0f} ({report['loaded']:,.0f} loaded, "
          f"{report['quarantined']:,.0f} quarantined)")
    print(f"load time        {report['seconds']:.1f} s")
    print(f"rows per second  {report['rows'] / report['seconds']:,.0f}")
    print(f"peak memory      {peak / 2**30:.2f} GiB (the loading process)")


if __name__ == "__main__":
    main()
