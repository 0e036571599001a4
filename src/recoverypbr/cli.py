"""The `recoverypbr` command: a thin shell over the library."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from recoverypbr import __version__
from recoverypbr._console import PlainFlagsGroup, console, debug_mode, print_table, progress_bar, user_errors
from recoverypbr.assurance.cli import assure_app
from recoverypbr.contract.cli import assess_command, contract_app
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.data import quarantine as q
from recoverypbr.data.ingest import LoadResult, load_extract
from recoverypbr.modelling.cli import model_app
from recoverypbr.outcomes.cli import explain_command, outcomes_command, show_outcomes
from recoverypbr.payments.cli import approve_command, pay_command, print_summary, statements, write_period_set
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import schedule, statement_period
from recoverypbr.payments.set_records import SetRecord
from recoverypbr.reports import FORMATS
from recoverypbr.reports.cli import verify_command
from recoverypbr.warehouse.connection import DB_HELP, DEFAULT_DB, Warehouse, open_warehouse
from recoverypbr.web.cli import audit_app, serve_command, users_app

app = typer.Typer(
    cls=PlainFlagsGroup,
    help="Payment by results for drug and alcohol recovery services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(contract_app, name="contract")
app.add_typer(model_app, name="model")
app.add_typer(assure_app, name="assure")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command("assess")(assess_command)
app.command("outcomes")(outcomes_command)
app.command("explain")(explain_command)
app.command("pay")(pay_command)
app.command("approve")(approve_command)
app.command("verify")(verify_command)
app.command("serve")(serve_command)

DbOption = Annotated[Path, typer.Option("--db", help=DB_HELP, show_default=True)]
Format = Literal["csv", "parquet", "xlsx"]


def _print_version(value: bool) -> None:
    if value:
        console.print(f"recoverypbr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Payment by results for drug and alcohol recovery services."""
    debug_mode["on"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _load_table(result: LoadResult) -> Table:
    table = Table(title=f"Load {result.load_id} from {result.source}")
    for name in ("table", "file", "read", "new", "updated", "unchanged", "quarantined"):
        table.add_column(name, justify="left" if name in ("table", "file") else "right")
    for t in result.tables:
        table.add_row(
            t.table, Path(t.file).name, *(f"{n:,}" for n in (t.rows_read, t.rows_new, t.rows_updated,
                                                              t.rows_unchanged, t.rows_quarantined))
        )
    table.add_row("[bold]all", "", *(f"[bold]{n:,}" for n in (
        result.rows_read, sum(t.rows_new for t in result.tables), sum(t.rows_updated for t in result.tables),
        sum(t.rows_unchanged for t in result.tables), result.rows_quarantined)))
    return table


def _rules_table(rows: list[tuple[str, str, int]], title: str) -> Table:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rule")
    table.add_column("rows", justify="right")
    for name, rule, count in rows:
        table.add_row(name, rule, f"{count:,}")
    return table


def _print_load(result: LoadResult) -> None:
    print_table(_load_table(result))
    for t in result.tables:
        if t.notes:
            console.print(f"{Path(t.file).name}: {'; '.join(t.notes)}.", highlight=False)
        if t.ignored_columns:
            console.print(f"[yellow]{Path(t.file).name}: ignored unknown column(s):[/] {', '.join(t.ignored_columns)}")
        for warning in t.warnings:
            console.print(f"[bold yellow]Warning:[/] {warning}.", highlight=False)
    if result.ignored_files:
        console.print(f"[yellow]Ignored files (not a known table):[/] {', '.join(result.ignored_files)}")
    if result.manifest:
        console.print(f"Every file matched the manifest {Path(result.manifest).name}: names, rows and SHA-256.",
                      highlight=False)
    if result.quarantine_by_rule:
        print_table(_rules_table(result.quarantine_by_rule, "Rows kept aside in this load, by rule"))
        console.print("See them with [bold]recoverypbr quarantine[/]; a row breaking two rules counts under each.")
        if any(rule == "knock_on" for _, rule, _ in result.quarantine_by_rule):
            console.print("[bold]knock_on[/] rows name a client or episode whose own row was kept aside: fix the "
                          "rows above and load again, and these load with them unless a rule of their own fails.")
    if result.rows_changed == 0:
        console.print("Nothing changed: every valid row was already in the warehouse.")


@app.command()
def load(
    path: Annotated[Path, typer.Argument(help="A folder of CSV/Parquet files, or one XLSX workbook.")],
    db: DbOption = DEFAULT_DB,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="A control file (CSV: file,rows,sha256) the extract must match, or nothing loads "
            "(default: manifest.csv in the folder, when there is one).",
        ),
    ] = None,
) -> None:
    """Load an extract: valid rows upsert by id, failing rows are kept aside in the quarantine."""
    with user_errors(), open_warehouse(db) as wh, progress_bar("Loading") as progress:
        result = load_extract(wh, path, progress=progress, manifest=manifest)
    _print_load(result)


@app.command()
def quarantine(
    db: DbOption = DEFAULT_DB,
    load_id: Annotated[int | None, typer.Option("--load", help="Only this load (default: the latest).")] = None,
    all_loads: Annotated[bool, typer.Option("--all", help="Every load, not only the latest.")] = False,
    table: Annotated[str | None, typer.Option(help="Only this table.")] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Only this provider's clients' rows: what to send the provider to fix."),
    ] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write every matching row to this CSV file.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show on screen.")] = 50,
) -> None:
    """List the rows loads kept aside: provider, file, row, column, value and reason."""
    with user_errors(), open_warehouse(db, read_only=True) as wh:
        if provider is not None:
            q.check_provider(wh, provider)
        chosen = None if all_loads else (load_id or q.latest_load_id(wh))
        rows = q.quarantine_rows(wh, load_id=chosen, table=table, provider=provider)
        if csv is not None:
            n = q.export_csv(rows, wh, csv)
            whose = f" of provider {provider}'s clients" if provider else " (every provider's: see provider_id)"
            console.print(f"Wrote {n:,} quarantine rows{whose} to {csv}", highlight=False)
            return
        total = wh.count(rows)
        shown = wh.to_arrow(rows.limit(limit)).to_pylist()
        stored = total if chosen is None else wh.count(
            q.quarantine_rows(wh, load_id=None, table=table, provider=provider)
        )
    _print_quarantine(shown, total, chosen, stored)


def _print_quarantine(shown: list[dict[str, Any]], total: int, load_id: int | None, stored: int = 0) -> None:
    scope = f"load {load_id}" if load_id is not None else "all loads"
    if not total:
        if stored:
            console.print(f"Load {load_id} kept no rows aside, but {stored:,} rows kept aside by earlier loads are "
                          "still stored (a load that changes nothing repeats no entry): list them with "
                          "[bold]--all[/] or [bold]--load N[/] (see [bold]recoverypbr loads[/]).")
        else:
            console.print(f"The quarantine is empty ({scope}).")
        return
    table = Table(title=f"Quarantine, {scope}: {total:,} entries")
    for name in ("provider", "table", "file", "row", "column", "value", "reason"):
        table.add_column(name, overflow="fold")
    for r in shown:
        table.add_row(r["provider_id"] or "(none)", r["table_name"], Path(r["file"]).name, str(r["row_number"]),
                      r["column_name"], r["value"] if r["value"] is not None else "", r["reason"])
    print_table(table)
    if any(not r["provider_id"] for r in shown):
        console.print("Provider (none): the row names no client or episode held by a provider (a police cohort, "
                      "or a client with no episode anywhere), so only the commissioner sees it.")
    if total > len(shown):
        console.print(f"Showing {len(shown):,} of {total:,}; use --limit or --csv FILE for all.")


@app.command()
def loads(db: DbOption = DEFAULT_DB) -> None:
    """The history of loads: when, from where, rows read, changed and kept aside."""
    with user_errors(), open_warehouse(db, read_only=True) as wh:
        rows = wh.execute("SELECT load_id, source, started_at, rows_read, rows_changed, rows_quarantined FROM loads"
                          " ORDER BY load_id")
    table = Table(title="Loads")
    for name in ("load", "source", "started (UTC)", "read", "changed", "quarantined"):
        table.add_column(name)
    for r in rows:
        table.add_row(str(r[0]), r[1], f"{r[2]:%Y-%m-%d %H:%M:%S}", *(f"{n:,}" for n in r[3:]))
    print_table(table)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the area's files into.")],
    clients: Annotated[int | None, typer.Option(
        help="Number of clients (default 5000; with --contract, near the contract's predicted volumes).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")] = "csv",
    dirty: Annotated[bool, typer.Option("--dirty", help="Add a small share of realistic errors.")] = False,
    contract: Annotated[Path | None, typer.Option(
        help="Shape the area for this contract: its providers, service lines, local events and cohorts.")] = None,
    providers: Annotated[int | None, typer.Option(
        help="Share the clients equally between N exchangeable peer providers P01..PNN (N >= 2; LASARS L01).")
    ] = None,
    gaming: Annotated[str | None, typer.Option(
        help="Make --gaming-provider game: KIND=STRENGTH[,...], kinds assessment, creaming_parking, timing, "
             "misrepresentation; strength in (0, 1].")] = None,
    gaming_provider: Annotated[str | None, typer.Option(help="The provider that games (e.g. P03).")] = None,
) -> None:
    """Write a calibrated synthetic area: every canonical table over several years."""
    from recoverypbr.synth import generate_area
    from recoverypbr.synth.shape import clients_for

    with user_errors():
        model = load_contract(contract) if contract is not None else None
        count = clients if clients is not None else clients_for(model) if model is not None else 5000
        with progress_bar("Generating") as progress:
            summary = generate_area(count, seed, out, fmt, dirty=dirty,  # type: ignore[arg-type]
                                    progress=lambda done, total: progress("clients", done, total), contract=model,
                                    providers=providers, gaming=gaming, gaming_provider=gaming_provider)
    shaped = f", shaped for {model.area}" if model is not None else ""
    table = Table(title=f"Synthetic area{shaped}: {summary.clients:,} clients, seed {seed}, {fmt} in {out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in summary.rows.items():
        table.add_row(name, f"{n:,}")
    print_table(table)
    if dirty:
        console.print(f"{summary.dirty_rows:,} rows carry deliberate errors.")
    if summary.gamed:
        gamed = Table(title=f"Gaming injected by {gaming_provider} from go-live")
        for name in ("kind", "what", "rows"):
            gamed.add_column(name, justify="right" if name == "rows" else "left")
        for kind, counts in summary.gamed.items():
            for what, n in counts.items():
                gamed.add_row(kind, what, f"{n:,}")
        print_table(gamed)


def _providers_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Episodes by provider")
    for name in ("provider", "name", "episodes", "in treatment", "exits", "completed", "completion rate",
                 "referrals not started"):
        table.add_column(name, justify="left" if name in ("provider", "name") else "right")
    for r in rows:
        rate = f"{r['completions'] / r['exits']:.0%}" if r["exits"] else "-"
        table.add_row(r["provider_id"], r["name"] or "", *(f"{r[k]:,}" for k in (
            "episodes", "in_treatment", "exits", "completions")), rate, f"{r['not_started']:,}")
    return table


#: The contract the demo evaluates: a pilot design from the repository's examples.
DEMO_CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "marlshire.yaml"
#: The day whose statement period the demo pays by default (the last day of 2013-Q1).
DEMO_DAY = date(2013, 3, 31)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Working folder for the demo's files and warehouse.")] = Path(
        "recoverypbr-demo"
    ),
    clients: Annotated[int, typer.Option(help="Clients in the demo area.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    contract: Annotated[Path, typer.Option(help="Contract the demo evaluates and pays.")] = DEMO_CONTRACT,
    period: Annotated[str | None, typer.Option(
        help="Statement period the demo pays (default: the contract's period holding 31 March 2013, e.g. 2013-Q1)."
    )] = None,
) -> None:
    """Make a synthetic area (with some errors), load it, evaluate its outcomes and write one period's statements."""
    from recoverypbr.synth import generate_area
    from recoverypbr.synth.params import EXTRACT_DATE

    extract = workdir / "extract"
    with user_errors():
        model = load_contract(contract)
        with progress_bar("Generating the demo area") as progress:
            generate_area(clients, seed, extract, "csv", dirty=True,
                          progress=lambda done, total: progress("clients", done, total), contract=model)
        with open_warehouse(workdir / "recoverypbr.duckdb") as wh:
            with progress_bar("Loading") as progress:
                result = load_extract(wh, extract, progress=progress)
            _print_overview(wh, result, clients, workdir)
            show_outcomes(wh, model, EXTRACT_DATE)
            chosen = statement_period(model, period) if period else _demo_period(model)
            made = statements(wh, model, chosen, chosen.end, None)
            record = SetRecord((workdir / "statements").resolve(), chosen.end, None, FORMATS)
            written = write_period_set(wh, model, chosen, record, made, datetime.now(UTC), parallel=True)
            folder = workdir / "statements" / written.folder.name
            print_summary(made, f"{model.area} payments for {chosen.label} (as of {chosen.end}), written to {folder}")
            _demo_modelling(wh, model, contract, workdir, seed)
            _demo_monitoring(wh, model, workdir)
            users = _demo_users(wh, model)
    db = workdir / "recoverypbr.duckdb"
    _print_demo_users(users, db, contract)
    first = schedule(model)[0]
    console.print(f"Next: [bold]recoverypbr quarantine --db {db}[/] lists each kept-aside row; "
                  f"[bold]recoverypbr explain CLIENT --outcome ID --contract {contract} --as-of {EXTRACT_DATE} "
                  f"--db {db}[/] explains a decision; [bold]recoverypbr approve --contract {contract} --period "
                  f"{first.label} --by NAME --db {db}[/] approves the first period's statements (periods are "
                  "approved in order).", highlight=False)


#: Runs of the demo's spend risk (`recoverypbr model risk` runs 10,000 by default).
DEMO_RUNS = 2000


def _demo_modelling(wh: Warehouse, model: Contract, contract: Path, workdir: Path, seed: int) -> None:
    """Design by modelling on the demo area: the baseline of the year before go-live, and the spend risk of the
    contract on it, each with its report."""
    from recoverypbr.data.read import file_sha256
    from recoverypbr.modelling.baseline import baseline_report, make_baseline
    from recoverypbr.modelling.baseline_file import write_baseline
    from recoverypbr.modelling.report import write_report
    from recoverypbr.modelling.risk import model_risk, summarise
    from recoverypbr.modelling.risk_cli import risk_report

    first = model.start.replace(year=model.start.year - 1)
    last = model.start - timedelta(days=1)
    out = workdir / "model"
    baseline = make_baseline(wh, model, first, last, file_sha256(contract))
    write_baseline(baseline, out / "baseline")
    write_report(baseline_report(baseline), out / "baseline", "baseline-report")
    with progress_bar("Modelling spend risk") as step:
        result = model_risk(wh, model, baseline, DEMO_RUNS, seed, step=step)
    summary = summarise(result)
    page = write_report(risk_report(result, summary), out / "risk", "risk")
    table = Table(title=f"Spend risk on the baseline of {first} to {last} ({DEMO_RUNS:,} runs)")
    for name in ("year", "median", "5th to 95th percentile", "results money", "P(over)"):
        table.add_column(name, justify="left" if name == "year" else "right")
    for row in summary.years:
        money = row["results_money"]
        table.add_row(row["year"].split(" (")[0], f"£{row['p50']:,.0f}", f"£{row['p5']:,.0f} to £{row['p95']:,.0f}",
                      "" if money is None else f"£{money:,.0f}",
                      "" if row["p_over"] is None else f"{row['p_over'] * 100:.1f}%")
    print_table(table)
    console.print(f"Modelling reports: {out / 'baseline' / 'baseline-report.html'} and {page} (recoverypbr model "
                  "baseline|tariffs|risk|compare|gaming do more; see docs/modelling.md).", highlight=False)


def _demo_monitoring(wh: Warehouse, model: Contract, workdir: Path) -> None:
    """Assurance on the demo area: every gaming indicator as of the contract's last day (or the extract's), its
    summary and where the report is."""
    from recoverypbr.assurance.monitor import monitor
    from recoverypbr.assurance.report import print_summary, write_monitoring
    from recoverypbr.synth.params import EXTRACT_DATE

    as_of = min(model.end, EXTRACT_DATE)
    with progress_bar("Monitoring for gaming") as step:
        result = monitor(wh, model, as_of, progress=step)
    paths = write_monitoring(result, workdir / "assurance")
    print_summary(result)
    console.print(f"Assurance report: {paths['html']} (recoverypbr assure monitor|sample|findings; see "
                  "docs/assurance.md).", highlight=False)


def _demo_users(wh: Warehouse, model: Contract) -> list[tuple[str, str, str]]:
    """A user of every role (a provider user per provider) with a new random password each run: the demo's users are
    the only ones recoverypbr ever makes itself, and no password is fixed or shared between warehouses."""
    import secrets

    from recoverypbr.web.users import add_user, get_user, reset_password

    now = datetime.now(UTC)
    wanted = [("commissioner", "commissioner", None), ("finance", "finance", None), ("lasars", "lasars", None),
              ("auditor", "auditor", None)]
    wanted += [(f"provider-{p.lower()}", "provider", p) for p in sorted(model.providers)]
    made = []
    for name, role, provider in wanted:
        password = secrets.token_urlsafe(12)
        if get_user(wh, name) is None:
            add_user(wh, name, role, provider, password, now)
        else:
            reset_password(wh, name, password, now)
        made.append((name, role if provider is None else f"provider {provider}", password))
    return made


def _print_demo_users(users: list[tuple[str, str, str]], db: Path, contract: Path) -> None:
    table = Table(title="Demo users of the web app (new passwords each time the demo runs)")
    for name in ("user", "role", "password"):
        table.add_column(name)
    for row in users:
        table.add_row(*row)
    print_table(table, [f"Start the web app with [bold]recoverypbr serve --db {db} --contract {contract}[/] and "
                        "sign in at http://127.0.0.1:8000/ as any of them (see docs/web.md). Real users are added "
                        "with `recoverypbr users add NAME --role ROLE`."])


def _demo_period(model: Contract) -> Period:
    """The contract's statement period holding the demo's day (31 March 2013), else its first."""
    periods = schedule(model)
    return next((q for q in periods if q.contains(DEMO_DAY)), periods[0])


def _print_overview(wh: Warehouse, result: LoadResult, clients: int, workdir: Path) -> None:
    console.print(f"[bold]recoverypbr demo[/]: a synthetic area of {clients:,} clients in {workdir}")
    counts = q.table_counts(wh)
    overview = Table(title="In the warehouse")
    overview.add_column("table")
    overview.add_column("rows", justify="right")
    for name in ("clients", "providers", "episodes", "top", "assessments", "events", "presentations"):
        overview.add_row(name, f"{counts[name]:,}")
    print_table(overview)
    print_table(_providers_table(q.provider_overview(wh)))
    console.print(f"This load: {result.rows_read:,} rows read, {result.rows_changed:,} new or changed, "
                  f"{result.rows_quarantined:,} kept aside.")
    print_table(_rules_table(q.quarantine_by_rule(wh), "Quarantined rows by reason (all loads)"))


