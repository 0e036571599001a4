"""Commands `recoverypbr pay` and `recoverypbr approve`: a thin shell over `payments.run`.

The main app registers them with ``app.command("pay")(pay_command)`` and ``app.command("approve")(approve_command)``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recoverypbr._console import console, print_table, progress_bar, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.outcomes.cli import ContractOption, DbOption, parse_date
from recoverypbr.outcomes.ledger import build_ledger
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.payments.set_records import SetRecord, record_set, recorded_sets, same_providers
from recoverypbr.payments.statements import Statement
from recoverypbr.reports import FORMATS
from recoverypbr.reports.cells import safe_cell
from recoverypbr.reports.sets import LOOSE, WrittenSet, set_name, write_set
from recoverypbr.warehouse.connection import DEFAULT_DB, Warehouse, open_warehouse, warehouse_exists

PeriodOption = Annotated[
    str, typer.Option("--period", help="A statement period of the contract's schedule: 2013-Q1 or 2013-04.")
]
AsOfOption = Annotated[
    date | None,
    typer.Option(
        "--as-of",
        parser=parse_date,
        metavar="YYYY-MM-DD",
        help="Use only the rows dated on or before this date (default: the period's last day).",
    ),
]
ProviderOption = Annotated[
    list[str] | None, typer.Option("--provider", help="Only this provider's statement (repeat for several).")
]


def statements(
    wh: Warehouse, contract: Contract, period: Period, as_of: date, providers: Sequence[str] | None
) -> list[Statement]:
    """Evaluate the ledger as of the date (the data may have changed since it was last stored), then make the
    period's statements, with progress bars."""
    with progress_bar("Evaluating outcomes") as step:
        build_ledger(wh, contract, as_of, progress=step)
    with progress_bar("Pricing periods") as step:
        return make_statements(wh, contract, period, as_of, providers, progress=step, evaluate=False)


def _formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    return chosen


def pay_command(
    contract: ContractOption,
    period: PeriodOption,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the statements into (as a set in a folder named "
                                                    "after the period).")],
    as_of: AsOfOption = None,
    provider: ProviderOption = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated formats to write: csv, json, xlsx, pdf.")
    ] = ",".join(FORMATS),
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make each provider's payment statement for a period and write it as CSV, JSON, XLSX and PDF.

    The period's files are one set, in OUT/<period>/: they replace the period's earlier set whole, never file by
    file, and `recoverypbr verify` checks them."""
    chosen = _formats(formats)
    with user_errors(), _period_statements(contract, period, db, as_of, provider) as (model, chosen_period, wh, made):
        record = SetRecord(out.resolve(), as_of or chosen_period.end, tuple(provider) if provider else None,
                           tuple(chosen))
        written = write_period_set(wh, model, chosen_period, record, made, datetime.now(UTC), parallel=True)
    shown = out / written.folder.name
    print_summary(made, f"{model.area} payments for {chosen_period.label}, written to {shown}", everyone=not provider)
    _note_loose_files(out)


def write_period_set(
    wh: Warehouse, contract: Contract, period: Period, record: SetRecord, made: Sequence[Statement], at: datetime,
    parallel: bool = False,
) -> WrittenSet:
    """Write the statements as the period's set in `record.folder` (replacing its earlier set whole) and remember
    where and how, for `approve` to write it again."""
    written = write_set(record.folder, period.label, record.as_of.isoformat(), made, summary_csv(made),
                        record.formats, parallel=parallel)
    record_set(wh, contract, period, record, at)
    return written


def _note_loose_files(out: Path) -> None:
    loose = sorted(p.name for p in out.iterdir() if LOOSE.match(p.name) and p.is_file())
    if loose:
        console.print(f"[yellow]Note:[/] {out} also holds {len(loose)} statement file(s) outside any set (e.g. "
                      f"{loose[0]}), written there before statements were written as sets; they may be out of date. "
                      f"Move them away; `recoverypbr verify {out}` lists them.", highlight=False, soft_wrap=True)


def approve_command(
    contract: ContractOption,
    period: PeriodOption,
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded with the statement).")],
    as_of: AsOfOption = None,
    provider: ProviderOption = None,
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="Approve only if the statement still has this fingerprint (or prefix)."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note kept with the approval.")] = "",
    at: Annotated[
        datetime | None,
        typer.Option("--at", help="When it was approved (default: now, UTC).", formats=["%Y-%m-%dT%H:%M:%S"]),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the period's statements, as approved, into this folder.")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Approve a period's statements: they are stored and never rewritten; later changes become adjustments.

    Every folder `pay` wrote the period's statements into is written again (a new set, as pay wrote it, now saying
    approved), so no file there still says draft."""
    with user_errors(), _period_statements(contract, period, db, as_of, provider) as (model, chosen, wh, made):
        everyone = list(made)
        if not provider:
            # Without --provider, approve those still open; naming a provider that is approved is refused.
            for s in made:
                if s.status == "approved":
                    console.print(f"Already approved: {s.statement_id}", highlight=False)
            made = [s for s in made if s.status != "approved"] or made
        done = approve_statements(wh, made, by, at or datetime.now(UTC), fingerprint, note)
        for statement in done:
            console.print(f"Approved {statement.statement_id}: {pounds(statement.total_pence)} "
                          f"({len(statement.lines)} lines), fingerprint {statement.fingerprint[:12]}", highlight=False)
        now = {s.provider_id: s for s in everyone} | {s.provider_id: s for s in done}
        chosen_as_of, providers = as_of or chosen.end, tuple(provider) if provider else None
        targets = {r.folder: r for r in recorded_sets(wh, model, chosen)}
        if out is not None:
            targets[out.resolve()] = SetRecord(out.resolve(), chosen_as_of, providers, FORMATS)
        for record in targets.values():
            # A set made as approve made its statements is written from them; any other is made again, as pay did.
            same = record.as_of == chosen_as_of and same_providers(record.providers, providers)
            _write_set_again(wh, model, chosen, record, [now[s.provider_id] for s in everyone] if same else None,
                             asked=out is not None and record.folder == out.resolve())


def _write_set_again(
    wh: Warehouse, contract: Contract, period: Period, record: SetRecord, made: list[Statement] | None, asked: bool
) -> None:
    """Write the period's set into the folder again, as `record` says (from `made`, or made again), saying so; a
    folder pay wrote that no longer holds the set is left alone, and a failure leaves the earlier set, in words."""
    link = record.folder / set_name(period.label)
    if not asked and not link.is_symlink():
        console.print(f"Not written again: {link} is no longer there.", highlight=False, soft_wrap=True)
        return
    try:
        if made is None:
            made = statements(wh, contract, period, record.as_of, record.providers)
        write_period_set(wh, contract, period, record, made, datetime.now(UTC), parallel=True)
    except (RecoveryPbrError, OSError) as exc:
        console.print(f"[bold red]Not written again:[/] {link} still holds the statements as they were before this "
                      f"approval: {getattr(exc, 'message', exc)}", highlight=False, soft_wrap=True)
        return
    console.print(f"Wrote {link} again: " + ", ".join(f"{s.provider_id} {s.status}" for s in made) + ".",
                  highlight=False, soft_wrap=True)


@contextmanager
def _period_statements(
    contract: Path, period: str, db: Path, as_of: date | None, providers: Sequence[str] | None
) -> Iterator[tuple[Contract, Period, Warehouse, list[Statement]]]:
    """The contract, the schedule period, the open warehouse and the period's statements, for pay and approve."""
    model = load_contract(contract)
    if not warehouse_exists(db):
        raise RecoveryPbrError(f"no warehouse at {db}", hint="load an extract first (recoverypbr load) or pass --db")
    chosen = statement_period(model, period)
    with open_warehouse(db) as wh:
        yield model, chosen, wh, statements(wh, model, chosen, as_of or chosen.end, providers)


SUMMARY_HEADER = ("provider_id", "status", "lines", "total", "paid_this_year", "budget", "results_pot", "fingerprint")


def summary_csv(made: Sequence[Statement]) -> bytes:
    """One row per provider: status, lines, total, paid so far this contract year, budget and results money."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    for s in made:
        ytd = s.year_to_date_document() or {}
        writer.writerow([safe_cell(v) for v in (
            s.provider_id, s.status, len(s.lines), pounds(s.total_pence), ytd.get("paid_to_date", ""),
            ytd.get("budget", ""), ytd.get("results_pot", ""), s.fingerprint)])
    return buffer.getvalue().encode()


def print_summary(made: Sequence[Statement], title: str, everyone: bool = True) -> None:
    """Payments per provider: this period, paid so far this contract year and its share of the year's results
    money; the results money itself (one figure for the whole contract, all providers together) once, below."""
    table = Table(title=title)
    for name in ("provider", "status", "lines", "this period (£)", "paid this year (£)", "share of results money"):
        table.add_column(name, justify="left" if name in ("provider", "status") else "right")
    area_paid, ytd_shown = 0, None
    for s in made:
        ytd = s.year_to_date_document() or {}
        paid = _pence(ytd.get("paid_to_date"))
        area_paid += paid
        ytd_shown = ytd_shown or (ytd if ytd.get("results_pot") else None)
        share = _share(paid, ytd["results_pot"]) if ytd.get("results_pot") else "no results money set"
        table.add_row(s.provider_id, s.status, f"{len(s.lines):,}", f"{pounds(s.total_pence):,}",
                      _pounds(ytd.get("paid_to_date")) or "none yet", share)
    notes = []
    if ytd_shown is not None:
        pot = ytd_shown["results_pot"]
        notes.append(f"Results money this year ({ytd_shown['year']}): £{_pounds(pot)} for the whole contract, all "
                     f"providers together (budget £{_pounds(ytd_shown['budget'])} x {ytd_shown['share_on_results']} "
                     "paid on results). A provider's share is what it has been paid for this year's periods, as a "
                     "share of it.")
        who = "All providers" if everyone else "The providers shown"
        notes.append(f"{who}, for this contract year's periods: £{pounds(area_paid):,} of £{_pounds(pot)} results "
                     f"money ({_share(area_paid, pot)}).")
    elif made:
        notes.append("No results money is set for this contract year (no budget or share on results in force), so "
                     "no share is shown.")
    notes.append("Fingerprints: " + ", ".join(f"{s.provider_id} {s.fingerprint[:12]}" for s in made))
    print_table(table, notes)


def _pence(text: str | None) -> int:
    return int(Decimal(text or "0") * 100)


def _pounds(text: str | None) -> str:
    return "" if text in (None, "") else f"{pounds(_pence(text)):,}"


def _share(paid: int, pot: str) -> str:
    whole = _pence(pot)
    return f"{(Decimal(100 * paid) / whole).quantize(Decimal('0.1'))}%" if whole else "no results money"
