"""Kill `recoverypbr pay` with SIGKILL at random points; the statement folder must always hold one complete set.

    python bench/kill_pay.py [--tries 20] [--seed 1] [--clients 2000]

Makes a small synthetic area shaped for contracts/marlshire.yaml and loads it, then pays 2012-Q2 to completion
twice, as of two dates (2012-06-30 and 2012-09-30: two different sets of statements, by fingerprint), timing the
run and the part of it spent writing the set. Then, `--tries` times, it starts `pay` again as of the date the
folder does not hold and kills it (SIGKILL) after a random delay drawn with `--seed`: three tries in four while
the set is being written (after the run's folder appears under `.sets/`, within the shorter writing time measured),
the others anywhere in the run. After each kill, `recoverypbr verify` must pass on the period's folder and on the out
folder, and the period's set must be, by its statements' fingerprints, the old one or the new one. Finally one
more `pay` runs to completion and must leave nothing behind under `.sets/` but its own set.

Prints one row per try and exits 1 if any try fails. Runs in a temporary folder (kept with --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
PERIOD = "2012-Q2"
AS_OF = ("2012-06-30", "2012-09-30")
CLI = [sys.executable, "-m", "recoverypbr"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, env=_env())
    if check and done.returncode != 0:
        raise SystemExit(f"recoverypbr {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def _env() -> dict[str, str]:
    # A wide terminal, so verify's lines are not wrapped.
    return {**os.environ, "COLUMNS": "200"}


def pay_args(work: Path, as_of: str) -> list[str]:
    return ["pay", "--contract", str(CONTRACT), "--period", PERIOD, "--as-of", as_of, "--out", str(work / "out"),
            "--db", str(work / "w.duckdb")]


def runs(work: Path) -> set[str]:
    """The run folders under out/.sets/ (each run writes its set into one)."""
    store = work / "out" / ".sets"
    return {p.name for p in store.iterdir() if p.is_dir()} if store.is_dir() else set()


def current(work: Path) -> tuple[str, tuple[str, ...]] | None:
    """(the run folder the period's link leads to, the set's statement fingerprints), or None without a set."""
    link = work / "out" / PERIOD
    if not link.is_symlink():
        return None
    manifest = json.loads((link / f"manifest_{PERIOD}.json").read_text())
    return os.path.basename(os.readlink(link)), tuple(s["fingerprint"] for s in manifest["statements"])


def timed_pay(work: Path, as_of: str) -> tuple[float, float]:
    """Pay to completion; return (seconds to the run's folder appearing, seconds in all)."""
    before = runs(work)
    start = time.monotonic()
    child = subprocess.Popen([*CLI, *pay_args(work, as_of)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=_env())
    writing = None
    while child.poll() is None:
        if writing is None and runs(work) - before:
            writing = time.monotonic() - start
        time.sleep(0.002)
    total = time.monotonic() - start
    if child.returncode != 0:
        raise SystemExit(f"pay as of {as_of} failed: {child.stderr.read() if child.stderr else ''}")
    return (writing if writing is not None else total), total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    work = Path(tempfile.mkdtemp(prefix="kill-pay-"))
    try:
        run("synth", "--contract", str(CONTRACT), "--clients", str(options.clients), "--seed", "7", "--out",
            str(work / "area"))
        run("load", str(work / "area"), "--db", str(work / "w.duckdb"))
        sets: dict[str, tuple[str, ...]] = {}
        timings = []
        for as_of in AS_OF:
            timings.append(timed_pay(work, as_of))
            found = current(work)
            assert found is not None
            sets[as_of] = found[1]
        if sets[AS_OF[0]] == sets[AS_OF[1]]:
            raise SystemExit("the two as-of dates give the same statements: the test could not tell old from new")
        to_write = max(t[0] for t in timings)
        total = max(t[1] for t in timings)
        writing = min(t[1] - t[0] for t in timings)  # the shorter, so that fewer kills come after the end
        print(f"Area: {options.clients:,} clients; pay {PERIOD} takes {total:.1f} s, of which {writing:.2f} s "
              f"writing the set (its folder appears after {to_write:.1f} s). Seed {options.seed}.")
        print(f"{'try':>3}  {'as of':<10}  {'aim':<7}  {'killed after':>12}  {'at the kill':<24}  {'folder holds':<12}"
              f"  {'verify':<6}  {'left under .sets/':>17}  result")
        failures = 0
        for attempt in range(1, options.tries + 1):
            held = current(work)
            assert held is not None
            old = held[1]
            as_of = next(d for d in AS_OF if sets[d] != old)
            aim = "writing" if rng.random() < 0.75 else "anytime"
            delay = rng.uniform(0, writing) if aim == "writing" else rng.uniform(0, total * 1.05)
            before = runs(work)
            start = time.monotonic()
            child = subprocess.Popen([*CLI, *pay_args(work, as_of)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=_env())
            if aim == "writing":
                while not (runs(work) - before) and child.poll() is None:
                    time.sleep(0.001)
            time.sleep(delay)
            moment = ("had finished" if child.poll() is not None else
                      "set swapped in" if (current(work) or ("",))[0] != held[0] else
                      "writing the set" if runs(work) - before else "computing")
            child.send_signal(signal.SIGKILL)
            child.wait()
            killed_after = time.monotonic() - start
            checked = run("verify", str(work / "out" / PERIOD), check=False)
            whole = run("verify", str(work / "out"), check=False)
            now = current(work)
            holds = "nothing" if now is None else "old set" if now[1] == old else \
                "new set" if now[1] == sets[as_of] else "other"
            verified = checked.returncode == 0 and whole.returncode == 0 and "OK" in checked.stdout
            left = len(runs(work) - ({now[0]} if now else set()))
            ok = verified and holds in ("old set", "new set")
            failures += not ok
            print(f"{attempt:>3}  {as_of:<10}  {aim:<7}  {killed_after:>10.2f} s  {moment:<24}  {holds:<12}  "
                  f"{'OK' if verified else 'FAILED':<6}  {left:>17}  {'ok' if ok else 'FAIL'}")
            if not verified:
                print(checked.stdout + checked.stderr + whole.stdout + whole.stderr)
        held = current(work)
        assert held is not None
        as_of = next(d for d in AS_OF if sets[d] != held[1])
        run(*pay_args(work, as_of))
        final = current(work)
        leftovers = runs(work) - ({final[0]} if final else set())
        stray = [p.name for p in (work / "out" / ".sets").iterdir() if not p.is_dir()]
        clean = final is not None and final[1] == sets[as_of] and not leftovers and not stray
        print(f"After a last complete pay: the new set, {'and nothing else under .sets/' if clean else 'LEFT: '}"
              f"{'' if clean else ', '.join(sorted(leftovers) + stray)}")
        failures += not clean
        if failures:
            print(f"FAILED: {failures} of {options.tries + 1} checks ({options.tries} kills and the last pay).")
        else:
            print(f"All {options.tries} kills left a complete set, old or new, and verify passed every time.")
        return 1 if failures else 0
    finally:
        if options.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
