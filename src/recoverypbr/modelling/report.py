"""The modelling reports: one self-contained HTML file, a JSON file of every figure and a CSV file per table.

A `Report` is a title, an introduction and sections; a `Section` is a heading, paragraphs, an optional chart
(from `modelling.charts`), an optional `FigureTable` of the figures behind it, and notes. `write_report` writes

- `<name>.html`: opens offline. Charts are rendered to SVG here, by vl-convert (which bundles Vega and Vega-Lite
  and is allowed no data URL), and put inline; the CSS is inline; there is no script, and no reference to
  anything outside the file but links to its own CSV and JSON files beside it. A Content-Security-Policy meta tag
  also tells the browser to fetch nothing. Every chart is followed by its table of figures, with a caption, so a
  screen reader or a printout carries the same numbers. All text is HTML-escaped.
- `<name>.json`: the title, the paragraphs and, per section, its table's rows and its chart's data.
- `<name>_<nn>_<heading>.csv`: each table, every text cell made spreadsheet-safe by `reports.cells.safe_table`.

Figures are formatted by the caller (pounds come as strings from pence); the same report gives the same bytes.
`external_urls` lists what an HTML text would fetch from outside itself; tests of every report use it.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa

from recoverypbr.errors import RecoveryPbrError
from recoverypbr.reports.cells import safe_cell, safe_table
from recoverypbr.reports.files import safe_name


class ReportError(RecoveryPbrError):
    """A report cannot be written where it was asked to be."""


@dataclass(frozen=True)
class FigureTable:
    """The figures behind a section: column names, rows keyed by those names, and a caption."""

    columns: Sequence[str]
    rows: Sequence[Mapping[str, Any]]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    """One part of a report: heading, paragraphs, an Altair chart or None, its table of figures, and notes."""

    heading: str
    text: Sequence[str] = ()
    chart: Any = None
    table: FigureTable | None = None
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Report:
    """A report: title, introductory paragraphs and sections, in reading order."""

    title: str
    intro: Sequence[str] = ()
    sections: Sequence[Section] = field(default_factory=tuple)


# --- values -------------------------------------------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"^[-\u2212+]?£?[0-9][0-9,]*(\.[0-9]+)?%?$")


def _paragraphs(text: str | Sequence[str]) -> list[str]:
    return [text] if isinstance(text, str) else list(text)


def _cell_text(value: Any) -> str:
    """A cell as text: None empty, booleans yes/no, dates ISO, everything else as the caller formatted it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    """A value for JSON: Decimals as exact text, dates ISO, NumPy numbers as plain ones, NaN as null."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else (None if math.isnan(number) else str(number))
    return value


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Real | Decimal) or (isinstance(value, str) and bool(_NUMBER_TEXT.match(value)))


# --- charts ---------------------------------------------------------------------------------------------------------

_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def chart_svg(chart: Any, prefix: str, label: str = "Chart") -> str:
    """The chart as inline SVG: rendered offline (no data URL allowed), namespace declarations dropped (HTML needs
    none), any element id (clip paths, gradients) prefixed so that several charts share a page safely, and the
    whole labelled as one image (by the chart's description, else `label`) for assistive technology; its figures
    follow in a table."""
    spec = chart.to_dict()
    label = f"Chart: {spec.get('description') or label}"
    import vl_convert  # imported when a chart is drawn

    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    svg = _XMLNS.sub("", svg, count=2)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-").replace('href="#', f'href="#{prefix}-')
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label, quote=True)}" ', 1)


def chart_data(chart: Any) -> list[list[dict[str, Any]]]:
    """Every data set a chart draws, once each, in the order its specification holds them."""
    found: list[list[dict[str, Any]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                found.append(data["values"])
            for name in sorted(node.get("datasets", {}) or {}):
                found.append(node["datasets"][name])
            for key, child in node.items():
                if key not in ("data", "datasets"):
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(chart.to_dict())
    return list({json.dumps(rows, sort_keys=True): rows for rows in found}.values())


# --- HTML -----------------------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 1rem; line-height: 1.5; color: #1a1a1a; background: #fff; margin: 0; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.8rem; line-height: 1.2; margin: 0 0 1rem; }
h2 { font-size: 1.35rem; margin: 2.5rem 0 0.75rem; border-top: 1px solid #ccc; padding-top: 1.25rem; }
p, li { max-width: 48rem; }
nav ol { padding-left: 1.25rem; }
a { color: #0b5394; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: #444; }
.table-wrap { overflow-x: auto; margin: 0.75rem 0; }
table { border-collapse: collapse; font-size: 0.95rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; caption-side: top; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.75rem 0.3rem 0; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #555; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes { font-size: 0.9rem; color: #333; }
.files { font-size: 0.9rem; }
@media print {
  main { max-width: none; padding: 0; }
  body { font-size: 10.5pt; }
  nav, .files { display: none; }
  h2 { break-after: avoid; }
  figure, table, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

#: Tells the browser to fetch nothing: no script, no font, no image, no style from outside the file.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"


def _e(text: Any) -> str:
    return html.escape(_cell_text(text), quote=True)


def _table_html(table: FigureTable, caption: str, csv_name: str) -> str:
    head = "".join(f'<th scope="col"{_num_class(row_values=[r.get(c) for r in table.rows])}>{_e(c)}</th>'
                   for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f'<td{_num_class([row.get(c)])}>{_e(row.get(c))}</td>' for c in table.columns) + "</tr>"
        for row in table.rows)
    return (f'<div class="table-wrap" role="region" aria-label="{_e(caption)}" tabindex="0"><table>'
            f"<caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
            f'<p class="files">These figures as CSV: <a href="{_e(csv_name)}">{_e(csv_name)}</a></p>')


def _num_class(row_values: Sequence[Any]) -> str:
    """Right-align a column (or cell) whose values are all numbers."""
    values = [v for v in row_values if v is not None and v != ""]
    return ' class="num"' if values and all(_is_number(v) for v in values) else ""


def _section_html(index: int, section: Section, csv_name: str | None, figure: int) -> str:
    """Section `index` (its anchor) as HTML; its chart, if any, is figure number `figure`."""
    anchor = f"section-{index}"
    parts = [f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{_e(section.heading)}</h2>']
    parts += [f"<p>{_e(paragraph)}</p>" for paragraph in _paragraphs(section.text)]
    if section.chart is not None:
        below = " The figures are in the table below." if section.table is not None else ""
        parts.append(f'<figure>{chart_svg(section.chart, f"chart{index}", section.heading)}'
                     f"<figcaption>Figure {figure}: {_e(section.heading)}.{below}</figcaption></figure>")
    if section.table is not None and csv_name is not None:
        parts.append(_table_html(section.table, section.table.caption or section.heading, csv_name))
    if section.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in section.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: Report, csv_names: Mapping[int, str], json_name: str) -> str:
    """The report as one HTML page (sections numbered from 1; `csv_names` by section number)."""
    toc = "".join(f'<li><a href="#section-{i}">{_e(s.heading)}</a></li>'
                  for i, s in enumerate(report.sections, start=1))
    figures = itertools.accumulate(int(s.chart is not None) for s in report.sections)
    sections = "\n".join(_section_html(i, s, csv_names.get(i), figure)
                         for (i, s), figure in zip(enumerate(report.sections, start=1), figures, strict=True))
    intro = "".join(f"<p>{_e(p)}</p>" for p in _paragraphs(report.intro))
    return (
        "<!doctype html>\n"
        '<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(report.title)}</h1>\n{intro}\n"
        f'<nav aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>\n{sections}\n'
        f'<p class="files">Every figure of this report as JSON: <a href="{_e(json_name)}">{_e(json_name)}</a></p>\n'
        "</main>\n</body>\n</html>\n"
    )


# --- JSON and CSV ---------------------------------------------------------------------------------------------------


def report_json(report: Report, csv_names: Mapping[int, str]) -> dict[str, Any]:
    """Every figure of the report: per section its paragraphs, notes, table rows and chart data."""
    sections = []
    for i, section in enumerate(report.sections, start=1):
        entry: dict[str, Any] = {"heading": section.heading, "text": _paragraphs(section.text),
                                 "notes": list(section.notes)}
        if section.table is not None:
            entry["table"] = {
                "caption": section.table.caption or section.heading,
                "csv": csv_names[i],
                "columns": list(section.table.columns),
                "rows": [{c: _json_value(row.get(c)) for c in section.table.columns} for row in section.table.rows],
            }
        if section.chart is not None:
            entry["chart_data"] = chart_data(section.chart)
        sections.append(entry)
    return {"title": report.title, "intro": _paragraphs(report.intro), "sections": sections}


def table_csv(table: FigureTable) -> bytes:
    """The table as CSV (UTF-8, `\\n` line ends), every cell as text and no cell a spreadsheet formula."""
    columns = list(table.columns)
    arrays = [pa.array([_cell_text(row.get(c)) for row in table.rows], pa.string()) for c in columns]
    cells = safe_table(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(columns))]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(safe_cell(c) for c in columns)
    writer.writerows(zip(*(cells.column(i).to_pylist() for i in range(len(columns))), strict=True))
    return buffer.getvalue().encode()


def _csv_names(report: Report, stem: str) -> dict[int, str]:
    """`<stem>_<nn>_<heading>.csv` for each section with a table."""
    names = {}
    for i, section in enumerate(report.sections, start=1):
        if section.table is not None:
            slug = re.sub(r"-+", "-", safe_name(section.heading.lower())).strip("-.")[:40] or "table"
            names[i] = f"{stem}_{i:02d}_{slug}.csv"
    return names


def write_report(report: Report, folder: Path, name: str) -> Path:
    """Write `<name>.html`, `<name>.json` and one CSV per table into `folder`; return the HTML file's path."""
    stem = safe_name(name) or "report"
    csv_names = _csv_names(report, stem)
    page = render_html(report, csv_names, f"{stem}.json")
    figures = json.dumps(report_json(report, csv_names), indent=2, ensure_ascii=False, allow_nan=False, default=str)
    figures += "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for i, csv_name in csv_names.items():
            table = report.sections[i - 1].table
            assert table is not None
            (folder / csv_name).write_bytes(table_csv(table))
        (folder / f"{stem}.json").write_bytes(figures.encode())
        path = folder / f"{stem}.html"
        path.write_bytes(page.encode())
    except OSError as exc:
        raise ReportError(f"cannot write the report into {folder}: {exc.strerror or exc}",
                          hint="choose a folder you can write to (--out).") from exc
    return path


# --- offline check --------------------------------------------------------------------------------------------------

_URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "background", "cite",
                   "longdesc", "manifest", "ping", "codebase", "archive", "icon", "lowsrc", "dynsrc", "usemap"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)|@import\s+(['"])([^'"]*)\3""", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _leaves(url: str) -> bool:
    """True for a reference outside the file: any scheme but `data:`, or a protocol-relative `//host`."""
    url = url.strip()
    return url.startswith(("//", "\\\\")) or (bool(_SCHEME.match(url)) and not url.lower().startswith("data:"))


class _References(HTMLParser):
    """Collects every URL an HTML text refers to: URL attributes, srcset, meta refresh, CSS url() and @import."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in _URL_ATTRIBUTES or name.endswith(":href"):
                self.urls.append(value)
            elif name in ("srcset", "imagesrcset"):
                self.urls += [part.split()[0] for part in value.split(",") if part.split()]
            elif name == "style":
                self._css(value)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.urls += re.findall(r"url\s*=\s*['\"]?([^'\";]+)", values.get("content", ""), re.IGNORECASE)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style":
            self._css(data)

    def _css(self, text: str) -> None:
        self.urls += [m.group(2) if m.group(2) is not None else m.group(4) for m in _CSS_URL.finditer(text)]


def external_urls(html_text: str) -> list[str]:
    """Every URL in the HTML that a browser would fetch from (or navigate to) outside the file: in a URL attribute
    (`src`, `href`, `xlink:href`, ...), `srcset`, a meta refresh, or CSS (`url(...)`, `@import`) in a `style`
    attribute or element. Fragments (`#...`), `data:` URLs and relative links to files beside it are not."""
    parser = _References()
    parser.feed(html_text)
    parser.close()
    return [url for url in parser.urls if _leaves(url)]
