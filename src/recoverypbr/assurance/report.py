"""The monitoring outputs: a Rich summary, an HTML report with funnel plots and trends, JSON and CSV of every row.

`write_monitoring(result, folder)` writes into `folder`:
- `monitor.json`: the run (area, contract version, as-of date, window, baseline, providers, assessors) and every
  indicator row (`IndicatorRow.as_json`: `provider_id`, `family`, `indicator`, `period`, `value`, `expected`,
  `limits`, `flagged`, ...), for other tools;
- `monitor.csv`: the same rows, one per line, limits as four columns;
- `flag-rows.csv`: every row behind every flag (provider, family, indicator, period, the case's table:id);
- `monitor-report.html` (with its JSON and a CSV per table): the flags, a funnel plot per indicator over the
  window, the quarterly trend of each flagged indicator, and the service users' views per provider and quarter.
The same result gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from recoverypbr._console import console, print_table
from recoverypbr.assurance import stats
from recoverypbr.assurance.frame import FAMILIES, Indicator, IndicatorRow
from recoverypbr.assurance.monitor import MonitorResult, flags_by_family
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.reports.cells import safe_row

FAMILY_TITLES = {
    "assessment": "Assessment (inflating complexity)",
    "creaming_parking": "Creaming and parking",
    "timing": "Timing around payment points",
    "misrepresentation": "Misrepresenting success",
    "feedback": "Service users' views",
}
CSV_COLUMNS = ("provider_id", "family", "indicator", "title", "period", "period_kind", "period_start", "period_end",
               "value", "expected", "baseline", "n", "peers_n", "lower_95", "upper_95", "lower_99_8", "upper_99_8",
               "z", "p_value", "cusum", "level", "flagged", "direction", "unusual", "meaning", "next_step",
               "rows_total")


def result_json(result: MonitorResult) -> dict[str, Any]:
    """The whole run as plain JSON values."""
    return {
        "area": result.area,
        "contract_version": result.contract_version.isoformat(),
        "as_of": result.as_of.isoformat(),
        "window": {"start": result.window.start.isoformat(), "end": result.window.end.isoformat()},
        "baseline": {"start": result.baseline.start.isoformat(), "end": result.baseline.end.isoformat()},
        "providers": list(result.providers),
        "assessors": list(result.assessors),
        "flagged": {p: sorted(f) for p, f in sorted(result.flagged_families().items())},
        "rows": [r.as_json() for r in result.rows],
    }


def json_text(result: MonitorResult) -> str:
    return json.dumps(result_json(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _csv_row(row: IndicatorRow) -> dict[str, Any]:
    data = row.as_json()
    limits = data.pop("limits")
    out = {k: data.get(k) for k in CSV_COLUMNS if k in data}
    out["lower_95"], out["upper_95"] = (limits.get("95") or [None, None])[:2]
    out["lower_99_8"], out["upper_99_8"] = (limits.get("99.8") or [None, None])[:2]
    out["flagged"] = "yes" if row.flagged else "no"
    return out


def _csv_bytes(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(r) for r in rows)
    return buffer.getvalue().encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def write_monitoring(result: MonitorResult, folder: Path) -> dict[str, Path]:
    """Write every output into `folder`; the paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "monitor.json", "csv": folder / "monitor.csv", "rows": folder / "flag-rows.csv"}
    _write_atomic(paths["json"], json_text(result).encode("utf-8"))
    _write_atomic(paths["csv"], _csv_bytes(CSV_COLUMNS, [_csv_row(r) for r in result.rows]))
    behind = [{"provider_id": r.provider_id, "family": r.family, "indicator": r.indicator, "period": r.period,
               "case": case} for r in result.flags() for case in r.rows]
    _write_atomic(paths["rows"], _csv_bytes(("provider_id", "family", "indicator", "period", "case"), behind))
    paths["html"] = write_report(monitoring_report(result), folder, "monitor-report")
    return paths


# --- The Rich summary ----------------------------------------------------------------------------------------------

def _number(value: float | None, rate: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if rate else f"{value:,.2f}"


def print_summary(result: MonitorResult) -> None:
    """Providers by family (flagged or not), then each flag with what it means and what to look at next."""
    by_family = flags_by_family(result, [*result.providers, *result.assessors])
    table = Table(title=f"{result.area}: gaming indicators as of {result.as_of} (window {result.window.label}, "
                        f"against peers)")
    table.add_column("provider")
    for family in FAMILIES:
        table.add_column(FAMILY_TITLES[family].split(" (")[0], justify="center")
    shown = sorted({r.provider_id for r in result.rows})
    for provider in shown:
        flags = by_family.get(provider, {})
        role = " (assessor)" if provider in result.assessors and provider not in result.providers else ""
        table.add_row(provider + role, *("FLAGGED" if flags.get(f) else "-" for f in FAMILIES))
    flagged = result.flags()
    notes = [f"{len(flagged)} flag(s) over the window; '-' is within the 99.8% limits and no drift."
             if flagged else "Nothing flagged over the window: every indicator is within its 99.8% limits."]
    print_table(table, notes)
    rates = {i.id: i.kind == "rate" for i in result.indicators}
    for r in flagged:
        rate = rates.get(r.indicator.split(".")[0], False)
        console.print(
            f"[bold]{r.provider_id}[/] {r.family}: {r.title} is "
            f"{_number(r.value, rate)} against {_number(r.expected, rate)} expected ({r.unusual}). "
            f"{r.meaning} Next: {r.next_step} Cases behind it: {r.rows_total:,}.", highlight=False)


# --- The HTML report --------------------------------------------------------------------------------------------

def monitoring_report(result: MonitorResult) -> Report:
    """Flags first, then each family's funnel plots and the trends of what is flagged, then service users' views."""
    from recoverypbr.assurance import charts

    indicators = {i.id: i for i in result.indicators}
    intro = [
        f"{result.area}, contract version {result.contract_version}, as of {result.as_of}. Monitoring window "
        f"{result.window.label} (by quarter and over the whole window); baseline {result.baseline.label} (the year "
        f"before go-live). Providers: {', '.join(result.providers)}; assessors: "
        f"{', '.join(result.assessors) or 'none'}.",
        "Each provider is compared with its peers (every other provider pooled) in the same period. An indicator "
        "is flagged when it lies beyond its 99.8% control limit in the direction gaming would push it (about 1 in "
        "1,000 by chance), or when its quarterly CUSUM shows sustained drift; beyond 95% is a warning. A flag is a "
        "reason to look, not a finding: the cases behind each flag are listed in flag-rows.csv.",
    ]
    sections = [_flags_section(result)]
    for family in FAMILIES:
        sections.extend(_family_sections(result, family, indicators, charts))
    sections.append(_views_section(result))
    return Report(title=f"Assurance monitoring: {result.area}, as of {result.as_of}", intro=intro,
                  sections=tuple(s for s in sections if s is not None))


def _flags_section(result: MonitorResult) -> Section:
    flagged = result.flags()
    rows = [{"provider": r.provider_id, "family": FAMILY_TITLES[r.family], "indicator": r.title,
             "value": _fmt(r.value), "expected": _fmt(r.expected),
             "how unusual": r.unusual, "what it means": r.meaning, "look next at": r.next_step,
             "cases behind it": r.rows_total} for r in flagged]
    text = (f"{len(flagged)} flag(s) over the window." if flagged else
            "Nothing is flagged over the window: every indicator is within its 99.8% limits and shows no drift.")
    return Section("Flags over the window", [text], table=FigureTable(
        ("provider", "family", "indicator", "value", "expected", "how unusual", "what it means", "look next at",
         "cases behind it"), rows, "Every flag over the monitoring window"))


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _family_sections(result: MonitorResult, family: str, indicators: dict[str, Indicator], charts: Any
                     ) -> list[Section]:
    rows = [r for r in result.window_rows() if r.family == family]
    if not rows:
        return []
    sections = []
    names = list(dict.fromkeys(r.indicator for r in rows))
    for name in names:
        base = indicators.get(name.split(".")[0])
        mine = [r for r in rows if r.indicator == name]
        group = name.split(".", 1)[1] if "." in name else "all"
        judged = base is not None and (base.judged_groups is None or group in base.judged_groups)
        rate = base is not None and base.kind == "rate"
        points = [{"provider": r.provider_id, "n": r.n, "value": r.value, "flagged": r.flagged,
                   "sd": _sd_of(r)} for r in mine if r.value is not None]
        # A funnel plot for what is judged; what is shown for context has its table only.
        chart = charts.funnel_plot(points, title=mine[0].title,
                                   y_title=mine[0].title, rate=rate) if points and judged else None
        table = FigureTable(("provider", "cases", "value", "expected (peers)", "baseline", "99.8% limits", "level",
                             "flagged"),
                            [{"provider": r.provider_id, "cases": r.n, "value": _fmt(r.value),
                              "expected (peers)": _fmt(r.expected), "baseline": _fmt(r.baseline),
                              "99.8% limits": " to ".join(_fmt(v) for v in r.limits.get("99.8", [])),
                              "level": r.level, "flagged": "yes" if r.flagged else "no"} for r in mine],
                            f"{mine[0].title} over the window, by provider")
        text = [base.formula] if base is not None and base.formula else []
        if not judged:
            text.append("Shown for context: this indicator is not flagged.")
        sections.append(Section(f"{FAMILY_TITLES[family]}: {mine[0].title}", text, chart,
                                table))
        for r in mine:
            if r.flagged:
                sections.append(_trend_section(result, r, charts))
    return sections


def _sd_of(row: IndicatorRow) -> float | None:
    """A mean indicator's per-case standard deviation, recovered from its 95% limits and case counts."""
    limits = row.limits.get("95")
    if not limits or row.n <= 0 or row.peers_n <= 0:
        return None
    half = (limits[1] - limits[0]) / 2
    return half / stats.Z95 / ((1 / row.n + 1 / row.peers_n) ** 0.5)


def _trend_section(result: MonitorResult, flagged: IndicatorRow, charts: Any) -> Section:
    quarters = [r for r in result.rows if r.provider_id == flagged.provider_id and r.indicator == flagged.indicator
                and r.period_kind == "quarter"]
    points = [{"period": r.period, "value": r.value, "expected": r.expected,
               "low": (r.limits.get("99.8") or [None, None])[0], "high": (r.limits.get("99.8") or [None, None])[1]}
              for r in quarters]
    chart = charts.trend_chart(points, title=f"{flagged.provider_id}: {flagged.title}"
                               " by quarter", y_title=flagged.title) if points else None
    table = FigureTable(("period", "value", "expected", "low", "high"),
                        [{k: (_fmt(v) if isinstance(v, float) else v) for k, v in p.items()} for p in points],
                        "By quarter: the provider, its peers and the 99.8% limits")
    return Section(f"Trend: {flagged.provider_id}, {flagged.title}",
                   [f"{flagged.meaning} {flagged.unusual}. Look next at: {flagged.next_step}"], chart, table)


def _views_section(result: MonitorResult) -> Section | None:
    from recoverypbr.assurance.feedback import TRIANGULATION

    rows = [r for r in result.rows if r.family == "feedback" and r.period_kind == "quarter"
            and r.indicator == "feedback_score"]
    if not rows:
        return None
    tri = {r.provider_id: r for r in result.window_rows() if r.indicator == TRIANGULATION}
    table = FigureTable(("provider", "quarter", "responses", "mean score", "peers' mean"),
                        [{"provider": r.provider_id, "quarter": r.period, "responses": r.n,
                          "mean score": _fmt(r.value), "peers' mean": _fmt(r.expected)} for r in rows],
                        "Service users' feedback by provider and quarter")
    words = [f"{p}: {r.unusual}" for p, r in sorted(tri.items())]
    return Section("Service users' views beside the outcomes", [
        "The mean feedback score (1 to 5) of each provider's service users by quarter, beside its peers'. A provider "
        "whose recorded outcomes rose more than its peers' since the baseline while its service users' views are "
        "below its peers' (or falling) is flagged under 'Service users' views'.", *words], table=table)
