"""Case-file packs: for every sampled line, the rows an auditor checks it against, as CSV and as one PDF.

Five CSV tables, each with the sample's `line` as its first column: `evidence.csv` (the outcome ledger's decision
for the line's client, episode and outcome as of the sample's date, in words, and each evidence row it rests on,
as `outcomes.explain` shows them), `tops.csv` (the episode's TOPs known on that date), `episodes.csv`,
`assessments.csv` (the client's assessments on or before that date) and `groups.csv` (the complexity group the
contract's grouping gives the episode, beside the group the line was paid at). `pack.pdf` has a summary table with an
empty findings column, then one section per line with the same rows and a findings form. Every file is written under
a temporary name and then renamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from fpdf import FPDF
from fpdf.fonts import FontFace

from recoverypbr.assurance.sampling import Sample, csv_bytes, write_atomic
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.explain import Seen, evidence_rows, evidence_words, words
from recoverypbr.outcomes.inputs import Inputs, warehouse_inputs
from recoverypbr.outcomes.ledger import episode_groups, stored_ledger
from recoverypbr.reports.pdf import FooterPages, pdf_text
from recoverypbr.warehouse.connection import Warehouse

TOP_SHOWN = ("top_id", "top_date", "stage", "alcohol_days", "opiate_days", "crack_days", "cocaine_days",
             "injecting_days", "quality_of_life", "acute_housing_problem")
EPISODE_SHOWN = ("episode_id", "client_id", "provider_id", "start_date", "discharge_date", "discharge_reason",
                 "service_line", "substances")
ASSESSMENT_SHOWN = ("assessment_id", "client_id", "assessed_on", "assessor_org", "assessor_independent",
                    "primary_substance", "complexity_group")
EVIDENCE_COLUMNS = ("line", "client_id", "episode_id", "outcome_id", "status", "achieved_on", "decision",
                    "evidence_id", "evidence_words")
HEAD = FontFace(emphasis="BOLD", fill_color=(221, 230, 240))


def _sampled(wh: Warehouse, sample: Sample) -> ir.Table:
    rows = [{"s_line": r["line"], "s_client": r["client_id"], "s_episode": r["episode_id"] or None,
             "s_outcome": r["outcome_id"] or None} for r in sample.lines]
    schema = pa.schema([("s_line", pa.int64()), ("s_client", pa.string()), ("s_episode", pa.string()),
                        ("s_outcome", pa.string())])
    return wh.register_arrow("_audit_sampled", pa.Table.from_pylist(rows, schema=schema))


def _joined(wh: Warehouse, sampled: ir.Table, table: ir.Table, on: str, key: str, columns: Sequence[str],
            order: str) -> list[dict[str, Any]]:
    """The rows of `table` whose `key` matches each sampled line's `on`, with the line, in line order."""
    joined = sampled.join(table, sampled[on] == table[key])
    picked = joined.select(line=joined.s_line, **{c: joined[c] for c in columns if c in table.columns})
    return list(wh.to_arrow(picked.order_by("line", order)).to_pylist())


def pack_tables(wh: Warehouse, contract: Contract, sample: Sample, as_of: date) -> dict[str, list[dict[str, Any]]]:
    """The pack's tables (name -> rows), each row with the sampled `line` it belongs to."""
    known = warehouse_inputs(wh, as_of)
    sampled = _sampled(wh, sample)
    try:
        groups = episode_groups(known, contract)
        groups = groups.select(episode_id=groups.g_episode, complexity_group=groups.complexity_group)
        tables = {
            "tops": _joined(wh, sampled, known.top, "s_episode", "episode_id", TOP_SHOWN, "top_date"),
            "episodes": _joined(wh, sampled, known.episodes, "s_episode", "episode_id", EPISODE_SHOWN,
                                "episode_id"),
            "assessments": _joined(wh, sampled, known.assessments, "s_client", "client_id", ASSESSMENT_SHOWN,
                                   "assessed_on"),
            "groups": _joined(wh, sampled, groups, "s_episode", "episode_id", ("episode_id", "complexity_group"),
                              "episode_id"),
            "evidence": _evidence(wh, contract, sample, sampled, known),
        }
    finally:
        wh.unregister("_audit_sampled")
    paid_at = {r["line"]: r["complexity_group"] for r in sample.lines}
    for row in tables["groups"]:
        row["paid_at_group"] = paid_at[row["line"]]
    return tables


def _evidence(wh: Warehouse, contract: Contract, sample: Sample, sampled: ir.Table, known: Inputs
              ) -> list[dict[str, Any]]:
    """The ledger's decision for each sampled outcome line and its evidence rows, as `outcomes.explain` gives them
    (the rows the rule saw on the as-of date); a fee or incentive line has no ledger row and says so."""
    ledger = stored_ledger(wh, contract, known.as_of)
    joined = sampled.join(ledger, (sampled.s_client == ledger.client_id) & (sampled.s_episode == ledger.episode_id)
                          & (sampled.s_outcome == ledger.outcome_id))
    decided = {r["s_line"]: r for r in wh.to_arrow(joined).to_pylist()}
    episodes = {r["episode_id"]: r for r in wh.to_arrow(known.episodes.filter(known.episodes.episode_id.isin(
        sorted({r["episode_id"] for r in sample.lines if r["episode_id"]}) or [""]))).to_pylist()}
    found = []
    # One explain lookup per sampled line's evidence ids: a sample is tens of lines, and this is explain's own code.
    for line in sample.lines:
        base = {"line": line["line"], "client_id": line["client_id"], "episode_id": line["episode_id"],
                "outcome_id": line["outcome_id"]}
        row = decided.get(line["line"])
        if row is None:
            found.append({**base, "status": "", "achieved_on": "", "evidence_id": "",
                          "decision": f"{line['kind'].replace('_', ' ')} line: no outcome decision; see the episode "
                                      "and assessment rows", "evidence_words": ""})
            continue
        outcome = contract.outcomes[row["outcome_id"]]
        episode = episodes.get(row["episode_id"])
        decision = words(row, outcome.label or row["outcome_id"], outcome.type,
                         episode is not None and episode["discharge_date"] is None)
        seen = Seen(outcome, episode, known.as_of)
        shown = [(ref.partition("=")[0], evidence_words(ref, r, seen)) for ref, r in evidence_rows(wh, known, row)]
        for ref, text in shown or [("", "")]:
            found.append({**base, "status": row["status"], "achieved_on": row["achieved_on"], "decision": decision,
                          "evidence_id": ref, "evidence_words": text})
    return found


def write_pack(tables: dict[str, list[dict[str, Any]]], sample: Sample, folder: Path) -> list[Path]:
    """pack/<table>.csv for each table and pack.pdf, in the folder."""
    columns = {"evidence": EVIDENCE_COLUMNS, "tops": ("line", *TOP_SHOWN), "episodes": ("line", *EPISODE_SHOWN),
               "assessments": ("line", *ASSESSMENT_SHOWN),
               "groups": ("line", "episode_id", "complexity_group", "paid_at_group")}
    written = []
    for name, rows in tables.items():
        path = folder / "pack" / f"{name}.csv"
        write_atomic(path, csv_bytes(columns[name], rows))
        written.append(path)
    pdf = folder / "pack.pdf"
    write_atomic(pdf, pack_pdf(tables, sample))
    return [*written, pdf]


def pack_pdf(tables: dict[str, list[dict[str, Any]]], sample: Sample) -> bytes:
    """The case-file pack as a PDF: the summary with an empty findings column, then one section per line."""
    design = sample.design
    pdf = FooterPages(orientation="L", format="A4")
    pdf.footer_text = f"Audit sample {sample.sample_id}, {design['period']}"
    pdf.set_creation_date(datetime.combine(date.fromisoformat(design["as_of"]), datetime.min.time()))
    pdf.set_title(pdf_text(f"Audit sample {sample.sample_id}"))
    pdf.set_creator("recoverypbr")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, pdf_text(f"Audit case files: sample {sample.sample_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(0, 5, pdf_text(
        f"{design['contract']['area']}, {design['period']}, statements as of {design['as_of']}; seed "
        f"{design['seed']}; {design['size']} of {design['population_lines']} lines (GBP "
        f"{design['population_pounds']}). Risk weighting: {design['risk']['weighting']}. Record each line's "
        "verdict (upheld or not_upheld, with a reason when not upheld) in sample.csv and run "
        "`recoverypbr assure findings`."), new_x="LMARGIN", new_y="NEXT")
    _table(pdf, ("Line", "Provider", "Kind", "Client", "Episode", "Outcome", "GBP", "Stratum",
                 "Finding (upheld / not upheld, reason)"),
           [(r["line"], r["provider_id"], r["kind"], r["client_id"], r["episode_id"], r["outcome_id"], r["amount"],
             r["stratum"], "") for r in sample.lines], (12, 16, 24, 22, 22, 34, 18, 40, 89))
    by_line: dict[str, dict[int, list[dict[str, Any]]]] = {name: {} for name in tables}
    for name, rows in tables.items():
        for row in rows:
            by_line[name].setdefault(row["line"], []).append(row)
    for line in sample.lines:
        _section(pdf, line, {name: found.get(line["line"], []) for name, found in by_line.items()})
    return bytes(pdf.output())


def _table(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None
           ) -> None:
    pdf.set_font("Helvetica", size=7)
    with pdf.table(col_widths=tuple(widths) if widths else None, headings_style=HEAD, align="LEFT",
                   width=sum(widths) if widths else None) as table:
        table.row([pdf_text(h) for h in header])
        for row in rows:
            table.row([pdf_text(v) for v in row])


def _heading(pdf: FPDF, text: str, size: int = 10) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(0, 6, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)


def _section(pdf: FPDF, line: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
    pdf.add_page()
    _heading(pdf, f"Line {line['line']}: {line['provider_id']} {line['kind'].replace('_', ' ')} "
                  f"{line['outcome_id']}, client {line['client_id']}, episode {line['episode_id']}, "
                  f"GBP {line['amount']}", 12)
    pdf.multi_cell(0, 4.5, pdf_text(
        f"Statement {line['statement_id']} line {line['statement_line']}; reference {line['reference']}; "
        f"paid at complexity group {line['complexity_group'] or 'none'}; stratum {line['stratum']}, inclusion "
        f"probability {line['inclusion_probability']}, weight {line['weight']}."), new_x="LMARGIN", new_y="NEXT")
    evidence = rows["evidence"]
    if evidence:
        _heading(pdf, "Decision")
        pdf.multi_cell(0, 4.5, pdf_text(evidence[0]["decision"]), new_x="LMARGIN", new_y="NEXT")
        shown = [(r["evidence_id"], r["evidence_words"]) for r in evidence if r["evidence_id"]]
        if shown:
            _heading(pdf, "Evidence")
            _table(pdf, ("Evidence", "What it records"), shown, (60, 217))
    for title, name, columns in (("TOPs", "tops", TOP_SHOWN), ("Episode", "episodes", EPISODE_SHOWN),
                                 ("Assessments", "assessments", ASSESSMENT_SHOWN)):
        _heading(pdf, title)
        if rows[name]:
            _table(pdf, columns, [[r.get(c) for c in columns] for r in rows[name]])
        else:
            pdf.cell(0, 5, "none recorded on or before the sample's date", new_x="LMARGIN", new_y="NEXT")
    groups = rows["groups"]
    _heading(pdf, "Complexity group")
    pdf.cell(0, 5, pdf_text(f"by the contract's grouping: {groups[0]['complexity_group'] if groups else 'none'}; "
                         f"paid at: {line['complexity_group'] or 'none'}"), new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "Finding")
    pdf.multi_cell(0, 7, "Verdict:   [  ] upheld     [  ] not upheld\nReason (required when not upheld): "
                   "____________________________________________________________\nAuditor: ____________________"
                   "     Date: ______________", new_x="LMARGIN", new_y="NEXT")
