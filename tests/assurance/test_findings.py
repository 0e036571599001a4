"""Findings: recorded all or nothing, reported with the extrapolated overpayment (the hand-checked figures in
tests/fixtures/assurance/area.yaml), and turned into a clawback in the next open period that names the finding."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from assurance.audit_area import area_case, count, make_area, run

from recoverypbr.contract.load import load_contract
from recoverypbr.payments.approval import approved_statements, document_text
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.warehouse.connection import open_warehouse


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The area with 2013-Q2 approved and a sample of 6 of its lines drawn, made once for the module."""
    folder = tmp_path_factory.mktemp("audit")
    contract_file, db = make_area(folder)
    contract = load_contract(contract_file)
    with open_warehouse(db) as wh:
        made = make_statements(wh, contract, statement_period(contract, "2013-Q2"))
        approve_statements(wh, made, "Finance officer", dt.datetime(2013, 7, 10, 9))
    out = folder / "sample"
    run("sample", "--contract", str(contract_file), "--period", "2013-Q2", "--size", "6", "--seed", "3",
        "--out", str(out), "--db", str(db))
    return folder


@pytest.fixture()
def sampled(template: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the template for one test: (contract, warehouse, sample folder)."""
    folder = tmp_path / "area"
    shutil.copytree(template, folder)
    return folder / "contract.yaml", folder / "area.duckdb", folder / "sample"


def _filled(out: Path, verdicts: dict[int, tuple[str, str]], name: str = "findings.csv") -> Path:
    """sample.csv with the given lines' verdict and reason filled in (the others left empty)."""
    with (out / "sample.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["verdict"], row["reason"] = verdicts.get(int(row["line"]), ("", ""))
    path = out / name
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _sample_rows(out: Path) -> list[dict[str, str]]:
    with (out / "sample.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_sample_design_is_as_worked_by_hand(sampled: tuple[Path, Path, Path]) -> None:
    _, _, out = sampled
    design = json.loads((out / "sample.json").read_text(encoding="utf-8"))
    expected = area_case()["expected"]
    assert design["population_lines"] == expected["population_lines"]
    assert design["population_pounds"] == expected["population_pounds"]
    got = {s["stratum"]: {k: s[k] for k in ("population_lines", "sample_lines", "weight")} for s in design["strata"]}
    assert got == expected["strata"]
    assert design["risk"]["weighting"].startswith("none")


def test_not_upheld_finding_is_clawed_back_in_the_next_open_period(sampled: tuple[Path, Path, Path]) -> None:
    contract_file, db, out = sampled
    first = next(r for r in _sample_rows(out) if r["provider_id"] == "P1")
    line = int(first["line"])
    verdicts = {n: ("upheld", "") for n in range(1, 7)} | {line: ("not_upheld", "no discharge letter on file")}
    text = run("findings", str(_filled(out, verdicts)), "--contract", str(contract_file), "--on", "2013-08-01",
               "--by", "A. Auditor", "--db", str(db))
    assert "Recorded 6 findings (F0001 to F0006)" in text
    report = json.loads((out / "findings-report.json").read_text(encoding="utf-8"))[0]
    expected = area_case()["expected"]
    for key in ("error_rate_pounds", "extrapolated_overpayment", "standard_error", "interval_low", "interval_high"):
        assert report[key] == expected[key], key
    assert report["error_rate_lines"] == pytest.approx(1 / 6, abs=1e-6) and report["complete"]
    assert (out / "findings-report.csv").read_text(encoding="utf-8").count("\n") == 2

    contract = load_contract(contract_file)
    finding = next(r for r in report["findings"])
    with open_warehouse(db) as wh:
        stored = approved_statements(wh, contract)
        q3 = statement_period(contract, "2013-Q3")
        # Before the finding's day the clawback is not there (as-of discipline), and the approved period is
        # re-created byte for byte.
        before = {s.provider_id: s for s in make_statements(wh, contract, q3, dt.date(2013, 7, 31))}
        assert not before["P1"].lines
        again = make_statements(wh, contract, statement_period(contract, "2013-Q2"), dt.date(2013, 9, 30))
        assert all(document_text(s.document()) == stored[(s.provider_id, "2013-Q2")].document_text for s in again)
        after = {s.provider_id: s for s in make_statements(wh, contract, q3)}
    [claw] = after["P1"].lines
    assert not after["P2"].lines
    assert claw.kind == "adjustment" and claw.amount_pence == -45050
    assert (claw.client_id, claw.episode_id) == (first["client_id"], first["episode_id"])
    assert claw.adjusts == f"{first['statement_id']}#{first['statement_line']}"
    sample_id = first["sample_id"]
    assert claw.corrects.startswith(
        f"audit finding {finding} (sample {sample_id}, line {line}): not upheld: no discharge letter on file; "
        "reverses 2013-Q2 line")
    assert before["P1"].fingerprint != after["P1"].fingerprint


def test_recording_the_same_file_again_records_nothing_new(sampled: tuple[Path, Path, Path]) -> None:
    contract_file, db, out = sampled
    path = _filled(out, {1: ("upheld", ""), 2: ("not_upheld", "TOP not signed")})
    args = ("findings", str(path), "--contract", str(contract_file), "--on", "2013-08-01", "--by", "A", "--db",
            str(db))
    assert "Recorded 2 findings" in run(*args)
    assert "every row was already recorded" in run(*args)
    assert "not fully audited" in run(*args)
    assert count(db, "audit_findings") == 2


BAD = {
    "unknown line": ({99: ("upheld", "")}, "row 2 (sample S", "has no line 99"),
    "bad verdict": ({1: ("maybe", "")}, "line 1)", "verdict 'maybe' is not upheld or not_upheld"),
    "missing reason": ({2: ("not_upheld", "")}, "line 2)", "a not_upheld verdict needs a reason"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_findings_are_refused_whole(sampled: tuple[Path, Path, Path], case: str) -> None:
    contract_file, db, out = sampled
    verdicts, *expected = BAD[case]
    rows = _sample_rows(out)
    good = {3: ("upheld", ""), 4: ("not_upheld", "no evidence")}
    path = _filled(out, good | verdicts if case != "unknown line" else good)
    if case == "unknown line":  # a row naming a line the sample does not have
        text = path.read_text(encoding="utf-8").splitlines()
        extra = dict(rows[0], line="99", verdict="upheld", reason="")
        path.write_text("\n".join([text[0], ",".join(extra.values()), *text[1:]]) + "\n", encoding="utf-8")
    before = count(db, "audit_findings")
    text = run("findings", str(path), "--contract", str(contract_file), "--by", "A", "--db", str(db), code=2)
    assert all(part in text for part in expected), text
    assert "Nothing was recorded" in text
    assert count(db, "audit_findings") == before == 0


def test_a_finding_dated_before_the_samples_statements_is_refused(sampled: tuple[Path, Path, Path]) -> None:
    contract_file, db, out = sampled
    path = _filled(out, {1: ("upheld", "")})
    text = run("findings", str(path), "--contract", str(contract_file), "--on", "2013-06-01", "--by", "A", "--db",
               str(db), code=2)
    assert "drawn from statements as of 2013-06-30, after 2013-06-01" in text and count(db, "audit_findings") == 0


def test_a_sample_that_is_not_recorded_is_refused(sampled: tuple[Path, Path, Path]) -> None:
    contract_file, db, out = sampled
    path = _filled(out, {1: ("upheld", "")})
    path.write_text(path.read_text(encoding="utf-8").replace(_sample_rows(out)[0]["sample_id"], "SNOSUCH"),
                    encoding="utf-8")
    text = run("findings", str(path), "--contract", str(contract_file), "--by", "A", "--db", str(db), code=2)
    assert "no sample 'SNOSUCH' is recorded" in text and count(db, "audit_findings") == 0
