"""Mutation testing of `payments/` and `outcomes/`: small realistic changes to the source, one at a time, each run
against the tests of its package. A mutant the tests fail on is killed; one they pass is a survivor, to be killed by
a new test or explained (an equivalent mutant) in docs/quality.md.

    .venv/bin/python bench/mutation.py --listed                  # the mutants issue 9 found surviving
    .venv/bin/python bench/mutation.py --sample 40 --seed 1      # 40 drawn from every mutant, reproducibly
    .venv/bin/python bench/mutation.py --list                    # every mutant, without running anything
    .venv/bin/python bench/mutation.py --rerun bench/mutation-report.json   # the survivors of the last run, again

Mutants are made from the syntax tree: comparisons turned (`<=` to `<`, `>=` to `>`, and back; `==` to `!=`),
`+` to `-`, `and` to `or`, `min` to `max`, and `ROUND_HALF_UP` to `ROUND_HALF_EVEN`, plus the listed mutants (the
seven of issue 9, as text substitutions). The work tree is never touched: each mutant is written into a copy of
the project, run with that copy's `src` first on the path. Slow tests are left out (`-m "not slow"`); each run stops
at its first failure. Writes a Markdown report (default bench/mutation-report.md) and the same as JSON beside it.
It is slow (minutes per survivor), so it runs outside CI; re-run it after changing either package.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "payments": ["tests/payments", "tests/statements"],
    "outcomes": ["tests/outcomes", "tests/payments/test_golden_statements.py"],
}
SWAPS = {ast.LtE: "<", ast.Lt: "<=", ast.GtE: ">", ast.Gt: ">=", ast.Eq: "!=", ast.NotEq: "=="}
SYMBOLS = {ast.LtE: "<=", ast.Lt: "<", ast.GtE: ">=", ast.Gt: ">", ast.Eq: "==", ast.NotEq: "!="}


@dataclass(frozen=True)
class Mutant:
    """One change: in `path` (relative to the project), the text `old` at `line` becomes `new`."""

    path: str
    line: int
    old: str
    new: str
    why: str

    @property
    def package(self) -> str:
        return self.path.split("/")[2]

    def apply(self, root: Path) -> None:
        file = root / self.path
        lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
        text = lines[self.line - 1]
        if self.old not in text:
            raise SystemExit(f"{self.path}:{self.line}: {self.old!r} not found; the listed mutants need updating")
        lines[self.line - 1] = text.replace(self.old, self.new, 1)
        file.write_text("".join(lines), encoding="utf-8")


#: The mutants issue 9 found surviving, by the text they change (the line is found at run time).
LISTED = [
    ("src/recoverypbr/outcomes/inputs.py", "table.filter(table[column] <= as_of)",
     "table.filter(table[column] < as_of)", "as-of filter <= to < (TOPs, events, presentations, offences)"),
    ("src/recoverypbr/outcomes/inputs.py", "known = started.discharge_date <= as_of",
     "known = started.discharge_date < as_of", "a discharge known only if before the as-of date"),
    ("src/recoverypbr/outcomes/recovery.py", "deteriorated.append((change >= threshold)",
     "deteriorated.append((change > threshold)", "reliable change's deterioration >= to >"),
    ("src/recoverypbr/payments/uplifts.py", "functools.reduce(operator.mul,",
     "functools.reduce(lambda a, f: Decimal(pence(a * f)) / PENNIES,", "an uplift rounded (half up) after each factor"),
    ("src/recoverypbr/payments/splits.py", 'p.role != "lasars"]', 'p.role != "nobody"]',
     "the cohort equal split including the LASARS"),
    ("src/recoverypbr/payments/fingerprint.py", 'not in ("as_of", "checked")',
     'not in ("as_of", "checked", "presentations")',
     "the fingerprint leaving out presentations"),
]


def find_listed() -> list[Mutant]:
    """The listed mutants located in today's source: each must still match exactly one line."""
    found = []
    for path, old, new, why in LISTED:
        text = (ROOT / path).read_text(encoding="utf-8").splitlines()
        hits = [i for i, line in enumerate(text, 1) if old in line]
        if not hits:
            raise SystemExit(f"{path}: {old!r} not found; update LISTED in bench/mutation.py")
        found.append(Mutant(path, hits[0], old, new, why))
    return found


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, source: list[str]) -> None:
        self.path, self.source, self.found = path, source, []

    def _add(self, node: ast.AST, old: str, new: str, why: str) -> None:
        line = getattr(node, "lineno", 0)
        if line and old in self.source[line - 1]:
            self.found.append(Mutant(self.path, line, old, new, why))

    def visit_Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            if type(op) in SWAPS:
                old = SYMBOLS[type(op)]
                self._add(node, f" {old} ", f" {SWAPS[type(op)]} ", f"{old} to {SWAPS[type(op)]}")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Add):
            self._add(node, " + ", " - ", "+ to -")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        if isinstance(node.op, ast.And):
            self._add(node, " and ", " or ", "and to or")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            other = "max" if node.func.id == "min" else "min"
            self._add(node, f"{node.func.id}(", f"{other}(", f"{node.func.id} to {other}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "ROUND_HALF_UP" and isinstance(node.ctx, ast.Load):
            self._add(node, "rounding=ROUND_HALF_UP", "rounding=ROUND_HALF_EVEN", "half up to half even")


def every_mutant() -> list[Mutant]:
    """Every syntax-tree mutant of payments/ and outcomes/, in file and line order (docstrings are not code)."""
    found: list[Mutant] = []
    for package in PACKAGES:
        for file in sorted((ROOT / "src" / "recoverypbr" / package).glob("*.py")):
            path = str(file.relative_to(ROOT))
            source = file.read_text(encoding="utf-8")
            finder = _Finder(path, source.splitlines())
            finder.visit(ast.parse(source))
            found += sorted(set(finder.found), key=lambda m: (m.line, m.old, m.new))
    return found


def copy_project(target: Path) -> None:
    for name in ("src", "tests", "contracts"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def run(mutant: Mutant, timeout: int) -> tuple[str, float, str]:
    """(killed | survived | timeout, seconds, the first failing test)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        root = Path(folder)
        copy_project(root)
        mutant.apply(root)
        env = dict(os.environ, PYTHONPATH=str(root / "src"), PYTHONDONTWRITEBYTECODE="1")
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                   *PACKAGES[mutant.package]]
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - started, ""
        seconds = time.monotonic() - started
        failed = next((line.split(" ")[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")), "")
        return ("killed" if done.returncode != 0 else "survived"), seconds, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listed", action="store_true", help="run the mutants issue 9 found surviving")
    parser.add_argument("--sample", type=int, default=0, help="run this many mutants drawn from every mutant")
    parser.add_argument("--seed", type=int, default=1, help="the draw's seed")
    parser.add_argument("--list", action="store_true", help="list every mutant and stop")
    parser.add_argument("--timeout", type=int, default=420, help="seconds per mutant (a timeout counts as killed)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (each in its own copy)")
    parser.add_argument("--rerun", type=Path, help="run again the survivors of an earlier run's JSON report")
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "mutation-report.md")
    args = parser.parse_args()
    everything = every_mutant()
    if args.list:
        for m in everything:
            print(f"{m.path}:{m.line}: {m.why}")
        print(f"{len(everything)} mutants")
        return
    chosen = find_listed() if args.listed else []
    if args.sample:
        chosen += random.Random(args.seed).sample(everything, min(args.sample, len(everything)))
    if args.rerun:
        kept = json.loads(args.rerun.read_text(encoding="utf-8"))
        chosen += [Mutant(**{k: m[k] for k in ("path", "line", "old", "new", "why")})
                   for m in kept if m["result"] == "survived"]
    rows = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run, mutant, args.timeout): mutant for mutant in chosen}
        for n, future in enumerate(as_completed(futures), 1):
            mutant = futures[future]
            outcome, seconds, failed = future.result()
            rows.append((mutant, outcome, seconds, failed))
            print(f"[{n}/{len(chosen)}] {outcome:8} {seconds:6.0f}s {mutant.path}:{mutant.line} {mutant.why}",
                  flush=True)
    rows.sort(key=lambda r: (r[0].path, r[0].line, r[0].new))
    write_report(args.report, rows, len(everything), args)


def write_report(path: Path, rows: list[tuple[Mutant, str, float, str]], total: int, args: argparse.Namespace) -> None:
    killed = sum(1 for _, outcome, _, _ in rows if outcome != "survived")
    lines = [
        "# Mutation report",
        "",
        f"Run: `bench/mutation.py{' --listed' if args.listed else ''}"
        f"{f' --sample {args.sample} --seed {args.seed}' if args.sample else ''}`; {total} mutants in all.",
        f"Killed {killed} of {len(rows)} ({100 * killed / max(len(rows), 1):.0f}%).",
        "",
        "| mutant | change | result | seconds | first failing test |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m, outcome, seconds, failed in rows:
        lines.append(f"| `{m.path}:{m.line}` | {m.why}: `{m.old}` to `{m.new}` | {outcome} | {seconds:.0f} | "
                     f"{failed or ''} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = [{"path": m.path, "line": m.line, "old": m.old, "new": m.new, "why": m.why, "result": outcome,
              "seconds": round(seconds), "first_failing_test": failed} for m, outcome, seconds, failed in rows]
    path.with_suffix(".json").write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    print(f"killed {killed} of {len(rows)}; report in {path}")


if __name__ == "__main__":
    main()
