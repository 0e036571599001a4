"""Detection measured: recall and false alarms of `assure monitor` on synthetic areas with injected gaming.

    python bench/assurance.py [--seeds 20] [--clients 5000] [--providers 4] [--strength 0.3] [--jobs 2]
                              [--big 100000]

For each seed, one clean area and one area per gaming kind (`synth --providers N --gaming KIND=STRENGTH
--gaming-provider P`, the gaming provider turning with the seed) are generated and loaded (cached under
bench/.cache/), then monitored as of 2015-03-31 (the contract's last day) against contracts/marlshire.yaml.

- **Recall** of a kind: the share of its gamed areas in which the gaming provider is flagged for that kind's family.
- **False alarms** of a family: the share of clean providers on clean areas flagged for that family.
  Targets: recall >= 0.9 at moderate strength; false alarms <= 0.05 per family.
- Also: clean providers flagged in gamed areas (any family), per kind.

`--big N` also monitors one N-client area (5 providers, clean) as of the same date, in a child process, and reports
its time and peak memory (acceptance: under 30 s on the 2-core machine for 100,000 clients).
Results go to bench/assurance-report.txt and bench/assurance-report.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"
ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
AS_OF = "2015-03-31"
KINDS = ("assessment", "creaming_parking", "timing", "misrepresentation")
FAMILIES = ("assessment", "creaming_parking", "timing", "misrepresentation", "feedback")

ONE_AREA = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from recoverypbr.assurance.monitor import flags_by_family, monitor
from recoverypbr.contract.load import load_contract
from recoverypbr.data.ingest import load_extract
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import open_warehouse

seed, clients, providers, kind, strength, gamer, folder = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
    sys.argv[4], float(sys.argv[5]), sys.argv[6], Path(sys.argv[7]))
contract = load_contract(sys.argv[8])
as_of = date.fromisoformat(sys.argv[9])
db = folder / "area.duckdb"
if not (folder / ".loaded").exists():
    gaming = None if kind == "clean" else {kind: strength}
    generate_area(clients, seed, folder / "extract", "parquet", providers=providers, gaming=gaming,
                  gaming_provider=gamer if gaming else None)
    if db.exists():
        db.unlink()
    with open_warehouse(db) as wh:
        load_extract(wh, folder / "extract")
    (folder / ".loaded").write_text("ok")
start = time.perf_counter()
with open_warehouse(db, read_only=True) as wh:
    result = monitor(wh, contract, as_of)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({"flags": flags_by_family(result), "seconds": seconds, "peak_gib": peak,
                  "indicators": sorted({(r.provider_id, r.family, r.indicator) for r in result.flags()})}))
"""


def run_area(seed: int, clients: int, providers: int, kind: str, strength: float, gamer: str) -> dict:
    tag = "clean" if kind == "clean" else f"{kind}-{strength:g}-{gamer}"
    folder = CACHE / f"assurance-{clients}-p{providers}-seed{seed}-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", ONE_AREA, str(seed), str(clients), str(providers), kind,
                           str(strength), gamer, str(folder), str(CONTRACT), AS_OF],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"seed {seed} {kind} failed:\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seed": seed, "kind": kind, "gamer": gamer, **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--providers", type=int, default=4)
    parser.add_argument("--strength", type=float, default=0.3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--big", type=int, default=0)
    args = parser.parse_args()
    ids = [f"P{i:02d}" for i in range(1, args.providers + 1)]
    tasks = []
    for seed in range(1, args.seeds + 1):
        gamer = ids[seed % len(ids)]
        tasks.append((seed, args.clients, args.providers, "clean", 0.0, gamer))
        tasks.extend((seed, args.clients, args.providers, kind, args.strength, gamer) for kind in KINDS)
    started = time.perf_counter()
    if not tasks:  # --seeds 0: only the large area's time
        big = run_area(1, args.big, 5, "clean", 0.0, "P01")
        print(f"monitor of a {args.big:,}-client area: {big['seconds']:.1f} s, peak {big['peak_gib']:.2f} GiB")
        return
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda t: run_area(*t), tasks))
    lines = [f"assure monitor on {args.seeds} seeds x {args.clients:,}-client areas, {args.providers} providers, "
             f"gaming strength {args.strength:g}, as of {AS_OF} ({time.perf_counter() - started:,.0f} s in all)", ""]
    table: dict[str, dict[str, object]] = {}
    clean = [r for r in results if r["kind"] == "clean"]
    for family in FAMILIES:
        trials = [r["flags"][p][family] for r in clean for p in r["flags"]]
        table[family] = {"false_alarms": sum(trials), "clean_trials": len(trials),
                         "false_alarm_rate": sum(trials) / len(trials) if trials else None}
    for kind in KINDS:
        gamed = [r for r in results if r["kind"] == kind]
        hits = [r["flags"][r["gamer"]][kind] for r in gamed]
        others = [r["flags"][p][f] for r in gamed for p in r["flags"] if p != r["gamer"] for f in FAMILIES]
        table[kind].update({"recall": sum(hits) / len(hits), "detected": sum(hits), "gamed_areas": len(hits),
                            "clean_providers_flagged_in_gamed_areas": sum(others) / len(others)})
    lines.append(f"{'family':<20} {'recall':>14} {'false alarms':>14} {'clean flagged in gamed areas':>30}")
    for family in FAMILIES:
        row = table[family]
        recall = f"{row['recall']:.2f} ({row['detected']}/{row['gamed_areas']})" if "recall" in row else "n/a"
        alarms = f"{row['false_alarm_rate']:.3f} ({row['false_alarms']}/{row['clean_trials']})"
        other = f"{row['clean_providers_flagged_in_gamed_areas']:.3f}" if "recall" in row else ""
        lines.append(f"{family:<20} {recall:>14} {alarms:>14} {other:>30}")
    times = sorted(r["seconds"] for r in results)
    lines += ["", f"monitor time per {args.clients:,}-client area: median {times[len(times) // 2]:.1f} s, "
              f"max {times[-1]:.1f} s"]
    report = {"args": vars(args), "table": table, "results": results}
    if args.big:
        big = run_area(1, args.big, 5, "clean", 0.0, "P01")
        lines.append(f"monitor of a {args.big:,}-client area: {big['seconds']:.1f} s, peak {big['peak_gib']:.2f} GiB")
        report["big"] = big
    text = "\n".join(lines) + "\n"
    print(text)
    (Path(__file__).parent / "assurance-report.txt").write_text(text)
    (Path(__file__).parent / "assurance-report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
