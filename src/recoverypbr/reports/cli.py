"""`recoverypbr verify DIR`: check statement sets on disk against their manifests.

The main app registers it with ``app.command("verify")(verify_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recoverypbr._console import console, user_errors
from recoverypbr.reports.sets import SetReport, verify_sets


def verify_command(
    folder: Annotated[Path, typer.Argument(help="A period's statement folder (OUT/2013-Q2), or the --out folder of "
                                                "pay, to check every period's set in it.")],
) -> None:
    """Check statement sets: every file the manifest names, unchanged, and nothing else; each statement's
    fingerprint and status as the manifest has them. Exits 1 if anything is wrong."""
    with user_errors():
        found = verify_sets(folder)
    for report in found.sets:
        shown = folder if report.folder == folder else folder / report.folder.name
        _print_report(shown, report)
    if found.outside:
        console.print(f"[bold red]Outside any set[/] in {folder} (written before statements were sets, or put there "
                      f"by hand; they may contradict the sets): {', '.join(found.outside)}", highlight=False,
                      soft_wrap=True)
    if not found.ok:
        bad = sum(not r.ok for r in found.sets)
        console.print(f"[bold red]Not verified:[/] {bad} of {len(found.sets)} sets failed"
                      + (f", {len(found.outside)} entries outside any set" if found.outside else "") + ".",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _print_report(shown: Path, report: SetReport) -> None:
    manifest = report.manifest
    if not report.ok:
        console.print(f"[bold red]FAILED[/] {shown}: {len(report.problems)} problem(s)", highlight=False,
                      soft_wrap=True)
        for problem in report.problems:
            console.print(f"  {problem}", highlight=False, soft_wrap=True)
        return
    assert manifest is not None
    contract = manifest["contract"] or {}
    console.print(f"[bold green]OK[/] {shown}: period {manifest['period']}, {contract.get('area', '')} (version "
                  f"{contract.get('version', '')}), as of {manifest['as_of']}; {len(manifest['statements'])} "
                  f"statement(s), {len(manifest['files']) + 1} files; set {report.sha256[:12]}", highlight=False,
                  soft_wrap=True)
    for s in manifest["statements"]:
        console.print(f"  {s['provider']} {s['status']}, fingerprint {s['fingerprint'][:12]}, {s['lines']} lines, "
                      f"total {s['total']}", highlight=False, soft_wrap=True)
