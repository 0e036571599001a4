"""Time and memory of writing one large statement in each format.

    python bench/statement_writing.py [--lines 200000] [--formats csv,json,xlsx,pdf] [--src PATH]

For each format, a child process makes a synthetic statement of `--lines` lines (tests/helpers.py's
`synthetic_statement`: kinds, outcomes, groups, amounts both ways), builds its document, and writes that format
alone with `reports.write_statement` into a temporary folder. It prints, per format: the seconds spent writing
(wall clock, and CPU: on a busy machine the CPU seconds are the steadier figure), the process's peak resident
memory (the statement and its document included) and how much of it the writing added (peak after writing less
peak before), the file's size, and any warning raised while writing.

`--src` runs the children against another copy of recoverypbr's source (e.g. an export of an earlier commit:
`git archive <commit> src | tar -x -C /tmp/old`, then `--src /tmp/old/src`), to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def child(fmt: str, lines: int, folder: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import synthetic_statement

    # Imported before measuring (write_statement imports the writers when first asked): only the writing counts.
    import recoverypbr.reports.pdf
    import recoverypbr.reports.xlsx  # noqa: F401
    from recoverypbr.reports import write_statement

    started = time.perf_counter()
    statement = synthetic_statement(lines)
    document = statement.document()
    built = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = _cpu()
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (path,) = write_statement(document, folder, [fmt])
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"format": fmt, "lines": len(document["lines"]), "build_s": built, "write_s": seconds, "cpu_s": cpu,
            "peak_mib": after / 1024, "added_mib": (after - before) / 1024, "bytes": path.stat().st_size,
            "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:80]}" for w in caught})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--formats", default="csv,json,xlsx,pdf")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the recoverypbr source to measure")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.lines, args.folder)))
        return 0
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    print(f"{args.lines:,} lines, recoverypbr from {args.src}")
    print(f"{'format':<6} {'write s':>8} {'CPU s':>7} {'peak MiB':>9} {'added MiB':>10} {'file MiB':>9}  warnings")
    failed = False
    for fmt in args.formats.split(","):
        with tempfile.TemporaryDirectory(prefix="statement-writing-") as folder:
            done = subprocess.run(
                [sys.executable, __file__, "--child", fmt, "--lines", str(args.lines), "--folder", folder],
                capture_output=True, text=True, env=env,
            )
        if done.returncode != 0:
            print(f"{fmt:<6} failed:\n{done.stderr}")
            failed = True
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{fmt:<6} {r['write_s']:>8.1f} {r['cpu_s']:>7.1f} {r['peak_mib']:>9.0f} {r['added_mib']:>10.0f} "
              f"{r['bytes'] / 2**20:>9.1f}  {'; '.join(r['warnings']) or 'none'}")
        if done.stderr.strip():
            print(f"       stderr: {done.stderr.strip()[:300]}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
