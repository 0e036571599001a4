"""The commissioner's and auditor's contract dashboard, and the reports folder, as the web app shows them.

Every figure comes from what the rest of the program already made: the statements the viewer may see
(`statements_data.index` and their documents' `year_to_date` and `funnel` blocks), the contract's own figures
(`contract.explain.year_figures`) and the outcome ledger stored for the latest as-of date (`outcomes.ledger.counts`).
Each chart is drawn by Altair, rendered offline to SVG by vl-convert, and shown as an image (a `data:` URL, which
the app's Content-Security-Policy allows); its table holds the same figures for everyone who cannot see it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from recoverypbr.contract.explain import year_figures
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.ledger import counts, stored_ledger
from recoverypbr.payments.run import schedule
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.web import statements_data as sd
from recoverypbr.web.access import Scope
from recoverypbr.web.clients_data import stored_dates

# --- Charts -----------------------------------------------------------------------------------------------------------

_SVGS: OrderedDict[str, str] = OrderedDict()
_SVG_LOCK = threading.Lock()


def chart_image(chart: Any) -> str:
    """The chart as a `data:image/svg+xml;base64,...` URL, drawn offline (no URL may be fetched); the same chart is
    drawn once and kept."""
    spec = chart.to_dict()
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    with _SVG_LOCK:
        kept = _SVGS.get(key)
        if kept is not None:
            _SVGS.move_to_end(key)
            return kept
    import vl_convert  # imported when a chart is drawn: it is slow to import

    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    url = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    with _SVG_LOCK:
        _SVGS[key] = url
        while len(_SVGS) > 64:
            _SVGS.popitem(last=False)
    return url


def _pounds(value: Decimal) -> float:
    """A chart's figure in pounds (the picture only: the tables keep the Decimal)."""
    return float(value)


def _grouped_bars(rows: list[dict[str, Any]], x: str, y: str, colour: str, *, title: str, x_title: str,
                  y_title: str, money: bool = True, horizontal: bool = False) -> Any:
    """Bars of `y` by `x`, side by side per `colour`, in the rows' order, in the house style of the modelling
    charts; each bar is labelled with its series too (a second cue to the colour)."""
    import altair as alt  # imported when a chart is made: it is slow to import

    from recoverypbr.modelling.charts import HEIGHT, PALETTE, WIDTH, _config, _order

    data = alt.Data(values=rows)  # type: ignore[no-untyped-call]
    fmt = ",.0f" if money else ".0%"
    series = _order(rows, colour)
    category: Any = alt.X(f"{x}:N", sort=_order(rows, x), title=x_title, axis=alt.Axis(labelAngle=0))
    measure: Any = alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=fmt))
    offset: Any = alt.XOffset(f"{colour}:N", sort=series)
    if horizontal:
        category = alt.Y(f"{x}:N", sort=_order(rows, x), title=x_title, axis=alt.Axis(labelLimit=260))
        measure = alt.X(f"{y}:Q", title=y_title, axis=alt.Axis(format=fmt), scale=alt.Scale(domain=[0, 1]))
        offset = alt.YOffset(f"{colour}:N", sort=series)
    if horizontal:
        base = alt.Chart(data).encode(y=category, x=measure, yOffset=offset)
    else:
        base = alt.Chart(data).encode(x=category, y=measure, xOffset=offset)
    bars = base.mark_bar().encode(color=alt.Color(f"{colour}:N", sort=series, title=None,
                                                  scale=alt.Scale(range=list(PALETTE))))
    labels = base.mark_text(align="left" if horizontal else "center", baseline="middle",
                            dx=4 if horizontal else 0, dy=0 if horizontal else -8, fontSize=12).encode(
        text=alt.Text(f"{colour}:N"))
    size: dict[str, Any] = {"width": WIDTH - 160, "height": alt.Step(16)} if horizontal else {
        "width": WIDTH, "height": HEIGHT}
    chart = alt.layer(bars, labels).properties(title=title, description=title, **size)
    return _config(chart)


# --- Results money by contract year ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearRow:
    year: str
    start: date
    end: date
    budget: Decimal | None
    results_money: Decimal | None
    paid: Decimal
    providers: int
    """How many providers' statements the paid figure adds up (each provider's latest statement in the year)."""
    through: str
    """The latest period counted."""

    @property
    def remaining(self) -> Decimal | None:
        return None if self.results_money is None else self.results_money - self.paid

    @property
    def used(self) -> str:
        if not self.results_money:
            return ""
        return f"{(self.paid * 100 / self.results_money).quantize(Decimal('0.1'))}%"


def _documents(wh: Warehouse, contract: Contract, scope: Scope,
               entries: list[sd.Entry]) -> list[tuple[sd.Entry, dict[str, Any]]]:
    """Each statement's document; a draft written without its JSON file (so without its year to date) is left
    out of the figures that need one, and its total still shows."""
    found = []
    for entry in entries:
        try:
            found.append((entry, sd.document(wh, contract, scope, entry.period, entry.provider_id)))
        except HTTPException:
            continue
    return found


def year_rows(contract: Contract, documents: list[tuple[sd.Entry, dict[str, Any]]]) -> list[YearRow]:
    """Each contract year's budget and results money (as `contract explain` states them) against what has been
    paid for it: the sum over providers of the year to date of each provider's latest statement in that year."""
    order = {p.label: i for i, p in enumerate(schedule(contract))}
    latest: dict[tuple[str, str], tuple[int, str, dict[str, Any]]] = {}
    for entry, doc in documents:
        ytd = doc.get("year_to_date")
        if not ytd:
            continue
        key = (str(ytd["start"]), entry.provider_id)
        rank = order.get(entry.period, -1)
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, entry.period, ytd)
    found = []
    for index, year in enumerate(contract.years):
        figures = year_figures(contract, index)
        mine = [(period, ytd) for (start, _pid), (_r, period, ytd) in latest.items()
                if start == year.start.isoformat()]
        paid = sum((Decimal(ytd["paid_to_date"]) for _, ytd in mine), Decimal(0))
        through = max((p for p, _ in mine), key=lambda p: order.get(p, -1), default="")
        found.append(YearRow(contract.year_label(index).capitalize(), year.start, year.end, figures.get("budget"),
                             figures.get("results_money"), paid, len(mine), through))
    return found


def year_chart(rows: list[YearRow]) -> Any:
    data = []
    for row in rows:
        if row.results_money is not None:
            data.append({"year": row.year, "series": "Results money", "pounds": _pounds(row.results_money)})
        data.append({"year": row.year, "series": "Paid so far", "pounds": _pounds(row.paid)})
    return _grouped_bars(data, "year", "pounds", "series", title="Results money used, by contract year",
                         x_title="Contract year", y_title="Pounds")


# --- Payments by quarter and provider -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentsTable:
    periods: list[str]
    providers: list[str]
    #: (period, provider) -> (total, status)
    cells: dict[tuple[str, str], tuple[Decimal, str]]

    def total(self, period: str) -> Decimal:
        return sum((v for (p, _), (v, _s) in self.cells.items() if p == period), Decimal(0))

    def provider_total(self, provider: str) -> Decimal:
        return sum((v for (_, q), (v, _s) in self.cells.items() if q == provider), Decimal(0))

    @property
    def grand_total(self) -> Decimal:
        return sum((v for v, _ in self.cells.values()), Decimal(0))


def payments_table(entries: list[sd.Entry]) -> PaymentsTable:
    periods = list(dict.fromkeys(e.period for e in entries))
    providers = sorted({e.provider_id for e in entries})
    return PaymentsTable(periods, providers, {(e.period, e.provider_id): (Decimal(e.total), e.status)
                                              for e in entries})


def payments_chart(table: PaymentsTable) -> Any:
    data = [{"period": p, "provider": q, "pounds": _pounds(table.cells[(p, q)][0])}
            for p in table.periods for q in table.providers if (p, q) in table.cells]
    return _grouped_bars(data, "period", "pounds", "provider", title="Statement totals by period and provider",
                         x_title="Statement period", y_title="Pounds")


# --- Funnel predicted against actual ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    period: str
    #: The document's `funnel` rows: funnel, milestone, label, month, predicted, actual.
    months: list[dict[str, Any]]
    #: The document's `funnel_year` rows: the year to date against each milestone's prediction.
    year: list[dict[str, Any]]


def funnel(contract: Contract, documents: list[tuple[sd.Entry, dict[str, Any]]]) -> Funnel | None:
    """The latest statement's funnel (the whole funnel, all providers: every provider's statement shows the same),
    or None when no statement has one yet."""
    if not contract.funnels:
        return None
    order = {p.label: i for i, p in enumerate(schedule(contract))}
    with_funnel = [(order.get(e.period, -1), e.period, doc) for e, doc in documents if doc.get("funnel")]
    if not with_funnel:
        return None
    _, period, doc = max(with_funnel, key=lambda t: t[0])
    return Funnel(period, list(doc["funnel"]), list(doc.get("funnel_year") or []))


def funnel_chart(found: Funnel) -> Any:
    """Each milestone's predicted (dashed) and actual (solid) clients by month, one panel per milestone."""
    import altair as alt  # imported when a chart is made: it is slow to import

    from recoverypbr.modelling.charts import BLUE, GREY, WIDTH, _config

    data = [{"milestone": f"{r['funnel']}: {r['label']}", "month": str(r["month"])[:7], "series": name,
             "clients": r[key]} for r in found.months for key, name in (("predicted", "Predicted"),
                                                                        ("actual", "Actual"))]
    series = ["Predicted", "Actual"]
    months = list(dict.fromkeys(d["month"] for d in data))
    milestones = list(dict.fromkeys(d["milestone"] for d in data))
    line = alt.Chart().mark_line(strokeWidth=2.5, point=True).encode(
        x=alt.X("month:O", sort=months, title="Month", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("clients:Q", title="Clients"),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=series, range=[GREY, BLUE])),
        strokeDash=alt.StrokeDash("series:N", title=None, scale=alt.Scale(domain=series, range=[[6, 4], [1, 0]])),
    ).properties(width=WIDTH - 120, height=160)
    title = f"Funnel: predicted against actual clients by month ({found.period})"
    chart = alt.layer(line, data=alt.Data(values=data)).facet(  # type: ignore[no-untyped-call]
        row=alt.Row("milestone:N", sort=milestones, title=None,
                    header=alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top",
                                      labelFontWeight="bold")),
    ).properties(title=title, description=title)
    return _config(chart)


# --- Outcome rates by complexity group -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    as_of: date
    rows: list[dict[str, Any]]


def rates(wh: Warehouse, contract: Contract) -> Rates | None:
    """Episodes by outcome, complexity group and status, with the rate achieved, from the ledger stored for the
    latest as-of date (None when none is stored)."""
    dates = stored_dates(wh, contract)
    if not dates:
        return None
    as_of = dates[0]
    rows = wh.to_arrow(counts(stored_ledger(wh, contract, as_of))).to_pylist()
    labels = {oid: (o.label or oid) for oid, o in contract.outcomes.items()}
    outcomes = {oid: i for i, oid in enumerate(contract.outcomes)}
    groups = {g: i for i, g in enumerate(contract.complexity.groups if contract.complexity else [])}
    rows.sort(key=lambda r: (outcomes.get(r["outcome_id"], 1 << 30), r["outcome_id"],
                             groups.get(r["complexity_group"], 1 << 30), r["complexity_group"] or ""))
    for row in rows:
        row["label"] = labels.get(row["outcome_id"], row["outcome_id"])
        row["group"] = row["complexity_group"] or "no group"
        row["eligible"] = row["achieved"] + row["pending_maturation"] + row["not_achieved"]
        row["shown_rate"] = "" if row["rate"] is None else f"{row['rate'] * 100:.1f}%"
    return Rates(as_of, rows)


def rates_chart(found: Rates) -> Any:
    data = [{"outcome": r["outcome_id"], "group": r["group"], "rate": r["rate"]}
            for r in found.rows if r["rate"] is not None]
    return _grouped_bars(data, "outcome", "rate", "group", title=f"Outcome rates by complexity group, as of "
                         f"{found.as_of}", x_title="Outcome", y_title="Achieved among eligible episodes",
                         money=False, horizontal=True)


# --- The dashboard ---------------------------------------------------------------------------------------------------


@dataclass
class Dashboard:
    years: list[YearRow]
    payments: PaymentsTable
    funnel: Funnel | None
    has_funnels: bool
    rates: Rates | None
    charts: dict[str, str] = field(default_factory=dict)


def dashboard(wh: Warehouse, contract: Contract, scope: Scope) -> Dashboard:
    """Every figure of the dashboard, with its charts as image URLs."""
    entries = sd.index(wh, contract, scope)
    documents = _documents(wh, contract, scope, entries)
    found = Dashboard(year_rows(contract, documents), payments_table(entries), funnel(contract, documents),
                      bool(contract.funnels), rates(wh, contract))
    found.charts["years"] = chart_image(year_chart(found.years))
    if entries:
        found.charts["payments"] = chart_image(payments_chart(found.payments))
    if found.funnel is not None and found.funnel.months:
        found.charts["funnel"] = chart_image(funnel_chart(found.funnel))
    if found.rates is not None and any(r["rate"] is not None for r in found.rates.rows):
        found.charts["rates"] = chart_image(rates_chart(found.rates))
    return found


# --- Reports ---------------------------------------------------------------------------------------------------------

#: Report kinds -> the folder under the reports folder holding them.
REPORT_KINDS = ("model", "assurance")
#: The files listed (and so served): the reports and their JSON figures.
REPORT_SUFFIXES = {".html": "text/html; charset=utf-8", ".json": "application/json"}


@dataclass(frozen=True)
class ReportFile:
    kind: str
    name: str
    """The file's path under its kind's folder, with `/` (e.g. `baseline/baseline-report.html`)."""
    path: Path
    size: int

    @property
    def media_type(self) -> str:
        return REPORT_SUFFIXES[self.path.suffix]


def report_files(root: Path) -> dict[str, list[ReportFile]]:
    """Kind -> the report files found: `model/<name>/*` and `assurance/*`, HTML and JSON, sorted by name. Only
    regular files inside the reports folder are listed (a link leading elsewhere is not)."""
    base = root.resolve()
    found: dict[str, list[ReportFile]] = {}
    for kind in REPORT_KINDS:
        folder = base / kind
        candidates: list[Path] = []
        if folder.is_dir():
            candidates = [p for p in folder.iterdir() if p.is_file()]
            candidates += [p for sub in sorted(folder.iterdir()) if sub.is_dir() for p in sub.iterdir() if p.is_file()]
        files = []
        for path in candidates:
            real = path.resolve()
            if path.suffix not in REPORT_SUFFIXES or path.name.startswith(".") or not real.is_relative_to(folder):
                continue
            files.append(ReportFile(kind, path.relative_to(folder).as_posix(), real, real.stat().st_size))
        found[kind] = sorted(files, key=lambda f: f.name)
    return found


def report_file(root: Path, kind: str, name: str) -> ReportFile | None:
    """The listed report file of that kind and name, or None: a name is never turned into a path itself."""
    return next((f for f in report_files(root).get(kind, []) if f.name == name), None)


def monitor_summary(root: Path) -> dict[str, Any] | None:
    """What `assurance/monitor.json` says in a few figures, or None when there is none (or it cannot be read)."""
    path = root / "assurance" / "monitor.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("rows") or []
    flagged_rows = [r for r in rows if r.get("flagged")]
    flagged = data.get("flagged") or {}
    by_provider = {str(p): ", ".join(str(f) for f in (v if isinstance(v, list | tuple) else [v]))
                   for p, v in (flagged.items() if isinstance(flagged, dict) else [])}
    return {"area": data.get("area", ""), "as_of": data.get("as_of", ""), "window": data.get("window") or {},
            "providers": data.get("providers") or [], "assessors": data.get("assessors") or [],
            "indicators": len(rows), "flagged_rows": len(flagged_rows), "flagged": by_provider}
