"""Audit sampling: a reproducible, stratified sample of a period's payment lines, weighted by pounds and risk.

The population is every line of the period's statements (as `pay` makes them; an approved period's stored lines)
that traces to a client: outcome, payment-point, attachment-fee and incentive lines. Caps, floors, cohort payments
and adjustments are not case files and are left out.

Strata: provider x risk (a line is *flagged* when its client is behind a monitoring flag, or its provider is flagged
with no rows named) x value (*high*: the line's amount is at or above the population's 90th percentile amount).
The sample size is shared among the strata in proportion to each stratum's pounds, a flagged stratum's pounds
counting `RISK_FACTOR` times, with at least `MIN_PER_STRATUM` lines per stratum (all of a smaller one). Within a
stratum the lines are drawn without replacement by a permanent random number: the SHA-256 of the seed and the line's
statement id and number, smallest first. So each line's inclusion probability is n_h / N_h and its design weight
N_h / n_h, and the same seed and statements give the same sample, byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period, parse_period
from recoverypbr.payments.run import Progress, make_statements
from recoverypbr.payments.statements import Statement
from recoverypbr.reports.cells import safe_row
from recoverypbr.warehouse.connection import Warehouse

#: The kinds of line that trace to a client and so have a case file.
SAMPLED_KINDS = ("outcome", "payment_point", "attachment_fee", "incentive")
#: How many times a flagged stratum's pounds count when the sample size is shared among strata.
RISK_FACTOR = 3
#: The percentile of the period's line amounts from which a line is in a high-value stratum.
HIGH_VALUE_PERCENTILE = 90
#: The fewest lines drawn from a stratum (all of a smaller one): two are needed to estimate its variance.
MIN_PER_STRATUM = 2
#: The columns of sample.csv; the auditor fills in `verdict` and `reason`.
SAMPLE_COLUMNS = ("sample_id", "line", "statement_id", "statement_line", "provider_id", "kind", "client_id",
                  "episode_id", "outcome_id", "complexity_group", "reference", "amount", "stratum",
                  "inclusion_probability", "weight", "verdict", "reason")
_LINE_FIELDS = ("kind", "provider_id", "reference", "client_id", "episode_id", "outcome_id", "complexity_group",
                "amount_pence")


class SampleError(RecoveryPbrError):
    """A sample that cannot be drawn as asked (its flags file, its size)."""


@dataclass(frozen=True)
class Flags:
    """Monitoring flags that raise a line's chance of audit: clients behind a flag, and providers flagged as a
    whole (a flagged row naming no clients)."""

    clients: frozenset[str]
    providers: frozenset[str]
    flagged_rows: int
    sha256: str
    file: str


#: The case ids the monitor lists behind a flag (`table:id`) and the column of their table that names the client.
CASE_TABLES = {"episode": ("episodes", "episode_id"), "top": ("top", "top_id"),
               "assessment": ("assessments", "assessment_id"), "feedback": ("feedback", "response_key")}


def case_clients(wh: Warehouse, names: list[str]) -> set[str]:
    """The clients behind the monitor's case ids (`episode:E1`, `top:T1`, `assessment:A1`, `feedback:<key>`,
    `client:C1`); a bare id is a client id."""
    clients = {n for n in names if ":" not in n} | {n.split(":", 1)[1] for n in names if n.startswith("client:")}
    for prefix, (table, key) in CASE_TABLES.items():
        ids = sorted({n.split(":", 1)[1] for n in names if n.startswith(prefix + ":")})
        if ids:
            t = wh.table(table)
            found = t.filter(t[key].isin(ids) & t.client_id.notnull()).select("client_id").distinct()
            clients.update(str(c) for c in wh.to_arrow(found).column(0).to_pylist())
    return clients


def read_flags(path: Path, contract: Contract, period: Period, wh: Warehouse | None = None) -> Flags:
    """The flags of a monitoring JSON file (`assure monitor --format json`: rows with provider_id, family,
    indicator, period, flagged and rows) raised for periods starting on or before the period's end. The cases
    behind a flag name its clients (resolved through `wh` when given); a flagged row naming none flags its provider
    as a whole. Rows of providers the contract does not pay are skipped (no line of theirs can be sampled); a row
    without its fields, or a period that cannot be read, is refused."""
    try:
        text = path.read_bytes()
        rows = json.loads(text)
    except (OSError, ValueError) as exc:
        raise SampleError(f"cannot read the flags file {path}: {exc}",
                          hint="pass the JSON that `recoverypbr assure monitor --format json` writes") from None
    if isinstance(rows, dict):
        rows = rows.get("rows", rows.get("indicators", []))
    if not isinstance(rows, list):
        raise SampleError(f"{path}: expected a list of indicator rows", hint="pass the monitor's JSON output")
    clients: set[str] = set()
    providers: set[str] = set()
    count = 0
    for number, row in enumerate(rows, start=1):
        if not _applies(path, number, row, contract, period):
            continue
        count += 1
        named = [str(c) for c in row.get("rows") or []]
        behind = case_clients(wh, named) if wh is not None else {n for n in named if ":" not in n}
        clients.update(behind)
        if not behind:
            providers.add(str(row["provider_id"]))
    return Flags(frozenset(clients), frozenset(providers), count, hashlib.sha256(text).hexdigest(), path.name)


def _applies(path: Path, number: int, row: Any, contract: Contract, period: Period) -> bool:
    missing = [k for k in ("provider_id", "family", "indicator", "period", "flagged") if not isinstance(row, dict)
               or k not in row]
    if missing:
        raise SampleError(f"{path}: row {number} lacks {', '.join(missing)}",
                          hint="each row needs provider_id, family, indicator, period, flagged and rows")
    if str(row["provider_id"]) not in contract.providers:
        return False
    try:
        start = parse_period(str(row["period"])).start
    except RecoveryPbrError as exc:
        raise SampleError(f"{path}: row {number}: {exc.message}", hint=exc.hint) from None
    return bool(row["flagged"]) and start <= period.end


@dataclass(frozen=True)
class Population:
    """The period's lines that can be audited, and the statements they come from."""

    period: Period
    as_of: date
    statements: tuple[Statement, ...]
    lines: pa.Table

    @property
    def statements_sha256(self) -> str:
        """The digest of the statements sampled: their ids and fingerprints."""
        text = "\n".join(f"{s.statement_id}={s.fingerprint}" for s in self.statements)
        return hashlib.sha256(text.encode()).hexdigest()


def population(
    wh: Warehouse, contract: Contract, period: Period, as_of: date | None = None,
    providers: Sequence[str] | None = None, progress: Progress | None = None,
) -> Population:
    """The statements `pay` makes for the period as of the date (default its last day; an approved period's as
    stored), and their lines of `SAMPLED_KINDS` that name a client, numbered as in their statements."""
    made = make_statements(wh, contract, period, as_of, providers, progress)
    rows = [
        {"statement_id": s.statement_id, "statement_line": number,
         **{f: getattr(line, f) for f in _LINE_FIELDS}}
        for s in made for number, line in enumerate(s.lines, start=1)
        if line.kind in SAMPLED_KINDS and line.client_id
    ]
    schema = pa.schema([("statement_id", pa.string()), ("statement_line", pa.int64()), ("kind", pa.string()),
                        ("provider_id", pa.string()), ("reference", pa.string()), ("client_id", pa.string()),
                        ("episode_id", pa.string()), ("outcome_id", pa.string()),
                        ("complexity_group", pa.string()), ("amount_pence", pa.int64())])
    # The ledger was evaluated as of this date (an approved statement keeps its own as-of date, in the design).
    return Population(period, as_of or period.end, tuple(made), pa.Table.from_pylist(rows, schema=schema))


def allocate_sizes(size: int, caps: Sequence[int], scores: Sequence[float], minimum: int = MIN_PER_STRATUM
                   ) -> list[int]:
    """Share `size` lines among strata of `caps` lines in proportion to `scores` (each line in turn to the stratum
    with the largest score per line already given, the first on a tie), each stratum getting at least `minimum`
    (or all its lines) and never more than its lines."""
    caps_ = np.asarray(caps, dtype=np.int64)
    if size >= int(caps_.sum()):
        return [int(c) for c in caps_]
    sizes = np.minimum(caps_, minimum)
    if int(sizes.sum()) > size:
        raise SampleError(
            f"a sample of {size} lines cannot take {minimum} from each of the {len(caps_)} strata",
            hint=f"ask for at least {int(sizes.sum())} lines (--size)",
        )
    weights = np.asarray(scores, dtype=float)
    for _ in range(size - int(sizes.sum())):
        room = sizes < caps_
        quotient = np.where(room, weights / (sizes + 1), -np.inf)
        sizes[int(np.argmax(quotient))] += 1
    return [int(s) for s in sizes]


@dataclass(frozen=True)
class Sample:
    """A drawn sample: its id, design (as written to sample.json) and lines (as written to sample.csv)."""

    sample_id: str
    design: dict[str, Any]
    lines: list[dict[str, Any]]


def draw(wh: Warehouse, contract: Contract, found: Population, size: int, seed: int,
         flags: Flags | None = None) -> Sample:
    """The stratified sample of `size` lines of the population (see the module's docstring)."""
    if size < 1:
        raise SampleError(f"a sample needs at least one line, not {size}", hint="pass --size 1 or more")
    lines = found.lines
    if lines.num_rows == 0:
        raise SampleError(f"no line of {found.period.label} traces to a client: there is nothing to sample",
                          hint="check the period, or pay it first to see its lines")
    amounts = np.abs(lines.column("amount_pence").to_numpy())
    high_from = int(np.percentile(amounts, HIGH_VALUE_PERCENTILE, method="inverted_cdf"))
    strata = _strata(lines, amounts >= high_from, flags)
    names, index, counts = np.unique(strata, return_inverse=True, return_counts=True)
    pence = np.bincount(index, weights=amounts, minlength=len(names))
    flagged = np.array(["/flagged/" in n for n in names])
    scores = np.maximum(pence, 1) * np.where(flagged, RISK_FACTOR, 1)
    sizes = allocate_sizes(size, counts.tolist(), scores.tolist())
    chosen = _chosen(wh, lines.append_column("stratum", pa.array(strata)), dict(zip(names.tolist(), sizes,
                                                                                      strict=True)), seed)
    design = _design(contract, found, size, seed, flags, high_from, names, counts, pence, sizes)
    sample_id = "S" + hashlib.sha256(json.dumps([design, chosen], sort_keys=True, default=str).encode()
                                     ).hexdigest()[:10].upper()
    probability = {str(n): s / c for n, c, s in zip(names, counts, sizes, strict=True)}
    rows = [_sample_row(sample_id, number, row, probability[row["stratum"]])
            for number, row in enumerate(chosen, start=1)]
    return Sample(sample_id, {"sample_id": sample_id, **design}, rows)


def _strata(lines: pa.Table, high: np.ndarray, flags: Flags | None) -> np.ndarray:
    provider = np.asarray(lines.column("provider_id").to_pylist(), dtype=object)
    risky = np.zeros(lines.num_rows, dtype=bool)
    if flags is not None:
        client = np.asarray(lines.column("client_id").to_pylist(), dtype=object)
        risky = np.isin(client, list(flags.clients)) | np.isin(provider, list(flags.providers))
    risk = np.where(risky, "flagged", "unflagged")
    value = np.where(high, "high", "standard")
    return np.char.add(np.char.add(np.char.add(provider.astype(str), "/"), np.char.add(risk, "/")), value)


def _chosen(wh: Warehouse, lines: pa.Table, sizes: dict[str, int], seed: int) -> list[dict[str, Any]]:
    """Each stratum's n_h lines with the smallest permanent random numbers, in statement and line order."""
    name = "_audit_population"
    t = wh.register_arrow(name, lines)
    try:
        n = wh.register_arrow("_audit_sizes", pa.table({"s_stratum": list(sizes), "s_size": list(sizes.values())}))
        key = (ibis.literal(f"{seed}:") + t.statement_id + "#" + t.statement_line.cast("string")).hexdigest("sha256")
        ranked = t.mutate(_rank=ibis.row_number().over(group_by=t.stratum, order_by=[key, t.statement_id,
                                                                                       t.statement_line]))
        joined = ranked.join(n, ranked.stratum == n.s_stratum)
        picked = joined.filter(joined._rank < joined.s_size).select(*lines.column_names)
        return list(wh.to_arrow(picked.order_by("statement_id", "statement_line")).to_pylist())
    finally:
        wh.unregister(name)
        wh.unregister("_audit_sizes")


def _design(contract: Contract, found: Population, size: int, seed: int, flags: Flags | None, high_from: int,
            names: np.ndarray, counts: np.ndarray, pence: np.ndarray, sizes: list[int]) -> dict[str, Any]:
    strata = [
        {"stratum": str(name), "population_lines": int(count), "population_pounds": str(pounds(int(total))),
         "sample_lines": n, "inclusion_probability": _number(n / int(count)), "weight": _number(int(count) / n)}
        for name, count, total, n in zip(names, counts, pence, sizes, strict=True)
    ]
    risk: dict[str, Any] = {"weighting": "none: no --flags file was given, so no stratum is flagged"}
    if flags is not None:
        risk = {"weighting": f"a flagged stratum's pounds count {RISK_FACTOR} times in the allocation",
                "file": flags.file, "sha256": flags.sha256, "flagged_rows": flags.flagged_rows,
                "clients": len(flags.clients), "providers_flagged_whole": sorted(flags.providers)}
    return {
        "contract": {"area": contract.area, "version": contract.effective_from.isoformat()},
        "period": found.period.label, "as_of": found.as_of.isoformat(), "seed": seed, "size_asked": size,
        "size": sum(sizes), "statements_sha256": found.statements_sha256,
        "statements": [{"statement_id": s.statement_id, "status": s.status, "as_of": s.as_of.isoformat(),
                        "fingerprint": s.fingerprint}
                       for s in found.statements],
        "kinds": list(SAMPLED_KINDS), "high_value_from": str(pounds(high_from)),
        "high_value_percentile": HIGH_VALUE_PERCENTILE, "risk": risk,
        "method": "stratified by provider, risk flag and value; pounds-proportional allocation (flagged x"
                  f"{RISK_FACTOR}, at least {MIN_PER_STRATUM} per stratum); without replacement within a stratum "
                  "by SHA-256 permanent random numbers of the seed and line; weight = N_h / n_h",
        "population_lines": int(counts.sum()), "population_pounds": str(pounds(int(pence.sum()))),
        "strata": strata,
    }


def _number(value: float) -> str:
    return f"{value:.10g}"


def _sample_row(sample_id: str, number: int, row: dict[str, Any], probability: float) -> dict[str, Any]:
    return {
        "sample_id": sample_id, "line": number, "statement_id": row["statement_id"],
        "statement_line": row["statement_line"], "provider_id": row["provider_id"], "kind": row["kind"],
        "client_id": row["client_id"], "episode_id": row["episode_id"] or "", "outcome_id": row["outcome_id"] or "",
        "complexity_group": row["complexity_group"] or "", "reference": row["reference"],
        "amount": str(pounds(row["amount_pence"])), "stratum": row["stratum"],
        "inclusion_probability": _number(probability), "weight": _number(1 / probability), "verdict": "",
        "reason": "", "amount_pence": row["amount_pence"],
    }


def record_sample(wh: Warehouse, contract: Contract, sample: Sample, at: datetime) -> bool:
    """Store the sample and its lines (one transaction), so findings can name its lines; a sample already stored
    (the same id: the same seed, design and lines) is left as it is. True when stored now."""
    if wh.execute("SELECT count(*) FROM audit_samples WHERE sample_id = ?", [sample.sample_id])[0][0]:
        return False
    design = sample.design
    with wh.transaction():
        wh.execute(
            "INSERT INTO audit_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sample.sample_id, contract.area, contract.effective_from, design["period"], design["as_of"],
             design["seed"], design["size"], design["statements_sha256"], sample_json(sample), at],
        )
        columns = ("line", "statement_id", "statement_line", "kind", "provider_id", "reference", "client_id",
                   "episode_id", "outcome_id", "complexity_group", "amount_pence", "stratum")
        staged = pa.table({"sample_id": [sample.sample_id] * len(sample.lines),
                           **{c: [None if row[c] == "" else row[c] for row in sample.lines] for c in columns},
                           "inclusion_probability": [float(r["inclusion_probability"]) for r in sample.lines]})
        staged = staged.rename_columns(["line_no" if c == "line" else c for c in staged.column_names])
        wh.insert("audit_sample_lines", wh.register_arrow("_audit_sample_lines", staged))
        wh.unregister("_audit_sample_lines")
    return True


def sample_json(sample: Sample) -> str:
    """The design as JSON text (two-space indent, newline at the end)."""
    return json.dumps(sample.design, indent=2, ensure_ascii=False) + "\n"


def sample_csv(sample: Sample) -> bytes:
    """The sampled lines as CSV (`SAMPLE_COLUMNS`; `verdict` and `reason` empty, for the auditor)."""
    return csv_bytes(SAMPLE_COLUMNS, sample.lines)


def csv_bytes(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """Rows as CSV (UTF-8, `\\n` line ends), every cell spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(safe_row({c: "" if row.get(c) is None else row.get(c) for c in columns}) for row in rows)
    return buffer.getvalue().encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Write the file under a temporary name beside it, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def write_sample(sample: Sample, folder: Path) -> list[Path]:
    """sample.csv and sample.json in the folder, each written atomically."""
    written = [folder / "sample.csv", folder / "sample.json"]
    write_atomic(written[0], sample_csv(sample))
    write_atomic(written[1], sample_json(sample).encode())
    return written
