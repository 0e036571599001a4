"""The baseline on a hand-built area whose every figure is worked out below, its errors, and the command.

The area (contract start 2012-04-01; window 2011-04-01 to 2011-09-30, so 6 months before go-live). Groups by the
points of the client's assessment: currently injecting (2 points) is `high`, else `low`; C7 has no assessment.

| ep | client | group | start      | discharge            | completion by 2011-09-30 | no re-presentation (12 m)  |
| E0 | C1     | low   | 2010-10-01 | 2011-03-31 dropped   | (not in the window)      |                            |
| E1 | C1     | low   | 2011-04-10 | 2011-06-09 completed | yes, 60 days             | matures 2012-06-09: yes, 426 d |
| E2 | C2     | low   | 2011-05-01 | 2011-07-30 completed | yes, 90 days             | E8 starts 2011-12-01: no   |
| E3 | C3     | low   | 2011-06-01 | 2011-08-01 dropped   | no                       | not eligible               |
| E4 | C4     | low   | 2011-09-01 | 2011-10-15 completed | no (after the cut-off)   | matures 2012-10-15: no [1] |
| E5 | C5     | high  | 2011-04-01 | 2011-09-28 completed | yes, 180 days            | matures 2012-09-28: yes, 546 d |
| E6 | C6     | high  | 2011-07-15 | open                 | no                       | not eligible               |
| E7 | C7     | none  | 2011-08-01 | open                 | (no group: no cell)      |                            |
| E8 | C2     | low   | 2011-12-01 | open                 | (not in the window)      |                            |
| E9 | C9     | none  | 2013-01-01 | open                 | (after the window: the data then run to 2013) |  |

[1] after its cut-off, 2011-09-30 + 12 months = 2012-09-30: eligible (pending on that day), not achieved.

Completion, low: 2 of 4 (E1, E2), rate 0.5000, Jeffreys Beta(2.5, 2.5): 0.12275.. to 0.87725.., outwards to 4 places
0.1227 to 0.8773; lags 60 and 90: quartiles 67.5 -> 68, 75, 82.5 -> 83. High: 1 of 2 (E5), Beta(1.5, 1.5): 0.06083..
to 0.93917.. -> 0.0608 to 0.9392, lag 180. No re-presentation, low: 1 of 3 (E1, E2, E4 eligible), Beta(1.5, 2.5):
0.03875.. to 0.82326.. -> 0.0387 to 0.8233; high: 1 of 1 (E5), low end Beta(1.5, 0.5)'s 2.5%: 0.14675.. -> 0.1467,
high end 1. Stock: go-live is after the window, so on 2011-10-01: E4 (low), E6 (high), E7 (none).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_cli, squashed, words
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract.model import Contract
from recoverypbr.modelling.baseline import INTERVAL, add_months, jeffreys, make_baseline, rate_text
from recoverypbr.modelling.baseline_file import BaselineError, Cell, Flow, Stock, read_baseline
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.warehouse.connection import Warehouse, open_warehouse

COMPLEXITY = {
    "groups": {"low": "fewer needs", "high": "more needs"},
    "points": {"criteria": {"injecting": {"field": "injecting_status", "equals": "current", "points": 2}},
               "bands": {"low": 0, "high": 2}},
}
OUTCOMES = {"completion": {"type": "successful_completion"}, "no_return": {"type": "no_representation_12m"}}
CONTRACT = Contract.model_validate({**BASE_CONTRACT, "complexity": COMPLEXITY, "outcomes": OUTCOMES})
FROM, TO = date(2011, 4, 1), date(2011, 9, 30)


def _episode(
    eid: str, client: str, start: str, discharge: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    return {"episode_id": eid, "client_id": client, "provider_id": "P1", "start_date": date.fromisoformat(start),
            "discharge_date": date.fromisoformat(discharge) if discharge else None, "discharge_reason": reason,
            "substances": "opiates"}


EPISODES = [
    _episode("E0", "C1", "2010-10-01", "2011-03-31", "dropped_out"),
    _episode("E1", "C1", "2011-04-10", "2011-06-09", "completed_drug_free"),
    _episode("E2", "C2", "2011-05-01", "2011-07-30", "completed_drug_free"),
    _episode("E3", "C3", "2011-06-01", "2011-08-01", "dropped_out"),
    _episode("E4", "C4", "2011-09-01", "2011-10-15", "completed_occasional_user"),
    _episode("E5", "C5", "2011-04-01", "2011-09-28", "completed_drug_free"),
    _episode("E6", "C6", "2011-07-15"),
    _episode("E7", "C7", "2011-08-01"),
    _episode("E8", "C2", "2011-12-01"),
    _episode("E9", "C9", "2013-01-01"),
]
ASSESSMENTS = [
    {"assessment_id": f"A{c}", "client_id": f"C{c}", "assessed_on": date(2010, 9, 1), "primary_substance": "opiates",
     "injecting_status": "current" if c in (5, 6) else "never"}
    for c in (1, 2, 3, 4, 5, 6)
]


@pytest.fixture
def area() -> Warehouse:
    return case_warehouse({"episodes": EPISODES, "assessments": ASSESSMENTS})


def test_the_hand_worked_area_gives_every_figure(area: Warehouse) -> None:
    baseline = make_baseline(area, CONTRACT, FROM, TO, "abc")
    assert (baseline.as_of, baseline.go_live, baseline.groups) == (date(2012, 9, 30), date(2012, 4, 1), ("low", "high"))
    assert baseline.cells == (
        Cell("completion", "low", 4, 2, "0.5000", "0.1227", "0.8773", INTERVAL, 68, 75, 83, True),
        Cell("completion", "high", 2, 1, "0.5000", "0.0608", "0.9392", INTERVAL, 180, 180, 180, True),
        Cell("no_return", "low", 3, 1, "0.3333", "0.0387", "0.8233", INTERVAL, 426, 426, 426, True),
        Cell("no_return", "high", 1, 1, "1.0000", "0.1467", "1.0000", INTERVAL, 546, 546, 546, True),
    )
    new = {(f.month, f.complexity_group): f.new for f in baseline.flow}
    assert len(baseline.flow) == 6 * 3 and sum(new.values()) == 7
    assert new == {(m, g): 0 for m in baseline.months() for g in ("low", "high", "none")} | {
        ("2011-04", "low"): 1, ("2011-04", "high"): 1, ("2011-05", "low"): 1, ("2011-06", "low"): 1,
        ("2011-07", "high"): 1, ("2011-08", "none"): 1, ("2011-09", "low"): 1,
    }
    assert baseline.stock == (Stock("low", 1), Stock("high", 1), Stock("none", 1))
    notes = " ".join(baseline.notes)
    assert "1 episodes started in the window have no complexity group" in notes
    assert "3 of 7 episodes started in the window were still open on 2011-09-30" in notes
    assert "4 of 4 cells have fewer than 10 eligible" in notes
    assert "on the day after the window ends, 2011-10-01" in notes
    assert "not yet known" not in notes


def test_a_data_end_before_the_longest_maturity_cuts_what_is_known(area: Warehouse) -> None:
    baseline = make_baseline(area, CONTRACT, FROM, TO, "abc", data_end=date(2012, 3, 31))
    assert baseline.as_of == date(2012, 3, 31)
    assert [(c.outcome_id, c.eligible, c.achieved) for c in baseline.cells] == [
        ("completion", 4, 2), ("completion", 2, 1), ("no_return", 3, 0), ("no_return", 1, 0)
    ]
    assert any("achievements after it are not yet known" in n for n in baseline.notes)


def test_a_window_past_the_datas_last_day_lists_flow_up_to_it(area: Warehouse) -> None:
    baseline = make_baseline(area, CONTRACT, date(2012, 6, 1), date(2013, 6, 30), "abc")
    assert baseline.months() == [f"2012-{m:02d}" for m in range(6, 13)] + ["2013-01"]
    assert baseline.as_of == date(2013, 1, 1) and sum(f.new for f in baseline.flow) == 1
    assert "The window runs past the data's last day (2013-01-01)" in baseline.notes[0]


def test_go_live_inside_the_window_counts_stock_on_go_live(area: Warehouse) -> None:
    baseline = make_baseline(area, CONTRACT, date(2010, 4, 1), date(2012, 6, 30), "abc")
    # On 2012-04-01: E6 (high), E7 (none) and E8 (low) are open; E4 was discharged in 2011.
    assert baseline.stock == (Stock("low", 1), Stock("high", 1), Stock("none", 1))
    assert any("on the go-live day, 2012-04-01" in n for n in baseline.notes)
    assert Flow("2011-12", "low", 1) in baseline.flow


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ((date(2011, 9, 30), date(2011, 4, 1)), "the window starts on 2011-09-30, after it ends on 2011-04-01"),
        ((date(2014, 1, 1), date(2014, 12, 31)),
         "no episodes started between 2014-01-01 and 2014-12-31; the warehouse's episodes run from 2010-10-01 to "
         "2013-01-01"),
    ],
)
def test_a_window_that_cannot_make_a_baseline_says_why(
    area: Warehouse, window: tuple[date, date], message: str
) -> None:
    with pytest.raises(BaselineError) as raised:
        make_baseline(area, CONTRACT, *window, "abc")
    assert raised.value.message == message and raised.value.hint


def test_an_empty_warehouse_says_load_first() -> None:
    with pytest.raises(BaselineError, match="the warehouse has no episodes"):
        make_baseline(case_warehouse({}), CONTRACT, FROM, TO, "abc")


@pytest.mark.parametrize(
    ("achieved", "eligible", "rate", "low", "high"),
    [(0, 0, "0.0000", "0.0000", "1.0000"), (0, 10, "0.0000", "0.0000", "0.2172"), (1, 3, "0.3333", "0.0387", "0.8233"),
     (2, 3, "0.6667", "0.1767", "0.9613"), (50, 100, "0.5000", "0.4031", "0.5969")],
)
def test_rates_and_jeffreys_ends(achieved: int, eligible: int, rate: str, low: str, high: str) -> None:
    assert (rate_text(achieved, eligible), *jeffreys(achieved, eligible)) == (rate, low, high)


def test_months_are_added_as_the_engine_adds_them() -> None:
    assert add_months(date(2012, 1, 31), 1) == date(2012, 2, 29)
    assert add_months(date(2011, 9, 30), 12) == date(2012, 9, 30)
    assert add_months(date(2011, 11, 15), 14) == date(2013, 1, 15)


def _contract_file(tmp_path: Path) -> Path:
    doc = {**BASE_CONTRACT, "complexity": COMPLEXITY, "outcomes": OUTCOMES}
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def area_file(tmp_path: Path) -> Path:
    """The hand-worked area as a warehouse file."""
    db = tmp_path / "area.duckdb"
    with open_warehouse(db) as wh:
        for name, rows in (("episodes", EPISODES), ("assessments", ASSESSMENTS)):
            wh.insert(name, wh.register_arrow(f"_{name}", arrow_rows(name, rows)))
    return db


def test_the_command_writes_the_baseline_and_prints_the_summary(tmp_path: Path, area_file: Path) -> None:
    out = tmp_path / "base"
    shown = run_cli("model", "baseline", "--contract", str(_contract_file(tmp_path)), "--from", "2011-04-01",
                    "--to", "2011-09-30", "--db", str(area_file), "--out", str(out))
    names = sorted(p.name for p in out.iterdir())
    assert {"baseline.json", "cells.csv", "flow.csv", "stock.csv", "baseline-report.html"} <= set(names)
    assert [n for n in names if not n.startswith("baseline-report")] == [
        "baseline.json", "cells.csv", "flow.csv", "stock.csv"]
    from recoverypbr.modelling.report import external_urls

    assert external_urls((out / "baseline-report.html").read_text(encoding="utf-8")) == []
    baseline = read_baseline(out)
    assert baseline.cell("completion", "low") == Cell("completion", "low", 4, 2, "0.5000", "0.1227", "0.8773",
                                                      INTERVAL, 68, 75, 83, True)
    cells = (out / "cells.csv").read_text(encoding="utf-8").splitlines()
    assert cells[1] == "completion,low,4,2,0.5000,0.1227,0.8773,Jeffreys 95%,68,75,83,true"
    assert len((out / "flow.csv").read_text(encoding="utf-8").splitlines()) == 1 + 18
    assert "completion low 2/4 * 0.5000 0.1227-0.8773 68/75/83" in shown
    assert "high 1/1 * 1.0000 0.1467-1.0000 546/546/546" in shown
    assert "Flow" in shown and "Stock" in shown and "no complexity group" in shown


def test_the_command_reports_a_bad_window_and_a_missing_contract(tmp_path: Path, area_file: Path) -> None:
    runner = CliRunner()
    window = ["--from", "2011-09-30", "--to", "2011-04-01", "--db", str(area_file)]
    missing = runner.invoke(app, ["model", "baseline", "--contract", str(tmp_path / "nope.yaml"), *window])
    assert missing.exit_code == 2 and "nope.yaml" in squashed(missing.output)
    backwards = runner.invoke(app, ["model", "baseline", "--contract", str(_contract_file(tmp_path)), *window])
    assert backwards.exit_code == 2
    assert "the window starts on 2011-09-30, after it ends on 2011-04-01" in words(backwards.output)


MARLSHIRE = Path(__file__).parents[2] / "contracts" / "marlshire.yaml"


@pytest.mark.slow
def test_the_command_on_a_synthetic_area(tmp_path: Path) -> None:
    """A 300-client area made and loaded as a user would: every outcome x group cell, the window's 24 months of
    flow, stock on go-live, and the summary's three tables."""
    db, out = tmp_path / "area.duckdb", tmp_path / "baseline"
    run_cli("synth", "--clients", "300", "--seed", "1", "--out", str(tmp_path / "area"))
    run_cli("load", str(tmp_path / "area"), "--db", str(db))
    shown = run_cli("model", "baseline", "--contract", str(MARLSHIRE), "--from", "2010-04-01", "--to", "2012-03-31",
                    "--db", str(db), "--out", str(out))
    baseline = read_baseline(out)
    assert baseline.groups == ("low", "medium", "high") and baseline.go_live == date(2012, 4, 1)
    assert len(baseline.cells) == 7 * 3 and len(baseline.months()) == 24
    assert all(c.achieved <= c.eligible and c.low <= c.rate <= c.high for c in baseline.cells)
    assert sum(c.eligible for c in baseline.cells if c.outcome_id == "successful_completion") == sum(
        f.new for f in baseline.flow if f.complexity_group != "none")
    assert sum(s.clients for s in baseline.stock) > 0
    assert baseline.as_of == date(2013, 3, 31)  # the window's end plus no_representation's 12 months
    for name in ("cells", "flow", "stock"):
        assert (out / f"{name}.csv").read_text(encoding="utf-8").count("\n") > 1
    assert "successful_completion low" in shown and "Flow: new presentations over 24 months of the window" in shown
    assert "Stock: clients in treatment on the go-live day, 2012-04-01." in shown
