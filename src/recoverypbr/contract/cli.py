"""Commands for contracts and grouping: `recoverypbr contract schema|check|explain` and `recoverypbr assess`.

A thin shell over the library. The main app registers them with
``app.add_typer(contract_app, name="contract")`` and ``app.command("assess")(assess_command)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from recoverypbr._console import PlainFlagsGroup, console, print_table, user_errors
from recoverypbr.contract.explain import sections
from recoverypbr.contract.load import check_contract, load_contract
from recoverypbr.contract.rules import Report
from recoverypbr.contract.schema import contract_json_schema, reference_markdown, update_reference
from recoverypbr.warehouse.connection import DB_HELP, DEFAULT_DB

contract_app = typer.Typer(
    cls=PlainFlagsGroup,
    help="Contracts: the local payment-by-results model as a checked YAML file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ContractFile = Annotated[Path, typer.Argument(help="A contract YAML file (see contracts/).")]
#: Exit code of `check` when the contract has problems (2 is for errors such as an unreadable file).
PROBLEMS_EXIT = 1


@contract_app.command()
def schema(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["json", "markdown"],
        typer.Option("--format", help="json: the JSON Schema for editors; markdown: the field reference."),
    ] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of the screen.")] = None,
    update: Annotated[
        Path | None, typer.Option("--update", help="Rewrite the generated reference section of this Markdown file.")
    ] = None,
) -> None:
    """Print the contract format: JSON Schema (for editor autocompletion) or the field reference."""
    if update is not None:
        with user_errors():
            changed = update_reference(update)
        console.print(f"{update}: {'updated' if changed else 'already up to date'}")
        return
    text = json.dumps(contract_json_schema(), indent=2) + "\n" if fmt == "json" else reference_markdown()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"Wrote the contract {'JSON Schema' if fmt == 'json' else 'reference'} to {out}")


def _print_report(report: Report) -> None:
    for problem in report.problems:
        console.print(f"[bold]{problem.where(report.source)}[/]", highlight=False, soft_wrap=True)
        console.print(f"  [red]Problem:[/] {problem.message}", highlight=False, soft_wrap=True)
        console.print(f"  [yellow]Fix:[/] {problem.hint}", highlight=False, soft_wrap=True)
    count = len(report.problems)
    console.print(f"[bold red]{count} problem{'s' if count != 1 else ''}[/] in {report.source}", highlight=False)


@contract_app.command()
def check(ctx: typer.Context, file: ContractFile) -> None:
    """Validate a contract: every problem with its place in the file, what is wrong and how to fix it."""
    with user_errors():
        contract, report = check_contract(file)
    if not report.ok or contract is None:
        _print_report(report)
        raise typer.Exit(PROBLEMS_EXIT)
    console.print(
        f"[green]OK[/] {file}: {contract.area}, {contract.title}, in force from {contract.effective_from}; "
        f"{_count(len(contract.years), 'year')}, {_count(len(contract.providers), 'provider')}, "
        f"{_count(len(contract.outcomes), 'outcome')}, {_count(len(contract.group_ids), 'complexity group')}.",
        highlight=False,
        soft_wrap=True,
    )


@contract_app.command()
def explain(ctx: typer.Context, file: ContractFile) -> None:
    """Explain a contract in plain English: who is paid for what, how much is at risk, caps, groups."""
    with user_errors():
        contract = load_contract(file)
    for title, lines in sections(contract):
        console.print(f"[bold]{title}[/]", highlight=False)
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print()


def assess_command(
    ctx: typer.Context,
    contract: Annotated[Path, typer.Option("--contract", help="The contract whose grouping rules to apply.")],
    db: Annotated[Path, typer.Option("--db", help=DB_HELP, show_default=True)] = DEFAULT_DB,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write every disagreement to this CSV file.")] = None,
    limit: Annotated[int, typer.Option(help="Disagreements to show on screen.")] = 50,
) -> None:
    """Assign each episode's complexity group from its latest assessment, record the rule that fired, and list
    where the assessor's recorded group differs from the computed one."""
    from recoverypbr.assessment.grouping import assess, write_disagreements
    from recoverypbr.warehouse.connection import open_warehouse

    with user_errors():
        terms = load_contract(contract)
        with open_warehouse(db) as wh:
            result = assess(wh, terms)
    console.print(f"{result.area}, contract in force from {result.version}: {result.episodes:,} episodes grouped.",
                  highlight=False, soft_wrap=True)
    groups = Table(title="Episodes by complexity group")
    groups.add_column("complexity group")
    groups.add_column("episodes", justify="right")
    for group, count in result.by_group:
        groups.add_row(group, f"{count:,}")
    print_table(groups)
    console.print(f"Episodes with no assessment on or before their start: {result.no_assessment:,}", highlight=False,
                  soft_wrap=True)
    _print_disagreements(result.disagreements, limit)
    if csv is not None:
        written = write_disagreements(result, csv)
        console.print(f"Wrote {written:,} disagreements to {csv}")


def _print_disagreements(rows: list[dict[str, object]], limit: int) -> None:
    if not rows:
        console.print("The recorded group agrees with the computed group for every assessed episode.")
        return
    console.print(f"The recorded group differs from the computed group for {len(rows):,} episodes:", highlight=False,
                  soft_wrap=True)
    table = Table(title="Disagreements with the recorded group")
    for name in ("episode", "client", "recorded", "computed", "rule"):
        table.add_column(name, overflow="fold")
    for row in rows[:limit]:
        table.add_row(*(str(row[key]) for key in ("episode_id", "client_id", "recorded_group", "complexity_group",
                                                   "rule_text")))
    print_table(table)
    if len(rows) > limit:
        console.print(f"Showing {limit:,} of {len(rows):,}; use --limit or --csv FILE for all.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
