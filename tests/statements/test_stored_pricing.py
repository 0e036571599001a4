"""Priced periods kept in the warehouse (`payments.stored`): statements made with stored earlier periods are the
statements made by pricing every period from the contract's start, to the penny and byte for byte, across late
data, approvals and the adjustments they bring; late data is never answered from what was stored before it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statements.test_statement_properties import _rows as rows_of
from statements.test_statement_properties import episodes_until

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.approval import document_text
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.payments.statements import Statement
from recoverypbr.warehouse.connection import Warehouse

# A yearly cap on P1 and a yearly floor on P2: what earlier periods paid decides later periods' cuts and top-ups.
CONTRACT = Contract.model_validate(
    BASE_CONTRACT
    | {
        "effective_from": dt.date(2013, 4, 1),
        "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": {
            "completion": {"type": "successful_completion", "tariffs": {"all": "333.33"}},
            "no_rep": {"type": "no_representation_12m", "tariffs": {"all": "1000"}},
        },
        "caps": {"p1": {"provider": "P1", "amount": "2500", "period": "year"}},
        "floors": {"p2": {"provider": "P2", "amount": "100", "period": "quarter"}},
    }
)
Q2, Q3, Q4 = (statement_period(CONTRACT, label) for label in ("2013-Q2", "2013-Q3", "2013-Q4"))
AT = dt.datetime(2014, 1, 10, 9, 0)

episode = episodes_until(dt.date(2013, 12, 31))


def _rows(drawn: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return rows_of(drawn, late_until=Q3.end)


def _texts(statements: list[Statement]) -> dict[str, str]:
    return {s.provider_id: document_text(s.document()) for s in statements}


def _stored_rows(wh: Warehouse) -> int:
    return int(wh.execute("SELECT count(*) FROM priced_periods")[0][0])


def _history(wh: Warehouse, late: list[dict[str, Any]], stored: bool) -> list[dict[str, str]]:
    """Q2 made and approved; late data; Q3 made and approved; Q3 and Q4 made as of Q4's end. `stored`: keep what is
    priced (the normal way); otherwise forget it before every statement, so each prices every period again."""
    made = []

    def make(period: Any, as_of: dt.date) -> list[Statement]:
        if not stored:
            for table in ("priced_lines", "priced_sums", "priced_periods"):
                wh.execute(f"DELETE FROM {table}")
        statements = make_statements(wh, CONTRACT, period, as_of)
        made.append(_texts(statements))
        return statements

    approve_statements(wh, make(Q2, Q2.end), "Finance", AT)
    if late:
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", late)))
        wh.unregister("_late")
    approve_statements(wh, make(Q3, Q3.end), "Finance", AT)
    make(Q3, Q4.end)
    make(Q4, Q4.end)  # Q2 and Q3 as of Q4's end come from the store (the run before priced them)
    make(Q4, Q4.end)  # every period from the store
    return made


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(episode, min_size=1, max_size=8))
def test_stored_earlier_periods_price_as_pricing_from_the_start(drawn: list[dict[str, Any]]) -> None:
    episodes, late = _rows(drawn)
    with case_warehouse({"episodes": episodes}) as kept, case_warehouse({"episodes": episodes}) as fresh:
        with_store = _history(kept, late, stored=True)
        assert _stored_rows(kept) > 0
        assert with_store == _history(fresh, late, stored=False)


def test_late_data_is_not_answered_from_the_store() -> None:
    # C0 (P1) completes on 2013-05-10: GBP 333.33 in 2013-Q2. A presentation dated 2013-06-01, loaded after Q2's
    # statements were made as of 2013-06-30, changes the data as known on that date: making them again must see it
    # (no_rep is no longer on its way; completion is unchanged but the data digest, and so the fingerprint, is new).
    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        before = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows(
            "presentations", [{"client_id": "C0", "presented_on": dt.date(2013, 6, 1), "setting": "treatment"}])))
        after = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
        assert before["P1"].fingerprint != after["P1"].fingerprint
        assert _stored_rows(wh) == 2  # 2013-Q2 under each data digest
    with case_warehouse({"episodes": episodes}) as wh:
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows(
            "presentations", [{"client_id": "C0", "presented_on": dt.date(2013, 6, 1), "setting": "treatment"}])))
        fresh = {s.provider_id: s for s in make_statements(wh, CONTRACT, Q2)}
    assert _texts(list(after.values())) == _texts(list(fresh.values()))


def test_the_store_keeps_the_latest_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from recoverypbr.payments import stored

    monkeypatch.setattr(stored, "KEEP", 2)
    episodes = [{"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"} for i in range(3)]
    with case_warehouse({"episodes": episodes}) as wh:
        for day in range(stored.KEEP + 1):  # each as-of date is another data digest
            make_statements(wh, CONTRACT, Q3, Q3.end + dt.timedelta(days=day))
        runs = wh.execute("SELECT count(DISTINCT data_sha256) FROM priced_periods")[0][0]
        lines = wh.execute("SELECT count(DISTINCT data_sha256) FROM priced_lines")[0][0]
        assert runs == lines == stored.KEEP


def test_data_loaded_while_pricing_refuses_the_statements_and_stores_nothing() -> None:
    # Another process's load between the data digest and the end of pricing: the prices could rest on rows the
    # fingerprint does not cover, so the statements are refused (run again) and nothing is kept.
    import pytest

    from recoverypbr.payments.approval import StatementError
    from recoverypbr.payments.fingerprint import fingerprint
    from recoverypbr.payments.run import price_stored
    from recoverypbr.payments.stored import data_marker

    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2012, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        marker = data_marker(wh)
        prints = fingerprint(wh, CONTRACT, Q2.end)
        wh.execute("INSERT INTO loads VALUES (99, 'elsewhere', now(), now(), 1, 1, 0, 'test')")
        with pytest.raises(StatementError, match="while the statements were being made"):
            price_stored(wh, CONTRACT, Q2, Q2.end, prints, marker=marker)
        assert _stored_rows(wh) == 0
        assert price_stored(wh, CONTRACT, Q2, Q2.end, prints, marker=data_marker(wh)).payments


def _kept(wh: Warehouse) -> dict[str, tuple[int, int, int, int, bool]]:
    """Each stored period: its line count and the lines stored, its sum count and the sums stored, and whether its
    lines were kept."""
    rows = wh.execute(
        "SELECT p.period_label, p.line_count, (SELECT count(*) FROM priced_lines l WHERE l.period_label ="
        " p.period_label AND l.data_sha256 = p.data_sha256), p.sum_count, (SELECT count(*) FROM priced_sums s WHERE"
        " s.period_label = p.period_label AND s.data_sha256 = p.data_sha256), p.lines_kept FROM priced_periods p")
    return {label: (count, lines, sum_count, sums, kept) for label, count, lines, sum_count, sums, kept in rows}


EPISODES = [{"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": f"P{1 + i % 2}",
             "start_date": dt.date(2011, 1, 1), "discharge_date": dt.date(2013, 5 + i % 3, 10 + i),
             "discharge_reason": "completed_drug_free", "substances": "opiates"} for i in range(6)]


def test_earlier_periods_keep_their_sums_and_the_read_periods_their_lines() -> None:
    # Q3 made: Q2's lines are read by no statement, so only its sums are kept; Q3's lines are kept. Then Q2 approved
    # and Q3 made again: Q2's lines are now read (Q3 adjusts approved Q2), so Q2 is priced again with its lines.
    with case_warehouse({"episodes": EPISODES}) as wh:
        make_statements(wh, CONTRACT, Q3)
        kept = _kept(wh)
        assert kept["2013-Q2"][1:] == (0, kept["2013-Q2"][2], kept["2013-Q2"][2], False)
        assert kept["2013-Q2"][2] > 0
        assert kept["2013-Q3"][0] == kept["2013-Q3"][1] > 0 and kept["2013-Q3"][4]
        approve_statements(wh, make_statements(wh, CONTRACT, Q2), "Finance", AT)
        make_statements(wh, CONTRACT, Q3)
        kept = _kept(wh)
        assert kept["2013-Q2"][0] == kept["2013-Q2"][1] > 0 and kept["2013-Q2"][4]


def test_a_period_kept_as_sums_is_priced_again_when_its_statement_is_made() -> None:
    # Q4 made first keeps Q2's and Q3's sums only; Q3's statements made next price Q3 again (from Q2's stored sums)
    # and are those of a warehouse that never priced anything.
    with case_warehouse({"episodes": EPISODES}) as wh, case_warehouse({"episodes": EPISODES}) as fresh:
        make_statements(wh, CONTRACT, Q4)
        assert not _kept(wh)["2013-Q3"][4]
        assert _texts(make_statements(wh, CONTRACT, Q3)) == _texts(make_statements(fresh, CONTRACT, Q3))
        assert _kept(wh)["2013-Q3"][4]


@pytest.mark.parametrize(("table", "label"), [("priced_sums", "2013-Q2"), ("priced_lines", "2013-Q3")])
def test_a_stored_period_whose_sums_or_lines_are_gone_is_priced_again(table: str, label: str) -> None:
    # Q2's sums (or Q3's lines) removed behind its priced_periods row (by hand, or another run forgetting it
    # meanwhile): it would read as nothing paid, so the period is priced again, and the statements are those made
    # before.
    with case_warehouse({"episodes": EPISODES}) as wh:
        first = _texts(make_statements(wh, CONTRACT, Q3))
        wh.execute(f"DELETE FROM {table} WHERE period_label = ?", [label])
        assert _texts(make_statements(wh, CONTRACT, Q3)) == first
        count, lines, sum_count, sums, kept = _kept(wh)[label]
        assert sum_count == sums > 0
        assert count == lines > 0 if kept else lines == 0


def test_a_run_never_forgets_its_own_priced_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another run stored later (here: dated in the future) and only one run is kept: the run storing now keeps its
    # own periods, whose lines it may read back before it ends.
    from recoverypbr.payments import stored
    from recoverypbr.payments.fingerprint import fingerprint

    monkeypatch.setattr(stored, "KEEP", 1)
    episodes = [{"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2011, 1, 1),
                 "discharge_date": dt.date(2013, 5, 10), "discharge_reason": "completed_drug_free",
                 "substances": "opiates"}]
    with case_warehouse({"episodes": episodes}) as wh:
        wh.execute("INSERT INTO priced_periods VALUES (?, ?, 'c', 'd', 'p', ?, '2013-Q2', 0, 0, 0, true, '[]', ?)",
                   [CONTRACT.area, CONTRACT.effective_from, Q2.end, dt.datetime(2100, 1, 1)])
        make_statements(wh, CONTRACT, Q3)
        mine = fingerprint(wh, CONTRACT, Q3.end).data_sha256
        kept = wh.execute("SELECT count(*) FROM priced_periods WHERE data_sha256 = ?", [mine])[0][0]
        assert kept == 2  # 2013-Q2 and 2013-Q3


def test_the_data_digest_worked_out_beside_pricing_is_the_digest() -> None:
    # The fingerprint is worked out on another connection while pricing runs: the same digests as worked out first,
    # and the statements those of a run that waited for it.
    from recoverypbr.payments.fingerprint import PendingFingerprint, fingerprint

    with case_warehouse({"episodes": EPISODES}) as wh:
        assert PendingFingerprint(wh, CONTRACT, Q3.end).result() == fingerprint(wh, CONTRACT, Q3.end)
        made = {s.provider_id: s.fingerprint for s in make_statements(wh, CONTRACT, Q3)}
        assert made == {pid: fingerprint(wh, CONTRACT, Q3.end).of(pid, "2013-Q3", Q3.end.isoformat(), "")
                        for pid in made}


def test_an_error_working_out_the_digest_is_raised_and_nothing_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    from recoverypbr.errors import WarehouseError
    from recoverypbr.payments import fingerprint as prints

    def fails(*args: object) -> object:
        raise WarehouseError("the digest failed", hint="try again")

    monkeypatch.setattr(prints, "fingerprint", fails)
    with case_warehouse({"episodes": EPISODES}) as wh:
        with pytest.raises(WarehouseError, match="the digest failed"):
            make_statements(wh, CONTRACT, Q3)
        assert _stored_rows(wh) == 0


def test_a_failure_while_pricing_stops_the_digest_before_going_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pricing fails while the digest runs beside it: the digest's query is stopped and its thread has ended when
    # the error reaches the caller, so no query is left running on a warehouse about to be closed.
    import threading

    from recoverypbr.payments import run

    def fails(*args: object, **kwargs: object) -> object:
        raise RuntimeError("pricing failed")

    monkeypatch.setattr(run, "price_up_to", fails)
    with case_warehouse({"episodes": EPISODES}) as wh:
        with pytest.raises(RuntimeError, match="pricing failed"):
            make_statements(wh, CONTRACT, Q3)
        assert not [t for t in threading.enumerate() if t.name == "data digest"]
