"""Whole statements on every engine (conftest.ENGINES): made from the same rows, approved, then made again after
late data with the adjustments that brings, every provider's statement document (the JSON `pay` writes, with its
fingerprint and data digest) is byte for byte the same as on in-memory DuckDB; made twice on one engine, the
second reads the priced periods the first stored (`payments.stored`) and is again the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from statements.test_stored_pricing import CONTRACT, Q2, Q3

from recoverypbr.outcomes.cases import arrow_rows, case_warehouse
from recoverypbr.payments.approval import document_text
from recoverypbr.payments.run import approve_statements, make_statements
from recoverypbr.warehouse.connection import Warehouse

EPISODES = [
    {"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": "P1" if i % 3 else "P2",
     "start_date": dt.date(2011, 1, 1), "discharge_date": dt.date(2012, 4, 1) + dt.timedelta(days=7 * i),
     "discharge_reason": "completed_drug_free" if i % 4 else "dropped_out", "substances": "opiates"}
    for i in range(12)
]
# Presentations within a year of C1's and C5's discharges (undoing no re-presentation), loaded after 2013-Q2's approval.
LATE = [{"client_id": "C1", "presented_on": dt.date(2012, 12, 1), "setting": "treatment"},
        {"client_id": "C5", "presented_on": dt.date(2013, 2, 1), "setting": "treatment"}]
AT = dt.datetime(2013, 10, 2, 9, 30)


def _story(wh: Warehouse) -> list[str]:
    texts = []
    q2 = make_statements(wh, CONTRACT, Q2)
    texts += [document_text(s.document()) for s in q2]
    approve_statements(wh, q2, "Finance", AT)
    wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", LATE)))
    wh.unregister("_late")
    for _ in range(2):  # the second is made from the stored priced periods
        texts += [document_text(s.document()) for s in make_statements(wh, CONTRACT, Q3)]
    return texts


def test_statements_are_the_same_bytes_on_every_engine(engine: str, warehouse_target: Path | str) -> None:
    with case_warehouse({"episodes": EPISODES}, warehouse_target) as wh:
        got = _story(wh)
        assert int(wh.execute("SELECT count(*) FROM priced_periods")[0][0]) > 0
    with case_warehouse({"episodes": EPISODES}) as reference:
        expected = _story(reference)
    assert any('"adjustment"' in text for text in expected), "the late data brings adjustments"
    assert got == expected


def test_the_data_digest_is_the_same_on_every_engine(engine: str, warehouse_target: Path | str) -> None:
    # 0.0625 units is 62.5 thousandths: a tie, which PostgreSQL's round of a double sends to even (62) and DuckDB's
    # away from zero (63); the digest rounds half away from zero by hand, so both give 63.
    from recoverypbr.payments.fingerprint import data_sha256

    top = [{"top_id": f"T{i}", "client_id": "C1", "episode_id": "E1", "top_date": dt.date(2012, 5, 1 + i),
            "stage": "start" if i == 0 else "review", "alcohol_units": units}
           for i, units in enumerate((0.0625, 12.5, 3.0005))]
    tables = {"episodes": EPISODES[:2], "top": top, "presentations": LATE}
    with case_warehouse(tables, warehouse_target) as wh:
        got = data_sha256(wh, dt.date(2013, 6, 30))
    with case_warehouse(tables) as reference:
        assert got == data_sha256(reference, dt.date(2013, 6, 30))
