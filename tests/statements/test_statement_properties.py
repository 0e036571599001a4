"""Properties of statements over random areas: lines sum to the totals, making a statement again gives the same
bytes, and after late data the approved period plus its adjustments equals the period priced again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.approval import document_text
from recoverypbr.payments.run import approve_statements, make_statements, price_up_to, statement_period
from recoverypbr.reports.files import lines_csv

CONTRACT = Contract.model_validate(
    BASE_CONTRACT
    | {
        "effective_from": dt.date(2013, 4, 1),
        "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": {
            "completion": {"type": "successful_completion", "tariffs": {"all": "333.33"}},
            "no_rep": {"type": "no_representation_12m", "tariffs": {"all": "1000"}},
        },
        "caps": {"p1": {"provider": "P1", "amount": "2500", "period": "quarter"}},
    }
)
Q2, Q3 = statement_period(CONTRACT, "2013-Q2"), statement_period(CONTRACT, "2013-Q3")

def episodes_until(last: dt.date) -> st.SearchStrategy[dict[str, Any]]:
    """An episode drawn with its provider, discharge (2012-03-01 to `last`), completion and a late presentation."""
    return st.fixed_dictionaries(
        {
            "provider_id": st.sampled_from(["P1", "P2"]),
            "discharge": st.dates(dt.date(2012, 3, 1), last),
            "completed": st.booleans(),
            "late_presentation_after_days": st.none() | st.integers(1, 400),
        }
    )


episode = episodes_until(dt.date(2013, 6, 30))


Rows = list[dict[str, Any]]


def _rows(drawn: Rows, late_until: dt.date = Q2.end) -> tuple[Rows, Rows]:
    """The episodes' rows and their late presentations dated on or before `late_until`."""
    episodes, late = [], []
    for i, e in enumerate(drawn):
        episodes.append({"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": e["provider_id"],
                         "start_date": dt.date(2011, 1, 1), "discharge_date": e["discharge"],
                         "discharge_reason": "completed_drug_free" if e["completed"] else "dropped_out",
                         "substances": "opiates"})
        days = e["late_presentation_after_days"]
        if days is not None and e["discharge"] + dt.timedelta(days=days) <= late_until:
            late.append({"client_id": f"C{i}", "presented_on": e["discharge"] + dt.timedelta(days=days),
                         "setting": "treatment"})
    return episodes, late


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(episode, min_size=1, max_size=10))
def test_totals_bytes_and_adjustments(drawn: list[dict[str, Any]]) -> None:
    episodes, late = _rows(drawn)
    wh = case_warehouse({"episodes": episodes})
    try:
        first = make_statements(wh, CONTRACT, Q2)
        again = make_statements(wh, CONTRACT, Q2)
        for a, b in zip(first, again, strict=True):
            assert lines_csv(a.document()) == lines_csv(b.document())
            assert document_text(a.document()) == document_text(b.document())
            doc = a.document()
            assert sum(Decimal(x["amount"]) for x in doc["lines"]) == Decimal(doc["totals"]["total"])
            assert sum(Decimal(v) for v in doc["totals"]["by_kind"].values()) == Decimal(doc["totals"]["total"])
            if a.provider_id == "P1":
                assert a.total_pence <= 250_000
        approve_statements(wh, first, "Finance", dt.datetime(2013, 7, 10))
        if late:
            wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", late)))
        q3 = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q3)}
        repriced = price_up_to(wh, CONTRACT, Q3, Q3.end).payments[Q2.label].lines
        for s in first:
            adjusted = sum(x.amount_pence for x in q3[s.provider_id].lines if x.kind == "adjustment")
            should = sum(x.amount_pence for x in repriced if x.provider_id == s.provider_id)
            assert s.total_pence + adjusted == should
            assert all(x.adjusts.startswith(s.statement_id) for x in q3[s.provider_id].lines if x.kind == "adjustment")
    finally:
        wh.close()
