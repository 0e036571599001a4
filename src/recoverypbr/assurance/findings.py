"""Audit findings: the auditor's verdict on each sampled line, recorded once, and the sample's error extrapolated.

`read_findings` reads the sample's CSV with `verdict` (upheld or not_upheld) and `reason` (required when not upheld)
filled in; `record_findings` checks every row first (a recorded sample and line, a known verdict, a reason) and then
stores them all in one transaction, or none. A not-upheld finding stops the pricing engine paying that payment
(reference, client, episode, outcome) on data as of its `recorded_on` day or later (`payments.pipeline.
audit_reversals`); when the period is approved, the next open period's statement claws it back through the usual
adjustments, naming the finding.

`stratified_total` is the estimator: within each stratum h (N_h lines, n_h audited, y the not-upheld pence of a
line), the overpayment is N_h x mean(y); summed over strata. Its variance is sum N_h^2 (1 - n_h/N_h) s_h^2 / n_h
(finite population correction), and the 95% interval is the estimate +- t(0.975, df) x its standard error, df by
Satterthwaite (sum v_h)^2 / sum (v_h^2 / (n_h - 1)) over the strata's variance terms v_h, clipped to the
population's pounds and at zero.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from recoverypbr.assurance.sampling import csv_bytes, write_atomic
from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.payments.money import pence, pounds
from recoverypbr.warehouse.connection import Warehouse

VERDICTS = ("upheld", "not_upheld")
CONFIDENCE = 0.95
#: The columns a findings file must have (sample.csv has them all).
REQUIRED = ("sample_id", "line", "verdict", "reason")


class FindingsError(RecoveryPbrError):
    """A findings file that cannot be recorded: nothing of it is."""


@dataclass(frozen=True)
class Finding:
    """One row of a findings file: a sampled line and the auditor's verdict."""

    row: int
    sample_id: str
    line: int
    verdict: str
    reason: str


def read_findings(path: Path) -> list[Finding]:
    """The file's rows with a verdict or a reason (rows with neither are lines not audited yet); a missing column
    or a line that is not a number is refused, naming the row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FindingsError(f"cannot read {path}: {exc.strerror}", hint="pass the sample.csv with verdicts") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise FindingsError(f"{path.name} lacks the column(s) {', '.join(missing)}",
                            hint="fill in verdict and reason in the sample.csv the sample command wrote")
    found = []
    for number, row in enumerate(reader, start=2):
        verdict, reason = (row.get("verdict") or "").strip(), (row.get("reason") or "").strip()
        if not verdict and not reason:
            continue
        line = (row.get("line") or "").strip()
        if not line.isdigit():
            raise FindingsError(f"{path.name} row {number}: line {line!r} is not a line number of the sample",
                                hint="keep the sample.csv's sample_id and line columns as written")
        found.append(Finding(number, (row.get("sample_id") or "").strip(), int(line), verdict, reason))
    return found


def _problems(wh: Warehouse, contract: Contract, findings: Sequence[Finding], on: date, name: str
              ) -> tuple[list[str], list[Finding]]:
    """Every row that cannot be recorded, in words, and the rows to record (those not recorded already)."""
    samples = {str(s): d for s, d in wh.execute(
        "SELECT sample_id, as_of FROM audit_samples WHERE contract_area = ?", [contract.area])}
    lines = {(s, int(n)) for s, n in wh.execute(
        "SELECT l.sample_id, l.line_no FROM audit_sample_lines l JOIN audit_samples s USING (sample_id)"
        " WHERE s.contract_area = ?", [contract.area])}
    recorded = {(s, int(n)): (v, r, f) for s, n, v, r, f in wh.execute(
        "SELECT sample_id, line_no, verdict, reason, finding_id FROM audit_findings WHERE contract_area = ?",
        [contract.area])}
    problems, new, seen = [], [], set()
    for f in findings:
        where = f"{name} row {f.row} (sample {f.sample_id}, line {f.line})"
        key = (f.sample_id, f.line)
        if f.sample_id not in samples:
            problems.append(f"{where}: no sample {f.sample_id!r} is recorded for {contract.area}")
        elif key not in lines:
            problems.append(f"{where}: the sample has no line {f.line}")
        elif on < samples[f.sample_id]:
            # Statements as of days before the sample's own could otherwise no longer be re-created.
            problems.append(f"{where}: the sample was drawn from statements as of {samples[f.sample_id]}, after "
                            f"{on}, the day given for the finding")
        elif f.verdict not in VERDICTS:
            problems.append(f"{where}: verdict {f.verdict!r} is not upheld or not_upheld")
        elif f.verdict == "not_upheld" and not f.reason:
            problems.append(f"{where}: a not_upheld verdict needs a reason")
        elif key in seen:
            problems.append(f"{where}: the line has a verdict on an earlier row of the file")
        elif key in recorded and recorded[key][:2] != (f.verdict, f.reason):
            problems.append(f"{where}: finding {recorded[key][2]} already records {recorded[key][0]} for the line, "
                            "and a finding is never rewritten")
        elif key not in recorded:
            new.append(f)
        seen.add(key)
    return problems, new


def record_findings(wh: Warehouse, contract: Contract, findings: Sequence[Finding], by: str, on: date,
                    name: str = "the findings file") -> list[str]:
    """Check every finding, then record the new ones in one transaction (a row already recorded the same way is
    left alone); refuse the whole file when any row is wrong. Returns the finding ids recorded."""
    if not by.strip():
        raise FindingsError("a finding needs the auditor's name", hint="pass --by NAME")
    problems, new = _problems(wh, contract, findings, on, name)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise FindingsError("; ".join(problems[:5]) + more + ". Nothing was recorded.",
                            hint="correct the rows named and record the file again")
    last = wh.execute("SELECT coalesce(max(CAST(substr(finding_id, 2) AS INTEGER)), 0) FROM audit_findings")[0][0]
    ids = [f"F{last + i:04d}" for i in range(1, len(new) + 1)]
    staged = pa.table({"f_id": ids, "f_sample": [f.sample_id for f in new], "f_line": [f.line for f in new],
                       "f_verdict": [f.verdict for f in new], "f_reason": [f.reason for f in new]},
                      schema=pa.schema([("f_id", pa.string()), ("f_sample", pa.string()), ("f_line", pa.int32()),
                                        ("f_verdict", pa.string()), ("f_reason", pa.string())]))
    wh.register_arrow("_audit_new_findings", staged)
    try:
        with wh.transaction():
            wh.execute(
                "INSERT INTO audit_findings SELECT f.f_id, l.sample_id, l.line_no, s.contract_area, s.period_label,"
                " l.statement_id, l.statement_line, l.reference, l.client_id, l.episode_id, l.outcome_id,"
                " l.provider_id, l.amount_pence, f.f_verdict, f.f_reason, ?, ? FROM _audit_new_findings f"
                " JOIN audit_sample_lines l ON l.sample_id = f.f_sample AND l.line_no = f.f_line"
                " JOIN audit_samples s ON s.sample_id = l.sample_id",
                [by.strip(), on],
            )
    finally:
        wh.unregister("_audit_new_findings")
    return ids


@dataclass(frozen=True)
class Estimate:
    """A stratified estimate of a population total, its standard error and interval."""

    total: float
    standard_error: float
    low: float
    high: float
    degrees_of_freedom: float


def stratified_total(values: np.ndarray, strata: np.ndarray, population: Mapping[str, int],
                     ceiling: float | None = None, confidence: float = CONFIDENCE) -> Estimate:
    """The population total of `values` (one per sampled line, with its stratum) estimated from simple random
    samples without replacement within strata of `population` sizes (the module's docstring gives the formula);
    a stratum with one sampled line adds no variance. The interval is clipped at 0 and at `ceiling`."""
    from scipy.stats import t as student

    values, strata = np.asarray(values, dtype=float), np.asarray(strata)
    total, parts, dfs = 0.0, [], []
    for name, size in population.items():
        y = values[strata == name]
        if not len(y):
            continue
        total += size * y.mean()
        if len(y) > 1:
            parts.append(size**2 * (1 - len(y) / size) * y.var(ddof=1) / len(y))
            dfs.append(len(y) - 1)
    variance = float(sum(parts))
    # Satterthwaite's degrees of freedom: few when the variance comes from a few small strata, so the interval widens.
    df = variance**2 / sum(p**2 / d for p, d in zip(parts, dfs, strict=True) if p) if variance > 0 else 1.0
    error = float(np.sqrt(variance))
    half = float(student.ppf(0.5 + confidence / 2, max(df, 1.0))) * error
    high = total + half if ceiling is None else min(total + half, ceiling)
    return Estimate(total, error, max(total - half, 0.0), high, round(df, 2))


def sample_report(wh: Warehouse, sample_id: str) -> dict[str, Any]:
    """The sample's findings so far: error rates (pounds and lines) over the audited lines and the period's
    extrapolated overpayment with its 95% interval."""
    design = json.loads(wh.execute("SELECT design FROM audit_samples WHERE sample_id = ?", [sample_id])[0][0])
    rows = wh.execute(
        "SELECT l.line_no, l.stratum, l.amount_pence, f.verdict, f.finding_id FROM audit_sample_lines l"
        " LEFT JOIN audit_findings f USING (sample_id, line_no) WHERE l.sample_id = ? ORDER BY l.line_no",
        [sample_id],
    )
    audited = [r for r in rows if r[3] is not None]
    strata = np.array([r[1] for r in audited], dtype=object)
    amounts = np.array([r[2] for r in audited], dtype=np.int64)
    wrong = np.array([r[3] == "not_upheld" for r in audited], dtype=bool)
    overpaid = np.where(wrong, amounts, 0)
    sizes = {s["stratum"]: int(s["population_lines"]) for s in design["strata"]}
    population_pence = pence(Decimal(design["population_pounds"]))
    estimate = stratified_total(overpaid, strata, sizes, ceiling=float(population_pence))
    return {
        "sample_id": sample_id, "contract": design["contract"], "period": design["period"],
        "as_of": design["as_of"], "sample_lines": len(rows), "audited_lines": len(audited),
        "not_upheld_lines": int(wrong.sum()), "sampled_pounds": str(pounds(int(amounts.sum()))),
        "not_upheld_pounds": str(pounds(int(overpaid.sum()))),
        "error_rate_pounds": _rate(int(overpaid.sum()), int(amounts.sum())),
        "error_rate_lines": _rate(int(wrong.sum()), len(audited)),
        "population_lines": design["population_lines"], "population_pounds": design["population_pounds"],
        "extrapolated_overpayment": _money(estimate.total), "standard_error": _money(estimate.standard_error),
        "confidence": CONFIDENCE, "interval_low": _money(estimate.low), "interval_high": _money(estimate.high),
        "degrees_of_freedom": estimate.degrees_of_freedom,
        "method": "stratified expansion estimator (N_h x mean not-upheld pence of the audited lines per stratum), "
                  "variance with finite population correction, Student t interval on Satterthwaite's degrees of "
                  "freedom",
        "complete": len(audited) == len(rows),
        "findings": [r[4] for r in audited],
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _money(pence_value: float) -> str:
    return str(pounds(pence(Decimal(repr(float(pence_value))) / 100)))


REPORT_COLUMNS = ("sample_id", "period", "sample_lines", "audited_lines", "not_upheld_lines", "sampled_pounds",
                  "not_upheld_pounds", "error_rate_pounds", "error_rate_lines", "population_lines",
                  "population_pounds", "extrapolated_overpayment", "interval_low", "interval_high", "confidence",
                  "complete")


def write_report(reports: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """findings-report.json (every figure) and findings-report.csv (one row per sample), written atomically."""
    paths = [folder / "findings-report.json", folder / "findings-report.csv"]
    write_atomic(paths[0], (json.dumps(list(reports), indent=2, ensure_ascii=False) + "\n").encode())
    write_atomic(paths[1], csv_bytes(REPORT_COLUMNS, list(reports)))
    return paths
