"""Benchmark: evaluate every national outcome for a synthetic area into the outcome ledger.

    python bench/outcomes.py --clients 1000000
    python bench/outcomes.py --clients 200000 --engine spark


The Parquet area is generated once and cached under bench/.cache/ (as bench/ingest.py does), and loaded once into
a cached warehouse beside it. The evaluation runs in a child process so that its peak memory is its own. Printed:
the evaluation's wall time, clients per second, the child's peak resident memory, and the ratio of the evaluation
time to the floor: the time DuckDB takes to scan the input columns the rules read, once. Targets on a 2-core
machine: under 60 s, under 6 GB, ratio under 10.

With `--engine spark` the same outcomes are evaluated on a local Spark (`local[2]`) reading the cached Parquet area
itself (no warehouse): the ledger rows are written to Parquet (a folder of part files) and counted back, and the
cohort measures computed. Printed: the evaluation's wall time (after the session started), the session's start-up,
and the peak resident memory of the child and its Java process together.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"

LOADER = """
import sys
from recoverypbr import load_extract, open_warehouse
with open_warehouse(sys.argv[1]) as wh:
    load_extract(wh, sys.argv[2])
"""
#: Opening a warehouse for writing brings its schema up to date: a cache loaded by an earlier recoverypbr is migrated
#: once, here, not inside a timed run (a load by this version stores what the migration adds).
MIGRATOR = """
import sys
from recoverypbr import open_warehouse
open_warehouse(sys.argv[1]).close()
"""

EVALUATOR = """
import datetime, json, sys, time
from recoverypbr import open_warehouse
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT
from recoverypbr.outcomes.ledger import build_ledger, cohort_measures

FLOOR = {
    "episodes": ["episode_id", "client_id", "provider_id", "start_date", "discharge_date", "discharge_reason",
                 "substances"],
    "top": ["top_id", "episode_id", "client_id", "top_date", "stage", "opiate_days", "crack_days", "cocaine_days",
            "amphetamine_days", "cannabis_days", "alcohol_days", "other_drug_days", "injecting_days",
            "acute_housing_problem", "quality_of_life"],
    "events": ["client_id", "episode_id", "event_date", "event_type"],
    "presentations": ["client_id", "presented_on", "setting"],
    "offending_individual": ["client_id", "offence_date"],
    "assessments": ["assessment_id", "client_id", "assessed_on"],
}
OUTCOMES = {
    "reliable_change": {"type": "reliable_change", "reliability": "0.8"},
    "abstinence": {"type": "abstinence"},
    "successful_completion": {"type": "successful_completion"},
    "no_representation": {"type": "no_representation_12m"},
    "no_offending_6m": {"type": "no_offending_6m"},
    "no_offending_12m": {"type": "no_offending_12m"},
    "reduced_offending": {"type": "offending_cohort_reduction", "cohort_id": "CJ-ALL", "target_reduction": "10%",
                          "amount": 1000},
    "ceased_injecting": {"type": "ceased_injecting"},
    "improved_housing": {"type": "improved_housing"},
    "hepatitis_b_course": {"type": "hepatitis_b_course"},
    "quality_of_life": {"type": "quality_of_life", "threshold": 14},
}


def scan_floor(wh):
    started = time.perf_counter()
    for table, columns in FLOOR.items():
        # hash() makes the engine read every value (a count could be answered from the column statistics).
        parts = ", ".join(f'sum(hash("{c}"))' for c in columns)
        wh.execute(f'SELECT {parts} FROM "{table}"')
    return time.perf_counter() - started


db, memory_limit = sys.argv[1:3]
contract = Contract.model_validate({**BASE_CONTRACT, "outcomes": OUTCOMES})
as_of = datetime.date(2016, 3, 31)
with open_warehouse(db, memory_limit=memory_limit) as wh:
    floor = min(scan_floor(wh) for _ in range(3))
    started = time.perf_counter()
    summary = build_ledger(wh, contract, as_of)
    cohort = cohort_measures(wh, contract, as_of)
    seconds = time.perf_counter() - started
    episodes = wh.execute("SELECT count(*) FROM episodes WHERE start_date <= ?", [as_of])[0][0]
print(json.dumps({"seconds": seconds, "floor": floor, "rows": summary.rows, "episodes": episodes,
                  "cohort_periods": sum(len(v) for v in cohort.values())}))
"""


SPARK_EVALUATOR = """
import datetime, json, sys, tempfile, time
from pathlib import Path
started = time.perf_counter()
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT
from recoverypbr.outcomes.ledger import cohort_measures
from recoverypbr.outcomes.spark import write_ledger
from recoverypbr.warehouse.spark import SparkWarehouse, local_session

OUTCOMES = __OUTCOMES__
session = local_session(cores=2, memory=sys.argv[2])
up = time.perf_counter() - started
contract = Contract.model_validate({**BASE_CONTRACT, "outcomes": OUTCOMES})
as_of = datetime.date(2016, 3, 31)
with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp, SparkWarehouse.from_parquet(sys.argv[1], session) as wh:
    started = time.perf_counter()
    summary = write_ledger(wh, contract, as_of, Path(tmp) / "ledger", single_file=False)
    cohort = cohort_measures(wh, contract, as_of)
    seconds = time.perf_counter() - started
    e = wh.table("episodes")
    episodes = wh.count(e.filter(e.start_date <= as_of))
session.stop()
print(json.dumps({"seconds": seconds, "startup": up, "rows": summary.rows, "episodes": episodes,
                  "cohort_periods": sum(len(v) for v in cohort.values())}))
"""


def _outcomes() -> str:
    """The OUTCOMES literal of the DuckDB evaluator, so that both engines evaluate the same contract."""
    start = EVALUATOR.index("OUTCOMES = ") + len("OUTCOMES = ")
    return EVALUATOR[start : EVALUATOR.index("\n}\n", start) + 2]


def run_spark_child(extract: Path, memory: str) -> tuple[dict[str, float], int]:
    """Evaluate on Spark in a child process; return its report and the peak RSS of the child and its JVM (polled:
    the JVM is the child's child, which `wait4` does not count once it has been reaped by the child)."""
    import psutil

    code = SPARK_EVALUATOR.replace("__OUTCOMES__", _outcomes())
    child = subprocess.Popen([sys.executable, "-c", code, str(extract), memory], stdout=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            family = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in family if p.is_running()))
        time.sleep(0.2)
    assert child.stdout is not None
    output = child.stdout.read()
    if child.returncode:
        raise SystemExit(f"the Spark evaluation failed with exit code {child.returncode}")
    return json.loads(output.strip().splitlines()[-1]), peak


def area(clients: int, seed: int) -> Path:
    """The cached Parquet area, generated on first use."""
    folder = CACHE / f"area-{clients}-seed{seed}"
    if not (folder / ".complete").exists():
        from recoverypbr.synth import generate_area

        print(f"generating {clients:,} clients into {folder} (once) ...", flush=True)
        generate_area(clients, seed, folder, "parquet")
        (folder / ".complete").write_text("ok")
    return folder


def warehouse(extract: Path) -> Path:
    """The cached warehouse with the area loaded, loaded on first use and brought to the current schema (neither
    timed)."""
    db = extract.with_suffix(".duckdb")
    done = extract.with_suffix(".loaded")
    if not done.exists():
        print(f"loading {extract} into {db} (once) ...", flush=True)
        db.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-c", LOADER, str(db), str(extract)], check=True)
        done.write_text("ok")
    subprocess.run([sys.executable, "-c", MIGRATOR, str(db)], check=True)
    return db


def run_child(db: Path, memory_limit: str) -> tuple[dict[str, float], int]:
    """Evaluate in a child process; return its report and its peak RSS in bytes."""
    child = subprocess.Popen(
        [sys.executable, "-c", EVALUATOR, str(db), memory_limit], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"the evaluation failed with exit code {os.waitstatus_to_exitcode(status)}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory limit for the evaluation")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-memory", default="8g", help="the Spark driver's heap (local mode: all the work)")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    if args.engine == "spark":
        spark(args)
        return
    db = warehouse(area(args.clients, args.seed))
    started = time.perf_counter()
    report, peak = run_child(db, args.memory_limit)
    wall = time.perf_counter() - started
    print(f"clients            {args.clients:,} ({report['episodes']:,.0f} episodes known on 2016-03-31)")
    print(
        f"ledger rows        {report['rows']:,.0f} (11 national outcomes; {report['cohort_periods']:.0f} "
        "cohort periods)"
    )
    print(f"evaluation time    {report['seconds']:.1f} s (child process {wall:.1f} s including start-up)")
    print(f"clients per second {args.clients / report['seconds']:,.0f}")
    print(f"peak memory        {peak / 2**30:.2f} GiB (the evaluating process)")
    print(f"scan floor         {report['floor']:.2f} s (DuckDB scanning the input columns once)")
    print(f"ratio to floor     {report['seconds'] / report['floor']:.1f}")


def spark(args: argparse.Namespace) -> None:
    """The Spark row: the same evaluation on local Spark over the cached Parquet area."""
    extract = area(args.clients, args.seed)
    started = time.perf_counter()
    report, peak = run_spark_child(extract, args.spark_memory)
    wall = time.perf_counter() - started
    print(f"engine             Spark {_pyspark_version()} local[2], driver memory {args.spark_memory}")
    print(f"clients            {args.clients:,} ({report['episodes']:,.0f} episodes known on 2016-03-31)")
    print(
        f"ledger rows        {report['rows']:,.0f} (11 national outcomes; {report['cohort_periods']:.0f} "
        "cohort periods)"
    )
    print(
        f"evaluation time    {report['seconds']:.1f} s (session start-up {report['startup']:.1f} s; child process "
        f"{wall:.1f} s in all)"
    )
    print(f"clients per second {args.clients / report['seconds']:,.0f}")
    print(f"peak memory        {peak / 2**30:.2f} GiB (the evaluating process and its JVM)")


def _pyspark_version() -> str:
    from importlib.metadata import version

    return version("pyspark")


if __name__ == "__main__":
    main()
