"""The monitoring report's charts, in the modelling reports' house style (Altair, rendered offline to SVG).

- `funnel_plot`: one indicator over the monitoring window, each provider a point at (cases, value), with the
  area's value as the target and the 95% and 99.8% control limits as curves narrowing with the cases
  (Spiegelhalter's funnel plot).
- `trend_chart`: one provider's indicator by quarter against its peers' value, with its 99.8% limits as a band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from recoverypbr.assurance import stats
from recoverypbr.modelling.charts import BLUE, GREY, HEIGHT, ORANGE, VERMILLION, WIDTH, _config, _data, _number

#: Points on each limit curve.
CURVE_POINTS = 60


def funnel_curves(target: float, sd: float, smallest: int, largest: int, *, rate: bool) -> list[dict[str, Any]]:
    """The 95% and 99.8% limits around `target` for 1 to `largest` cases (log-spaced), clipped to 0-1 for a
    rate; `sd` is the standard deviation of one case (sqrt(p (1 - p)) for a rate)."""
    low = max(1, smallest // 2)
    high = max(largest * 1.1, low + 1)
    step = (math.log(high) - math.log(low)) / (CURVE_POINTS - 1)
    rows = []
    for i in range(CURVE_POINTS):
        n = math.exp(math.log(low) + i * step)
        for label, z in (("95%", stats.Z95), ("99.8%", stats.Z998)):
            half = z * sd / math.sqrt(n)
            lo, hi = target - half, target + half
            if rate:
                lo, hi = max(0.0, lo), min(1.0, hi)
            rows += [{"n": n, "limit": f"{label} lower", "band": label, "value": lo},
                     {"n": n, "limit": f"{label} upper", "band": label, "value": hi}]
    return rows


def funnel_plot(points: Sequence[Mapping[str, Any]], *, title: str, y_title: str, rate: bool) -> Any:
    """A funnel plot: `points` has `provider`, `n`, `value` and `flagged` per provider (one indicator, one
    period). The target is the case-weighted mean of all providers."""
    import altair as alt  # imported when a chart is made: it is slow to import

    usable = [p for p in points if p.get("value") is not None and p.get("n")]
    total = sum(int(p["n"]) for p in usable)
    target = sum(float(p["value"]) * int(p["n"]) for p in usable) / total if total else 0.0
    if rate:
        sd = math.sqrt(max(target * (1 - target), 0.0))
    else:
        spread = [float(p["sd"]) for p in usable if p.get("sd") is not None]
        sd = max(spread) if spread else 0.0
    ns = [int(p["n"]) for p in usable] or [1]
    curves = funnel_curves(target, sd, min(ns), max(ns), rate=rate)
    dots = [{"provider": str(p["provider"]), "n": int(p["n"]), "value": _number(p["value"]),
             "status": "flagged" if p.get("flagged") else "not flagged"} for p in usable]
    x = alt.X("n:Q", title="Cases in the period", scale=alt.Scale(type="log"))
    lines = alt.Chart(_data(curves)).mark_line(strokeWidth=1.5).encode(
        x=x, y=alt.Y("value:Q", title=y_title),
        detail="limit:N",
        color=alt.Color("band:N", title="Control limits", scale=alt.Scale(domain=["95%", "99.8%"],
                                                                          range=[ORANGE, VERMILLION])),
        strokeDash=alt.StrokeDash("band:N", title="Control limits",
                                  scale=alt.Scale(domain=["95%", "99.8%"], range=[[6, 4], [1, 0]])))
    rule = alt.Chart(_data([{"target": target}])).mark_rule(color=GREY, strokeDash=[2, 2]).encode(y="target:Q")
    marks = alt.Chart(_data(dots)).mark_point(size=90, filled=True).encode(
        x=x, y="value:Q",
        shape=alt.Shape("status:N", title=None, scale=alt.Scale(domain=["not flagged", "flagged"],
                                                                  range=["circle", "triangle-up"])),
        fill=alt.Fill("status:N", title=None, scale=alt.Scale(domain=["not flagged", "flagged"],
                                                                range=[BLUE, VERMILLION])),
        color=alt.value("#000000"), tooltip=["provider:N", "n:Q", "value:Q", "status:N"])
    labels = marks.mark_text(align="left", dx=8, dy=-8, fontSize=12).encode(text="provider:N")
    chart = alt.layer(lines, rule, marks, labels).properties(
        title=alt.Title(title, subtitle=f"Target (dotted): the area's value, {target:.3g}"),
        width=WIDTH, height=HEIGHT, description=title)
    return _config(chart)


def trend_chart(rows: Sequence[Mapping[str, Any]], *, title: str, y_title: str) -> Any:
    """Quarterly values: `period`, `value` (the provider), `expected` (its peers), `low` and `high` (99.8%)."""
    import altair as alt  # imported when a chart is made: it is slow to import

    order = list(dict.fromkeys(str(r["period"]) for r in rows))
    x = alt.X("period:O", sort=order, title="Quarter", axis=alt.Axis(labelAngle=-45))
    band = [{"period": str(r["period"]), "low": _number(r["low"]), "high": _number(r["high"])}
            for r in rows if r.get("low") is not None and r.get("high") is not None]
    series = [{"period": str(r["period"]), "series": name, "value": _number(r[key])}
              for r in rows for key, name in (("value", "This provider"), ("expected", "Its peers"))
              if r.get(key) is not None]
    area = alt.Chart(_data(band)).mark_area(color=ORANGE, opacity=0.2).encode(
        x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q")
    line = alt.Chart(_data(series)).mark_line(point=True, strokeWidth=2.5).encode(
        x=x, y="value:Q",
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["This provider", "Its peers"],
                                                                range=[BLUE, GREY])),
        strokeDash=alt.StrokeDash("series:N", title=None, scale=alt.Scale(domain=["This provider", "Its peers"],
                                                                          range=[[1, 0], [6, 4]])),
        tooltip=["period:N", "series:N", "value:Q"])
    chart = alt.layer(area, line).properties(
        title=alt.Title(title, subtitle="Shaded: the 99.8% control limits around the peers' value"),
        width=WIDTH, height=HEIGHT, description=title)
    return _config(chart)
