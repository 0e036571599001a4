"""The modelling reports' charts: Altair (Vega-Lite) charts built from plain rows (lists of dicts).

One function per kind of chart, each taking the rows a model already has and returning an Altair chart that
`report.write_report` renders to inline SVG offline. Every chart is made to be read by everyone: a title, axis
titles, text no smaller than 12 px, and the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies); where colour carries meaning a second cue (shape, dash, outline) carries it too, and the report
follows every chart with its table of figures.

Amounts are plotted in pounds: rows may give them as `Decimal`, `int` or `float` (a chart is a picture; the money
itself stays in pence or `Decimal` in the tables and files), and rates as fractions (0.42 for 42%).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

Rows = Sequence[Mapping[str, Any]]

#: Okabe & Ito's colour-blind-safe palette (black first dropped: it is kept for text and rules).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION = PALETTE[:6]
GREY = "#767676"
#: Font stack named in the SVG: the reader's system font; vl-convert measures text with its bundled fallback.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
WIDTH = 560
HEIGHT = 280


def _config(chart: Any) -> Any:
    """The house style: fonts, text sizes, palette, no chart border."""
    return (
        chart.configure(font=FONT, background="white")
        .configure_title(fontSize=16, subtitleFontSize=13, anchor="start", offset=12)
        .configure_axis(labelFontSize=12, titleFontSize=13, labelLimit=240, titlePadding=8)
        .configure_legend(labelFontSize=12, titleFontSize=13, orient="bottom", direction="horizontal",
                          labelLimit=300)
        .configure_header(labelFontSize=13, titleFontSize=13)
        .configure_range(category=list(PALETTE))
        .configure_view(stroke=None)
    )


def _number(value: Any) -> float | None:
    """A figure as a plain number for the chart (Decimal and NumPy numbers too); None, NaN or infinity is a gap."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise TypeError(f"a chart figure must be a number or None, not {value!r}")
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(rows: Rows, categories: Sequence[str], measure: str) -> list[dict[str, Any]]:
    """Rows with only the chart's fields: categories as text, the measure as a number."""
    return [{**{key: str(row[key]) for key in categories}, measure: _number(row[measure])} for row in rows]


def _order(rows: Rows, key: str) -> list[str]:
    """The distinct values of `key` in the order the rows give them (periods are labels, not dates)."""
    return list(dict.fromkeys(str(row[key]) for row in rows))


def _data(rows: list[dict[str, Any]]) -> Any:
    import altair as alt  # imported when a chart is made: it is slow to import
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def fan_chart(
    rows: Rows,
    budget_rows: Rows,
    *,
    title: str = "Spend against the results money",
    x_title: str = "Period",
    y_title: str = "Spend (£)",
    budget_label: str = "Results money",
) -> Any:
    """A fan of simulated spend by period: 5-95 and 25-75 percentile bands, the median line, and the results money.

    `rows`: one per period, in order: `period` (label), `p5`, `p25`, `p50`, `p75`, `p95` (pounds).
    `budget_rows`: `period` and `results_money` (pounds), drawn as a dashed line.
    """
    import altair as alt  # imported when a chart is made: it is slow to import
    order = _order([*rows, *budget_rows], "period")
    fan = [{"period": str(row["period"]), **{p: _number(row[p]) for p in ("p5", "p25", "p50", "p75", "p95")}}
           for row in rows]
    budget = [{"period": str(row["period"]), "results_money": _number(row["results_money"]),
               "series": budget_label} for row in budget_rows]
    x = alt.X("period:O", sort=order, title=x_title, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(_data(fan))
    outer = base.mark_area(color=BLUE, opacity=0.2).encode(
        x=x, y=alt.Y("p5:Q", title=y_title, axis=alt.Axis(format=",.0f")), y2="p95:Q")
    inner = base.mark_area(color=BLUE, opacity=0.35).encode(x=x, y="p25:Q", y2="p75:Q")
    median = base.mark_line(color=BLUE, strokeWidth=2.5, point=alt.OverlayMarkDef(color=BLUE)).encode(
        x=x, y="p50:Q",
        tooltip=[alt.Tooltip(f"{p}:Q", format=",.0f") for p in ("p5", "p25", "p50", "p75", "p95")])
    line = alt.Chart(_data(budget)).mark_line(strokeDash=[6, 4], strokeWidth=2.5).encode(
        x=x, y="results_money:Q",
        color=alt.Color("series:N", title=None, scale=alt.Scale(range=[VERMILLION])))
    chart = alt.layer(outer, inner, median, line).properties(
        title=alt.Title(title, subtitle="Median line; bands hold the middle 50% and 90% of runs"),
        width=WIDTH, height=HEIGHT, description=title)
    return _config(chart)


def rates_chart(
    rows: Rows,
    *,
    title: str = "Outcome rates by complexity group",
    x_title: str = "Rate (95% interval)",
    group_title: str = "Complexity group",
    small_label: str = "Small cell: read with care",
) -> Any:
    """Each outcome's rate by complexity group: a point with its interval as an error bar, one panel per outcome.

    `rows`: `outcome`, `group`, `rate`, `low`, `high` (fractions) and `small` (True for a cell too small to trust),
    drawn as an open diamond instead of a filled circle.
    """
    import altair as alt  # imported when a chart is made: it is slow to import
    data = [{"outcome": str(row["outcome"]), "group": str(row["group"]), "rate": _number(row["rate"]),
             "low": _number(row["low"]), "high": _number(row["high"]),
             "cell": small_label if row.get("small") else "Enough clients"} for row in rows]
    y = alt.Y("group:N", sort=_order(data, "group"), title=group_title)
    x_scale = alt.Scale(domain=[0, 1])
    base = alt.Chart()
    bars = base.mark_rule(strokeWidth=2, color=GREY).encode(
        x=alt.X("low:Q", scale=x_scale, title=x_title, axis=alt.Axis(format="%")), x2="high:Q", y=y)
    points = base.mark_point(size=90, filled=False, opacity=1, strokeWidth=2).encode(
        x=alt.X("rate:Q", scale=x_scale),
        y=y,
        shape=alt.Shape("cell:N", title=None, scale=alt.Scale(domain=["Enough clients", small_label],
                                                                range=["circle", "diamond"])),
        fill=alt.Fill("cell:N", title=None, scale=alt.Scale(domain=["Enough clients", small_label],
                                                              range=[BLUE, "white"])),
        color=alt.value(BLUE),
        tooltip=["outcome:N", "group:N", alt.Tooltip("rate:Q", format=".1%"),
                 alt.Tooltip("low:Q", format=".1%"), alt.Tooltip("high:Q", format=".1%")])
    layered = alt.layer(bars, points, data=_data(data)).properties(width=WIDTH - 160, height=alt.Step(22))
    chart = layered.facet(
        row=alt.Row("outcome:N", sort=_order(data, "outcome"), title=None,
                    header=alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top",
                                      labelFontWeight="bold")),
    ).properties(title=title, description=title)
    return _config(chart)


def cash_flow_chart(
    rows: Rows,
    *,
    title: str = "Providers' results income by quarter",
    x_title: str = "Quarter",
    y_title: str = "Income (£)",
) -> Any:
    """Each provider's income by quarter: the median as a bar, the 5th to 95th percentile as a whisker.

    `rows`: `provider`, `quarter` (label, in order), `p5`, `p50`, `p95` (pounds).
    """
    import altair as alt  # imported when a chart is made: it is slow to import
    data = [{"provider": str(row["provider"]), "quarter": str(row["quarter"]),
             **{p: _number(row[p]) for p in ("p5", "p50", "p95")}} for row in rows]
    providers = _order(data, "provider")
    x = alt.X("quarter:N", sort=_order(data, "quarter"), title=x_title, axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("provider:N", sort=providers)
    base = alt.Chart()
    bars = base.mark_bar().encode(
        x=x, xOffset=offset, y=alt.Y("p50:Q", title=y_title, axis=alt.Axis(format=",.0f")),
        color=alt.Color("provider:N", sort=providers, title="Provider"),
        tooltip=["provider:N", "quarter:N", alt.Tooltip("p5:Q", format=",.0f"),
                 alt.Tooltip("p50:Q", format=",.0f"), alt.Tooltip("p95:Q", format=",.0f")])
    whiskers = base.mark_rule(color="black", strokeWidth=1.5).encode(x=x, xOffset=offset, y="p5:Q", y2="p95:Q")
    chart = alt.layer(bars, whiskers, data=_data(data)).properties(
        title=alt.Title(title, subtitle="Bars: median of runs; whiskers: 5th to 95th percentile"),
        width=WIDTH, height=HEIGHT, description=title)
    return _config(chart)


def funnel_chart(
    rows: Rows,
    *,
    title: str = "Payment points: predicted against actual",
    x_title: str = "Month",
    y_title: str = "Payment points",
) -> Any:
    """A payment point's count by month: the prediction (dashed), what happened (solid), and the forecast for the
    months to come (dotted) inside its interval band.

    `rows`: one per month, in order: `month` (label), `predicted`, `actual` (None for months to come),
    `forecast`, `low`, `high` (None for months already past).
    """
    import altair as alt  # imported when a chart is made: it is slow to import
    series = (("predicted", "Predicted", [6, 4]), ("actual", "Actual", [1, 0]), ("forecast", "Forecast", [2, 3]))
    lines = [{"month": str(row["month"]), "series": label, "value": _number(row[key])}
             for key, label, _ in series for row in rows if row.get(key) is not None]
    band = [{"month": str(row["month"]), "low": _number(row["low"]), "high": _number(row["high"])}
            for row in rows if row.get("low") is not None and row.get("high") is not None]
    x = alt.X("month:O", sort=_order(rows, "month"), title=x_title, axis=alt.Axis(labelAngle=-45))
    labels = [label for _, label, _ in series]
    area = alt.Chart(_data(band)).mark_area(color=ORANGE, opacity=0.25).encode(
        x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q")
    line = alt.Chart(_data(lines)).mark_line(strokeWidth=2.5, point=True).encode(
        x=x, y="value:Q",
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=labels, range=[GREY, BLUE, ORANGE])),
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  scale=alt.Scale(domain=labels, range=[dash for *_, dash in series])),
        tooltip=["month:N", "series:N", "value:Q"])
    chart = alt.layer(area, line).properties(
        title=alt.Title(title, subtitle="Shaded: the forecast's interval"),
        width=WIDTH, height=HEIGHT, description=title)
    return _config(chart)


def gains_chart(
    rows: Rows,
    *,
    title: str = "What each gaming strategy would earn",
    x_title: str = "Gain to the provider (£)",
    y_title: str = "Strategy",
    flagged_label: str = "Flagged",
    unflagged_label: str = "Not flagged",
) -> Any:
    """Gaming gains as horizontal bars, largest first; flagged strategies are highlighted (colour and a dark outline).

    `rows`: `strategy`, `gain` (pounds, may be negative) and `flagged` (True for a strategy the caller flags, such as
    one that pays and no gaming indicator catches; `flagged_label` says what the flag means).
    """
    import altair as alt  # imported when a chart is made: it is slow to import
    data = [{"strategy": str(row["strategy"]), "gain": _number(row["gain"]),
             "status": flagged_label if row.get("flagged") else unflagged_label} for row in rows]
    domain = [flagged_label, unflagged_label]
    chart = alt.Chart(_data(data)).mark_bar(height=alt.RelativeBandSize(0.7)).encode(
        y=alt.Y("strategy:N", sort="-x", title=y_title),
        x=alt.X("gain:Q", title=x_title, axis=alt.Axis(format=",.0f")),
        color=alt.Color("status:N", title=None, scale=alt.Scale(domain=domain, range=[VERMILLION, SKY])),
        stroke=alt.condition(alt.FieldEqualPredicate(field="status", equal=flagged_label),
                             alt.value("black"), alt.value(SKY)),
        strokeWidth=alt.value(1.5),
        tooltip=["strategy:N", alt.Tooltip("gain:Q", format=",.0f"), "status:N"],
    ).properties(title=title, width=WIDTH - 120, height=alt.Step(26), description=title)
    return _config(chart)


def bars_chart(
    rows: Rows,
    x: str,
    y: str,
    color: str | None = None,
    *,
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
) -> Any:
    """Plain bars: `x` a category (in the rows' order), `y` a number; with `color`, bars side by side per value."""
    import altair as alt  # imported when a chart is made: it is slow to import
    data = _plain(rows, [x, color] if color else [x], y)
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:N", sort=_order(data, x), title=x_title or x, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(f"{y}:Q", title=y_title or y),
        "tooltip": [f"{x}:N", f"{y}:Q"],
    }
    if color:
        encoding["color"] = alt.Color(f"{color}:N", sort=_order(data, color), title=color)
        encoding["xOffset"] = alt.XOffset(f"{color}:N", sort=_order(data, color))
    chart = alt.Chart(_data(data)).mark_bar().encode(**encoding).properties(
        title=title or f"{y} by {x}", width=WIDTH, height=HEIGHT, description=title or f"{y} by {x}")
    return _config(chart)
