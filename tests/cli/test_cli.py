"""The command line, run in-process as a user would."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest
from helpers import DIRTY, words
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.modelling.baseline_file import read_baseline
from recoverypbr.warehouse.connection import open_warehouse

runner = CliRunner()


def test_load_then_quarantine_then_export(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    loaded = runner.invoke(app, ["load", str(DIRTY), "--db", db])
    assert loaded.exit_code == 0, loaded.output
    assert "Load 1 from" in loaded.output
    assert "ignored unknown column(s): keyworker" in loaded.output
    listed = runner.invoke(app, ["quarantine", "--db", db, "--limit", "3"])
    assert listed.exit_code == 0, listed.output
    assert "50 entries" in listed.output
    assert "Showing 3 of 50" in listed.output
    out = tmp_path / "kept-aside.csv"
    exported = runner.invoke(app, ["quarantine", "--db", db, "--csv", str(out)])
    assert exported.exit_code == 0, exported.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50
    assert {"table_name", "file", "row_number", "column_name", "value", "reason"} <= set(rows[0])
    again = runner.invoke(app, ["load", str(DIRTY), "--db", db])
    assert "Nothing changed" in again.output
    # The second load kept nothing aside; the first load's 50 entries are still stored, and the listing says so
    # (issue 11, item 9: it said "The quarantine is empty (load 2)").
    latest = " ".join(runner.invoke(app, ["quarantine", "--db", db]).output.split())
    assert "Load 2 kept no rows aside, but 50 rows kept aside by earlier loads are still stored" in latest
    assert "quarantine is empty" not in latest
    history = runner.invoke(app, ["loads", "--db", db])
    assert history.exit_code == 0
    assert "Loads" in history.output


def test_load_says_how_files_were_read_and_quarantine_goes_to_one_provider(tmp_path: Path) -> None:
    from helpers import FIXTURES

    db = str(tmp_path / "cli.duckdb")
    files = FIXTURES / "files"
    said = " ".join(runner.invoke(app, ["load", str(files / "cp1252"), "--db", db]).output.split())
    assert "clients.csv: read as Windows-1252 (cp1252) text: not UTF-8 from line 6." in said
    said = " ".join(runner.invoke(app, ["load", str(files / "semicolon"), "--db", db]).output.split())
    assert "clients.csv: semicolon-separated." in said
    said = " ".join(runner.invoke(app, ["load", str(files / "truncated"), "--db", db]).output.split())
    said = " ".join(runner.invoke(app, ["load", str(files / "truncated" / "cut"), "--db", db]).output.split())
    assert "Warning: episodes shrank sharply: 151 rows read against 300 at load 3 (50%)" in said
    loaded = runner.invoke(app, ["load", str(files / "formulas"), "--db", db])
    said = " ".join(loaded.output.split())
    # Root causes first, knock-on last, and knock_on explained.
    assert said.index("clients │ format") < said.index("episodes │ knock_on"), said
    assert "knock_on rows name a client or episode whose own row was kept aside" in said
    out = tmp_path / "p1.csv"
    sent = runner.invoke(app, ["quarantine", "--db", db, "--all", "--provider", "P1", "--csv", str(out)])
    assert "of provider P1's clients" in " ".join(sent.output.split())
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {r["provider_id"] for r in rows} == {"P1"}
    assert all("C4" not in r["record_key"] for r in rows)  # +C4 has no episode: no provider's
    unknown = runner.invoke(app, ["quarantine", "--db", db, "--provider", "P9"])
    assert unknown.exit_code == 2
    assert "no provider 'P9'" in unknown.output


def test_errors_are_a_message_and_a_hint_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["load", str(tmp_path / "nowhere"), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2
    assert "Error:" in result.output
    assert "Hint:" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["quarantine", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2
    assert "no warehouse" in missing.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("recoverypbr ")


def test_synth_then_demo(tmp_path: Path) -> None:
    out = tmp_path / "area"
    made = runner.invoke(app, ["synth", "--clients", "200", "--seed", "4", "--out", str(out), "--format", "parquet"])
    assert made.exit_code == 0, made.output
    assert (out / "episodes.parquet").exists()
    assert "Synthetic area: 200" in made.output
    shown = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--clients", "300"])
    assert shown.exit_code == 0, shown.output
    for heading in ("In the warehouse", "Episodes by provider", "Quarantined rows by reason"):
        assert heading in shown.output
    assert (tmp_path / "demo" / "recoverypbr.duckdb").exists()
    assert "payments for 2013-Q1" in shown.output and "results money" in shown.output
    written = sorted(p.name for p in (tmp_path / "demo" / "statements" / "2013-Q1").iterdir())
    assert written == sorted([f"statement_{p}_2013-Q1.{ext}" for p in ("P01", "P02")
                              for ext in ("csv", "json", "xlsx", "pdf")] + ["summary_2013-Q1.csv",
                                                                            "manifest_2013-Q1.json"])
    checked = runner.invoke(app, ["verify", str(tmp_path / "demo" / "statements")])
    assert checked.exit_code == 0 and "OK" in checked.output
    # The modelling step: the baseline of the year before go-live and the spend risk on it, with their reports.
    assert "Spend risk on the baseline of 2011-04-01 to 2012-03-31" in shown.output
    assert "Modelling reports:" in shown.output
    for page in ("baseline/baseline-report.html", "risk/risk.html", "risk/risk.json"):
        assert (tmp_path / "demo" / "model" / page).exists(), page
    assert read_baseline(tmp_path / "demo" / "model" / "baseline").window_from == date(2011, 4, 1)
    # Issue 13: the demo shows the monitoring summary and writes the assurance report.
    assert "gaming indicators as of 2015-03-31" in words(shown.stdout)
    for page in ("monitor-report.html", "monitor.json", "monitor.csv", "flag-rows.csv"):
        assert (tmp_path / "demo" / "assurance" / page).exists(), page
    # Issue 14: a user of every role, with passwords printed, and the command that starts the web app.
    said = words(shown.stdout)
    assert "Demo users of the web app" in shown.stdout and "recoverypbr serve --db" in said
    from recoverypbr.web.users import authenticate

    db = tmp_path / "demo" / "recoverypbr.duckdb"
    printed = dict(re.findall(r"\b(provider-p01|finance)[\s│|]+(?:provider P01|finance)[\s│|]+([A-Za-z0-9_-]{16})"
                              r"(?=[\s│|])", shown.stdout))
    assert set(printed) == {"provider-p01", "finance"}, shown.stdout
    with open_warehouse(db) as wh:
        assert authenticate(wh, "finance", printed["finance"]) is not None
        assert authenticate(wh, "provider-p01", printed["provider-p01"]).provider_id == "P01"
        assert authenticate(wh, "finance", "finance") is None
        assert {r[0] for r in wh.execute("SELECT role FROM web_users")} == {
            "commissioner", "finance", "lasars", "provider", "auditor"}
    # The next step the demo suggests works as printed.
    contract = str(Path(__file__).parents[2] / "contracts" / "marlshire.yaml")
    approved = runner.invoke(app, ["approve", "--contract", contract, "--period", "2012-Q2",
                                   "--by", "Finance officer", "--db", str(tmp_path / "demo" / "recoverypbr.duckdb")])
    assert approved.exit_code == 0, approved.output
    assert "Approved Marlshire (synthetic)/2012-04-01/P01/2012-Q2" in " ".join(approved.output.split())


@pytest.mark.slow
def test_demo_pays_another_example_on_an_area_shaped_for_it(tmp_path: Path) -> None:
    # Worcestershire pays monthly: without --period the demo pays 2013-03, the month holding 31 March 2013.
    contract = Path(__file__).parents[2] / "contracts" / "worcestershire.yaml"
    shown = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--clients", "600",
                                "--contract", str(contract)])
    assert shown.exit_code == 0, shown.output
    assert "Worcestershire payments for 2013-03" in " ".join(shown.output.split())
    written = {p.name for p in (tmp_path / "demo" / "statements" / "2013-03").iterdir()}
    assert "statement_WOR_SERVICE_2013-03.json" in written
    wor = json.loads((tmp_path / "demo" / "statements" / "2013-03" / "statement_WOR_SERVICE_2013-03.json").read_text())
    assert wor["totals"]["lines"] > 0 and {line["provider_id"] for line in wor["lines"]} == {"WOR_SERVICE"}
    made = runner.invoke(app, ["synth", "--contract", str(contract), "--out", str(tmp_path / "sized"),
                               "--clients", "50"])
    assert "shaped for Worcestershire: 50 clients" in " ".join(made.output.split())


def test_synth_refuses_bad_arguments(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--clients", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "Hint:" in result.output


def test_the_readme_approves_one_provider_with_its_fingerprint() -> None:
    # Issue 11, item 10: the README suggested `--fingerprint` alone, which is refused when a period has two
    # providers; one fingerprint names one provider's statement.
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "--provider P01 --fingerprint" in readme
    assert "--fingerprint with what pay printed, to approve" not in readme
