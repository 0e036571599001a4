"""The modelling reports: every chart kind renders offline to inline SVG with marks, the HTML refers to nothing
outside itself, and the CSV/JSON files hold the figures, spreadsheet-safe and byte-for-byte reproducible."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from recoverypbr.modelling import charts
from recoverypbr.modelling.report import (
    FigureTable,
    Report,
    ReportError,
    Section,
    external_urls,
    write_report,
)

PERIODS = ("2012-13", "2013-14", "2014-15")
FAN = [{"period": p, "p5": Decimal(100_000 + 5_000 * i), "p25": 120_000 + 5_000 * i, "p50": 130_000 + 5_000 * i,
        "p75": 140_000 + 5_000 * i, "p95": 160_000 + 5_000 * i} for i, p in enumerate(PERIODS)]
BUDGET = [{"period": p, "results_money": Decimal("150000.00")} for p in PERIODS]
RATES = [{"outcome": o, "group": g, "rate": r, "low": r - 0.08, "high": r + 0.1, "small": g == "high"}
         for o in ("abstinence", "completion") for g, r in (("low", 0.6), ("medium", 0.45), ("high", 0.3))]
CASH = [{"provider": p, "quarter": q, "p5": 1_000 * k, "p50": 2_000 * k, "p95": 2_600 * k}
        for p, k in (("Prime", 3), ("Sub <b>&", 1)) for q in ("Q1", "Q2", "Q3", "Q4")]
FUNNEL = [{"month": f"2013-{m:02d}", "predicted": 20 + m, "actual": 18 + m if m <= 6 else None,
           "forecast": None if m <= 6 else 19 + m, "low": None if m <= 6 else 14 + m,
           "high": None if m <= 6 else 25 + m} for m in range(1, 13)]
GAINS = [{"strategy": s, "gain": g, "flagged": f} for s, g, f in (
    ("inflate complexity", 42_000, True), ("cream", 15_000, False), ("time discharges", -2_000, False),
    ("<script>alert(1)</script>", 8_000, True))]
BARS = [{"quarter": q, "clients": n, "kind": k} for q, n, k in (("Q1", 1, "new"), ("Q1", 2, "stock"), ("Q2", 3, "new"))]


def _table(rows: list[dict[str, object]], *columns: str) -> FigureTable:
    return FigureTable(columns, rows)


def _report() -> Report:
    fan_table = FigureTable(("period", "median", "results money"),
                            [{"period": r["period"], "median": f"£{r['p50']:,}.00", "results money": "£150,000.00"}
                             for r in FAN], caption="Spend percentiles by year")
    return Report(
        title="Marlshire design <draft> & checks",
        intro=["What the design would pay on the area's history.", "Figures are pounds unless said."],
        sections=[
            Section("Spend risk", ["The fan shows spend."], charts.fan_chart(FAN, BUDGET), fan_table,
                    notes=["5,000 runs."]),
            Section("Baseline rates", "One paragraph as a string.", charts.rates_chart(RATES),
                    _table(RATES, "outcome", "group", "rate", "low", "high", "small")),
            Section("Cash flow", [], charts.cash_flow_chart(CASH), _table(CASH, "provider", "quarter", "p5", "p50")),
            Section("Funnel", [], charts.funnel_chart(FUNNEL), _table(FUNNEL, "month", "predicted", "actual")),
            Section("Gaming", [], charts.gains_chart(GAINS), _table(GAINS, "strategy", "gain", "flagged")),
            Section("Flow and stock", [], charts.bars_chart(BARS, "quarter", "clients", "kind"),
                    _table(BARS, "quarter", "kind", "clients")),
            Section("Formulas", ["A table only."], None,
                    FigureTable(("client", "=SUM(A1)"), [{"client": "=HYPERLINK(\"x\")", "=SUM(A1)": "-12.50"}])),
        ],
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(_report(), tmp_path_factory.mktemp("report"), "design")


def test_the_html_refers_to_nothing_outside_itself(written: Path) -> None:
    page = written.read_text()
    assert external_urls(page) == []
    assert "://" not in page  # not even an SVG namespace: HTML needs none
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page  # and the browser is told to fetch nothing


@pytest.mark.parametrize("page, found", [
    ('<img src="https://cdn.example/x.png">', ["https://cdn.example/x.png"]),
    ('<script src="//cdn.example/vega.js"></script>', ["//cdn.example/vega.js"]),
    ('<link rel="stylesheet" href="http://x.example/a.css">', ["http://x.example/a.css"]),
    ('<style>@import "https://f.example/font.css"; b { background: url( \'//i.example/b.png\' ) }</style>',
     ["https://f.example/font.css", "//i.example/b.png"]),
    ('<div style="background:url(http://i.example/c.png)"></div>', ["http://i.example/c.png"]),
    ('<svg><image xlink:href="https://i.example/d.svg"/></svg>', ["https://i.example/d.svg"]),
    ('<img srcset="a.png 1x, https://i.example/e.png 2x">', ["https://i.example/e.png"]),
    ('<meta http-equiv="refresh" content="0; url=https://away.example/">', ["https://away.example/"]),
    ('<a href="#section-1">in</a><img src="data:image/png;base64,AAAA"><a href="design.csv">csv</a>', []),
])
def test_external_urls_finds_every_reference_that_leaves_the_file(page: str, found: list[str]) -> None:
    assert external_urls(page) == found


def test_every_chart_is_inline_svg_with_marks_and_followed_by_its_table(written: Path) -> None:
    page = written.read_text()
    figures = re.findall(r"<figure>(.*?)</figure>", page, re.DOTALL)
    assert len(figures) == 6
    for figure in figures:
        assert figure.startswith("<svg")
        assert re.search(r"<path|<rect|<line", figure)
        assert figure.startswith('<svg role="img" aria-label="Chart: ')  # one labelled image; its table follows
    assert "Figure 6: Flow and stock. The figures are in the table below.</figcaption>" in page
    assert page.count("<caption>") == 7
    assert page.index("Spend percentiles by year") > page.index("<figure>")
    assert "<th scope=\"col\">period</th>" in page


def test_text_is_escaped_in_the_page_and_in_the_charts(written: Path) -> None:
    page = written.read_text()
    assert "<draft>" not in page and "&lt;draft&gt; &amp; checks" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sub <b>" not in page


def test_the_json_holds_every_figure(written: Path) -> None:
    figures = json.loads(written.with_suffix(".json").read_text())
    assert figures["title"] == "Marlshire design <draft> & checks"
    spend, rates, *_, formulas = figures["sections"]
    assert spend["table"]["rows"][0] == {"period": "2012-13", "median": "£130,000.00", "results money": "£150,000.00"}
    assert spend["table"]["csv"] == "design_01_spend-risk.csv"
    fan, budget = spend["chart_data"]
    assert fan[0]["p5"] == 100_000 and budget[0]["results_money"] == 150_000
    assert rates["text"] == ["One paragraph as a string."]
    assert rates["table"]["rows"][2]["small"] is True
    assert "chart_data" not in formulas


def test_the_csv_files_hold_the_figures_and_no_formula(written: Path) -> None:
    folder = written.parent
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        "design_01_spend-risk.csv", "design_02_baseline-rates.csv", "design_03_cash-flow.csv", "design_04_funnel.csv",
        "design_05_gaming.csv", "design_06_flow-and-stock.csv", "design_07_formulas.csv"]
    spend = list(csv.reader(io.StringIO((folder / "design_01_spend-risk.csv").read_text())))
    assert spend[0] == ["period", "median", "results money"]
    assert spend[1] == ["2012-13", "£130,000.00", "£150,000.00"]
    funnel = list(csv.reader(io.StringIO((folder / "design_04_funnel.csv").read_text())))
    assert funnel[7] == ["2013-07", "27", ""]
    formulas = list(csv.reader(io.StringIO((folder / "design_07_formulas.csv").read_text())))
    assert formulas == [["client", "'=SUM(A1)"], ["'=HYPERLINK(\"x\")", "-12.50"]]


def test_the_same_report_gives_the_same_bytes(written: Path, tmp_path: Path) -> None:
    again = write_report(_report(), tmp_path, "design")
    for first in sorted(written.parent.iterdir()):
        assert (tmp_path / first.name).read_bytes() == first.read_bytes(), first.name
    assert again.name == "design.html"


def test_a_folder_that_cannot_be_written_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ReportError) as caught:
        write_report(Report("t", sections=[Section("s", table=FigureTable(("a",), [{"a": 1}]))]), blocker, "x")
    assert caught.value.hint


def _chromium_ready() -> str:
    if not Path("/usr/bin/chromium").exists():
        return "Debian's chromium is not installed (/usr/bin/chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not importable"
    return ""


def test_headless_chromium_opens_the_report_without_a_request(written: Path) -> None:
    missing = _chromium_ready()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI opens every report in a real browser; .ci/run installs chromium")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(written.as_uri())
        assert page.locator("figure svg").count() == 6
        browser.close()
    assert [url for url in requests if not url.startswith("file://")] == []


def test_figures_are_numbered_by_chart_and_only_point_to_a_table_they_have() -> None:
    from recoverypbr.modelling.report import render_html

    bars = charts.bars_chart(BARS, "quarter", "clients")
    page = render_html(Report("t", sections=[Section("words"), Section("a", chart=bars), Section("b", chart=bars)]),
                       {}, "t.json")
    assert "Figure 1: a.</figcaption>" in page and "Figure 2: b.</figcaption>" in page


def test_every_chart_is_well_formed_svg_that_a_renderer_draws(written: Path) -> None:
    import xml.etree.ElementTree as ET

    import vl_convert

    for svg in re.findall(r"<svg .*?</svg>", written.read_text(), re.DOTALL):
        standalone = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        ET.fromstring(standalone)  # well-formed XML, so any SVG viewer parses it
        png = vl_convert.svg_to_png(standalone)
        assert png.startswith(b"\x89PNG") and len(png) > 2_000  # rasterised by resvg: there is something drawn


def test_numpy_numbers_and_gaps_are_drawn_and_kept() -> None:
    import numpy as np

    from recoverypbr.modelling.report import report_json

    rows = [{"quarter": "Q1", "clients": np.int64(4)}, {"quarter": "Q2", "clients": np.float64("nan")},
            {"quarter": "Q3", "clients": Decimal("2.5")}]
    section = Section("numpy", chart=charts.bars_chart(rows, "quarter", "clients"),
                      table=FigureTable(("quarter", "clients"), rows))
    figures = report_json(Report("t", sections=[section]), {1: "t.csv"})["sections"][0]
    assert [r["clients"] for r in figures["chart_data"][0]] == [4.0, None, 2.5]
    assert [r["clients"] for r in figures["table"]["rows"]] == [4, None, "2.5"]


def test_a_figure_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(TypeError, match="must be a number"):
        charts.gains_chart([{"strategy": "cream", "gain": "£1,200.00", "flagged": False}])
