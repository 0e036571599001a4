"""`recoverypbr pay` and `recoverypbr approve`, run in-process as a commissioner would."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from helpers import run_cli, squashed, words
from typer.testing import CliRunner

from recoverypbr.cli import app

runner = CliRunner()




def test_pay_writes_every_format_and_again_the_same_bytes(area: tuple[Path, Path], tmp_path: Path) -> None:
    contract, db = area
    output = run_cli("pay", "--contract", str(contract), "--period", "2013-Q2", "--out", str(tmp_path / "a"),
                  "--db", str(db))
    assert "P1" in output and "1,351.50" in output and "P2" in output and "450.50" in output
    assert squashed("written to " + str(tmp_path / "a" / "2013-Q2")) in squashed(output)
    names = sorted(p.name for p in (tmp_path / "a" / "2013-Q2").iterdir())
    assert names == sorted(
        [f"statement_{p}_2013-Q2.{ext}" for p in ("P1", "P2") for ext in ("csv", "json", "xlsx", "pdf")]
        + ["summary_2013-Q2.csv", "manifest_2013-Q2.json"]
    )
    run_cli("pay", "--contract", str(contract), "--period", "2013-Q2", "--out", str(tmp_path / "b"), "--db", str(db),
         "--format", "csv,json")
    for name in ("statement_P1_2013-Q2.csv", "statement_P1_2013-Q2.json", "statement_P2_2013-Q2.json"):
        assert (tmp_path / "a" / "2013-Q2" / name).read_bytes() == (tmp_path / "b" / "2013-Q2" / name).read_bytes()
    summary = (tmp_path / "a" / "2013-Q2" / "summary_2013-Q2.csv").read_text().splitlines()
    assert summary[0].startswith("provider_id,status,lines,total")
    assert summary[1].startswith("P1,draft,3,1351.50,1351.50,1000000.00,200000.00,")


def test_pay_prints_the_results_money_once_uncut_in_a_pipe(area: tuple[Path, Path], tmp_path: Path) -> None:
    """Issue 11, defect 11: CliRunner's output is a pipe of 80 columns, as `recoverypbr pay ... | less` is."""
    contract, db = area
    result = runner.invoke(app, ["pay", "--contract", str(contract), "--period", "2013-Q2", "--out",
                                 str(tmp_path / "a"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.lstrip("│ ").startswith(("P1", "P2"))]
    assert len(rows) == 2 and not any("200,000" in row for row in rows), rows
    assert "…" not in result.output and max(len(line) for line in result.output.splitlines()) <= 80
    said = words(result.output)
    assert "Results money this year (year 1): £200,000.00 for the whole contract, all providers together" in said
    assert "1,351.50" in rows[0] and "0.7%" in rows[0]


def test_approve_stores_once_and_checks_fingerprint_and_order(area: tuple[Path, Path], tmp_path: Path) -> None:
    contract, db = area
    base = ["--contract", str(contract), "--db", str(db)]
    run_cli("pay", *base, "--period", "2013-Q2", "--out", str(tmp_path / "draft"), "--provider", "P1")
    draft = json.loads((tmp_path / "draft" / "2013-Q2" / "statement_P1_2013-Q2.json").read_text())
    assert not (tmp_path / "draft" / "2013-Q2" / "statement_P2_2013-Q2.json").exists()

    wrong = runner.invoke(app, ["approve", *base, "--period", "2013-Q2", "--by", "Finance", "--provider", "P1",
                                "--fingerprint", "0000000000"])
    assert wrong.exit_code == 2 and "changed since it was reviewed" in words(wrong.output)
    several = runner.invoke(app, ["approve", *base, "--period", "2013-Q2", "--by", "Finance", "--fingerprint",
                                  draft["fingerprint"][:12]])
    assert several.exit_code == 2 and "pass --provider with --fingerprint" in words(several.output)
    before_end = runner.invoke(app, ["approve", *base, "--period", "2013-Q2", "--by", "Finance", "--as-of",
                                     "2013-06-01"])
    assert before_end.exit_code == 2 and "approve it on data as of 2013-06-30 or later" in words(before_end.output)

    early = runner.invoke(app, ["approve", *base, "--period", "2013-Q3", "--by", "Finance"])
    assert early.exit_code == 2 and "approve 2013-Q2 first" in words(early.output)

    done = run_cli("approve", *base, "--period", "2013-Q2", "--by", "Finance", "--provider", "P1", "--fingerprint",
                draft["fingerprint"][:16], "--at", "2013-07-10T09:00:00")
    assert f"Approved {draft['statement_id']}: 1351.50 (3 lines), fingerprint {draft['fingerprint'][:12]}" in done

    again = runner.invoke(app, ["approve", *base, "--period", "2013-Q2", "--by", "Finance", "--provider", "P1"])
    assert again.exit_code == 2 and "already approved and is never rewritten" in words(again.output)

    run_cli("pay", *base, "--period", "2013-Q2", "--out", str(tmp_path / "after"))
    approved = json.loads((tmp_path / "after" / "2013-Q2" / "statement_P1_2013-Q2.json").read_text())
    assert approved["status"] == "approved" and approved["approved_at"] == "2013-07-10 09:00:00"
    assert approved["lines"] == draft["lines"] and approved["fingerprint"] == draft["fingerprint"]
    assert json.loads((tmp_path / "after" / "2013-Q2" / "statement_P2_2013-Q2.json").read_text())["status"] == "draft"

    rest = run_cli("approve", *base, "--period", "2013-Q2", "--by", "Finance")
    assert "Already approved: Golden/2013-04-01/P1/2013-Q2" in rest and "Approved Golden/2013-04-01/P2/2013-Q2" in rest
    early_data = runner.invoke(app, ["pay", *base, "--period", "2013-Q3", "--as-of", "2013-06-01", "--out",
                                     str(tmp_path / "x")])
    assert early_data.exit_code == 2 and "use the period's last day (2013-09-30)" in words(early_data.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2013-05"], "not one of the contract's quarterly statement periods"),
        (["--period", "2019-Q1"], "not one of the contract's quarterly statement periods"),
        (["--period", "spring"], "cannot read the period"),
        (["--period", "2013-Q2", "--provider", "NOBODY"], "not a paid provider of the contract"),
        (["--period", "2013-Q2", "--format", "docx"], "unknown format docx"),
    ],
)
def test_pay_refuses_what_it_cannot_do(area: tuple[Path, Path], tmp_path: Path, args: list[str], message: str) -> None:
    contract, db = area
    result = runner.invoke(app, ["pay", "--contract", str(contract), "--db", str(db), "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in words(result.output)


def test_pay_needs_a_warehouse(area: tuple[Path, Path], tmp_path: Path) -> None:
    contract, _ = area
    result = runner.invoke(app, ["pay", "--contract", str(contract), "--db", str(tmp_path / "none.duckdb"),
                                 "--period", "2013-Q2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no warehouse at" in words(result.output)


@pytest.mark.slow
def test_issue_9_caps_of_different_windows_on_the_demo_area(tmp_path: Path) -> None:
    # Issue 9's command-line example: the demo's area (5,000 clients, seed 1, with errors) paid under Marlshire with
    # its caps and floors replaced by P01's £1,000 a quarter and £500 a month overall. Before the fix P01 was paid
    # -92,800.00 for 2012-Q2 and P02 22,792.50. Checked independently of the pricing: no provider has a negative
    # month (cuts are shown one line per provider per month), P01 has at most £1,000 in the quarter, and each
    # month's lines of both providers sum to at most £500. Every month earns far more than £500, so the quarter
    # pays exactly £1,500.00; the split between the providers (759.53 and 740.47) is as the program printed it.
    from recoverypbr.synth import generate_area

    extract = tmp_path / "area"
    generate_area(5000, 1, extract, "csv", dirty=True)
    db = str(tmp_path / "demo.duckdb")
    run_cli("load", str(extract), "--db", db)
    text = (Path(__file__).parents[2] / "contracts" / "marlshire.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["caps"] = {"p01_quarter": {"provider": "P01", "amount": 1000, "period": "quarter"},
                    "overall_month": {"amount": 500, "period": "month"}}
    data.pop("floors")
    data["illustrative"] = {k: v for k, v in data.get("illustrative", {}).items() if k != "floors"}
    contract = tmp_path / "double_cut.yaml"
    contract.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run_cli("pay", "--contract", str(contract), "--period", "2012-Q2", "--out", str(tmp_path / "st"), "--db", db)
    docs = {p: json.loads((tmp_path / "st" / "2012-Q2" / f"statement_{p}_2012-Q2.json").read_text())
            for p in ("P01", "P02")}
    assert {p: d["totals"]["total"] for p, d in docs.items()} == {"P01": "759.53", "P02": "740.47"}
    by_provider_month: dict[tuple[str, str], int] = {}
    by_month: dict[str, int] = {}
    for p, d in docs.items():
        for line in d["lines"]:
            pence = int(Decimal(line["amount"]) * 100)
            month = line["payable_on"][:7]
            by_provider_month[(p, month)] = by_provider_month.get((p, month), 0) + pence
            by_month[month] = by_month.get(month, 0) + pence
    assert min(by_provider_month.values()) >= 0
    assert sum(a for (p, _), a in by_provider_month.items() if p == "P01") <= 100_000
    assert sorted(by_month) == ["2012-04", "2012-05", "2012-06"] and all(a <= 50_000 for a in by_month.values())
    assert sum(by_month.values()) == 150_000
