"""Calibration of `model risk` on held-back synthetic years: does the 90% interval hold the realised spend?

    python bench/risk_calibration.py [--seeds 30] [--clients 1500] [--runs 2000]

For each seed, a synthetic area shaped for contracts/marlshire.yaml is generated and loaded (cached under
bench/.cache/). The baseline is the contract's first year (episodes started 2012-04-01 to 2013-03-31); the risk
model, built on that year's history only, simulates the second contract year; the realised spend is what the
payments engine pays for the second year on the area's own data (every statement period of the year, as of its last
day). Printed per seed: the 5th, 50th and 95th percentile of simulated spend, the realised spend and whether it lies
inside; then the share of seeds covered. Acceptance: 80% to 97% over 30 or more seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"
ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"

ONE_SEED = """
import json, sys
from datetime import date
from pathlib import Path
import numpy as np
from recoverypbr.contract.load import load_contract
from recoverypbr.data.ingest import load_extract
from recoverypbr.modelling.baseline import make_baseline
from recoverypbr.modelling.risk import simulate
from recoverypbr.modelling.template import year_template
from recoverypbr.payments.run import price_up_to, schedule
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import open_warehouse

seed, clients, runs, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
contract = load_contract(sys.argv[5])
db = folder / "area.duckdb"
if not (folder / ".loaded").exists():
    generate_area(clients, seed, folder / "extract", "csv", contract=contract)
    with open_warehouse(db) as wh:
        load_extract(wh, folder / "extract")
    (folder / ".loaded").write_text("ok")
first, second = contract.years[0], contract.years[1]
with open_warehouse(db) as wh:
    baseline = make_baseline(wh, contract, first.start, first.end, "")
    template = year_template(wh, contract, first.start, 1)
    result = simulate(contract, [template], baseline, runs, seed)
    periods = [q for q in schedule(contract) if second.start <= q.start <= second.end]
    priced = price_up_to(wh, contract, periods[-1], second.end)
    realised = sum(priced.payments[q.label].total_pence for q in periods)
spend = result.paid.sum(axis=(1, 2))
low, mid, high = (int(np.quantile(spend, p, method="inverted_cdf")) for p in (0.05, 0.5, 0.95))
print(json.dumps({"seed": seed, "p5": low, "p50": mid, "p95": high, "realised": realised}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    covered = 0
    print(f"{'seed':>4} {'p5':>12} {'median':>12} {'p95':>12} {'realised':>12}  inside", flush=True)
    for seed in range(1, args.seeds + 1):
        folder = CACHE / f"calibration-{args.clients}-seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        out = subprocess.run([sys.executable, "-c", ONE_SEED, str(seed), str(args.clients), str(args.runs),
                              str(folder), str(CONTRACT)], check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        inside = row["p5"] <= row["realised"] <= row["p95"]
        covered += inside
        print(f"{seed:>4} {row['p5'] / 100:>12,.2f} {row['p50'] / 100:>12,.2f} {row['p95'] / 100:>12,.2f} "
              f"{row['realised'] / 100:>12,.2f}  {'yes' if inside else 'NO'}", flush=True)
    print(f"covered {covered} of {args.seeds} seeds: {covered / args.seeds:.0%} (acceptance: 80% to 97%)")


if __name__ == "__main__":
    main()
