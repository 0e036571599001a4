"""Edges of statements: providers the contract does not name, a clawback across contract years, and what the
fingerprint does and does not depend on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.domains import change_share
from recoverypbr.payments.fingerprint import data_sha256
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.warehouse.connection import Warehouse

NO_REP = {"no_rep": {"type": "no_representation_12m", "tariffs": {"all": "1000"}},
          "completion": {"type": "successful_completion", "tariffs": {"all": "250"}}}
ONE_YEAR = Contract.model_validate(BASE_CONTRACT | {
    "effective_from": dt.date(2013, 4, 1), "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
    "outcomes": NO_REP,
})
TWO_YEARS = Contract.model_validate(BASE_CONTRACT | {
    "effective_from": dt.date(2013, 4, 1),
    "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)},
              {"start": dt.date(2014, 4, 1), "end": dt.date(2015, 3, 31)}],
    "outcomes": NO_REP,
})


def _episode(i: str, provider: str, discharged: dt.date, **extra: Any) -> dict[str, Any]:
    return {"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": provider, "start_date": dt.date(2011, 1, 1),
            "discharge_date": discharged, "discharge_reason": "completed_drug_free", "substances": "opiates", **extra}


def _late_presentation(wh: Warehouse, client: str, day: dt.date) -> None:
    row = {"client_id": client, "presented_on": day, "setting": "treatment"}
    wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", [row])))
    wh.unregister("_late")


def _approve(wh: Warehouse, contract: Contract, label: str) -> None:
    period = statement_period(contract, label)
    approve_statements(wh, make_statements(wh, contract, period), "Finance", dt.datetime(2014, 1, 1))


def test_a_provider_the_contract_does_not_name_is_not_paid_and_its_activity_is_listed() -> None:
    # P3's no_rep matures on 2013-05-15 (2013-Q2, GBP 1,000 if it were named); P1 is named and earns GBP 1,000.
    wh = case_warehouse({"episodes": [_episode("3", "P3", dt.date(2012, 5, 15)),
                                      _episode("1", "P1", dt.date(2012, 5, 15))]})
    try:
        q2 = {s.provider_id: s for s in make_statements(wh, ONE_YEAR, statement_period(ONE_YEAR, "2013-Q2"))}
        assert sorted(q2) == ["P1", "P2", "P3"]
        assert q2["P3"].lines == () and q2["P3"].total_pence == 0
        assert q2["P1"].total_pence == 100_000
        [row] = q2["P3"].unpriced
        assert (row["client_id"], row["outcome_id"]) == ("C3", "no_rep")
        assert row["why"] == "outside the contract: provider P3 is not named in the contract; not paid"
        assert any("P3 is not named in the contract: nothing is paid to it" in n for n in q2["P3"].notes)
        # Every statement counts the activity outside the contract, and only P3's names its client.
        for pid in ("P1", "P2"):
            assert q2[pid].unpriced == ()
            assert any("outside the contract in this period, not paid: 1 payment due" in n for n in q2[pid].notes)
        _approve(wh, ONE_YEAR, "2013-Q2")
    finally:
        wh.close()


def test_unnamed_providers_can_be_paid_through_the_prime() -> None:
    prime = Contract.model_validate(BASE_CONTRACT | {
        "effective_from": dt.date(2013, 4, 1), "years": [{"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)}],
        "outcomes": NO_REP, "providers": {"P1": {"name": "Prime", "role": "prime"}},
        "attribution": {"model": "prime", "unnamed_providers": "through_prime"},
    })
    wh = case_warehouse({"episodes": [_episode("3", "P3", dt.date(2012, 5, 15))]})
    try:
        q2 = {s.provider_id: s for s in make_statements(wh, prime, statement_period(prime, "2013-Q2"))}
        assert sorted(q2) == ["P1"]
        assert [(x.client_id, x.amount_pence) for x in q2["P1"].lines] == [("C3", 100_000)]
        assert not any("outside the contract" in n for n in q2["P1"].notes)
    finally:
        wh.close()


def test_a_clawback_of_last_year_is_charged_to_last_year() -> None:
    # C1's no_rep matures on 2014-01-20 (year one, 2014-Q1): GBP 1,000, approved with the year's other periods.
    # A presentation on 2013-12-01 loaded late reverses it in 2014-Q2, the first period of year two. Year two's
    # statement shows the -1,000.00 as an adjustment to an earlier year; nothing is charged to year two.
    wh = case_warehouse({"episodes": [_episode("1", "P1", dt.date(2013, 1, 20))]})
    try:
        for label in ("2013-Q2", "2013-Q3", "2013-Q4", "2014-Q1"):
            _approve(wh, TWO_YEARS, label)
        _late_presentation(wh, "C1", dt.date(2013, 12, 1))
        p1 = next(s for s in make_statements(wh, TWO_YEARS, statement_period(TWO_YEARS, "2014-Q2"))
                  if s.provider_id == "P1")
        assert p1.total_pence == -100_000
        ytd = p1.document()["year_to_date"]
        assert ytd["year"] == "year 2"
        assert (ytd["paid_to_date"], ytd["adjustments_to_this_year"]) == ("0.00", "0.00")
        assert ytd["adjustments_to_earlier_years"] == "-1000.00"
    finally:
        wh.close()


def test_the_data_digest_ignores_load_order_and_sees_pricing_columns() -> None:
    rows = [_episode(str(i), "P1", dt.date(2013, 5, i + 1), stock_or_flow="flow") for i in range(5)]
    as_of = dt.date(2013, 6, 30)
    digests = []
    for variant in (rows, list(reversed(rows)), [*rows[:4], {**rows[4], "stock_or_flow": "stock"}]):
        wh = case_warehouse({"episodes": variant})
        try:
            digests.append(data_sha256(wh, as_of))
        finally:
            wh.close()
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_a_clipped_first_period_is_named_by_its_calendar_label() -> None:
    contract = Contract.model_validate(BASE_CONTRACT | {
        "effective_from": dt.date(2012, 5, 15),
        "years": [{"start": dt.date(2012, 5, 15), "end": dt.date(2013, 5, 14)}], "outcomes": NO_REP})
    first = statement_period(contract, "2012-Q2")
    assert (first.start, first.end) == (dt.date(2012, 5, 15), dt.date(2012, 6, 30))
    assert statement_period(contract, "2013-Q2").end == dt.date(2013, 5, 14)


def test_the_year_to_date_counts_each_line_in_its_own_contract_year() -> None:
    # Years start on 1 May, so the quarter 2013-Q2 (April to June 2013) straddles year one (to 2013-04-30) and year
    # two. Completions (GBP 250 each) on 2013-02-10 (year one, 2013-Q1), 2013-04-30 (year one's last day, in
    # 2013-Q2) and 2013-05-01 (year two's first day, in 2013-Q2). The 2013-Q2 statement ends in year two: its year
    # to date is year two's money, the completion of 1 May (GBP 250), not the quarter's GBP 500; the line of
    # 30 April counts in year one.
    contract = Contract.model_validate(BASE_CONTRACT | {
        "effective_from": dt.date(2012, 5, 1),
        "years": [{"start": dt.date(2012, 5, 1), "end": dt.date(2013, 4, 30)},
                  {"start": dt.date(2013, 5, 1), "end": dt.date(2014, 4, 30)}],
        "outcomes": {"completion": NO_REP["completion"]},
    })
    wh = case_warehouse({"episodes": [_episode(str(i), "P1", day) for i, day in enumerate(
        (dt.date(2013, 2, 10), dt.date(2013, 4, 30), dt.date(2013, 5, 1)))]})
    try:
        q2 = next(s for s in make_statements(wh, contract, statement_period(contract, "2013-Q2"))
                  if s.provider_id == "P1")
        assert q2.total_pence == 50_000
        ytd = q2.document()["year_to_date"]
        assert (ytd["year"], ytd["start"], ytd["paid_to_date"]) == ("year 2", "2013-05-01", "250.00")
        assert [(p["period"], p["total"]) for p in ytd["periods"]] == [("2013-Q2", "250.00")]
    finally:
        wh.close()


FINGERPRINTED = {
    "episodes": {"episode_id": "E1", "client_id": "C1", "provider_id": "P1", "start_date": dt.date(2012, 5, 1),
                 "substances": "opiates"},
    "top": {"top_id": "T1", "client_id": "C1", "episode_id": "E1", "top_date": dt.date(2012, 5, 1),
            "stage": "start", "opiate_days": 20},
    "events": {"client_id": "C1", "episode_id": "E1", "event_date": dt.date(2012, 6, 1),
               "event_type": "goals_achieved"},
    "presentations": {"client_id": "C1", "presented_on": dt.date(2012, 7, 1), "setting": "treatment"},
    "offending_individual": {"client_id": "C1", "offence_date": dt.date(2012, 8, 1), "offences": 1},
    "offending_cohort": {"cohort_id": "CJ", "period_start": dt.date(2012, 4, 1), "period_end": dt.date(2012, 6, 30),
                         "people": 100, "offences": 120, "is_baseline": False},
    "assessments": {"assessment_id": "1", "client_id": "C1", "assessed_on": dt.date(2012, 4, 20),
                    "parent_or_carer": True},
    "clients": {"client_id": "C1", "date_of_birth": dt.date(1990, 6, 1)},
}
#: One field per table changed to another valid value: each change must change the data digest.
CHANGED = {
    "episodes": {"substances": "alcohol"}, "top": {"opiate_days": 19}, "events": {"event_date": dt.date(2012, 6, 2)},
    "presentations": {"presented_on": dt.date(2012, 7, 2)}, "offending_individual": {"offences": 2},
    "offending_cohort": {"offences": 121}, "assessments": {"parent_or_carer": False},
    "clients": {"date_of_birth": dt.date(1990, 6, 2)},
}


def test_the_data_digest_changes_when_one_row_of_any_input_table_changes() -> None:
    from recoverypbr.outcomes.inputs import TABLE_NAMES

    assert set(FINGERPRINTED) == set(CHANGED) == set(TABLE_NAMES), "every input table is covered"
    as_of = dt.date(2013, 3, 31)

    def digest(tables: dict[str, dict[str, Any]]) -> str:
        wh = case_warehouse({name: [row] for name, row in tables.items()})
        try:
            return data_sha256(wh, as_of)
        finally:
            wh.close()

    base = digest(FINGERPRINTED)
    for name, change in CHANGED.items():
        assert digest(FINGERPRINTED | {name: FINGERPRINTED[name] | change}) != base, name


def test_adjustments_in_last_years_statements_are_not_shown_in_this_years_year_to_date() -> None:
    # C1's no_rep (GBP 1,000) matures on 2013-05-15 and is paid in 2013-Q2, approved. A presentation on 2013-03-01
    # loaded late reverses it in 2013-Q3, also in year one, approved with the rest of year one. Year two's first
    # statement (2014-Q2) has nothing of its own: its year to date shows no adjustment to earlier years, because
    # the -1,000.00 is in a year-one statement and counts there.
    wh = case_warehouse({"episodes": [_episode("1", "P1", dt.date(2012, 5, 15))]})
    try:
        _approve(wh, TWO_YEARS, "2013-Q2")
        _late_presentation(wh, "C1", dt.date(2013, 3, 1))
        for label in ("2013-Q3", "2013-Q4", "2014-Q1"):
            _approve(wh, TWO_YEARS, label)
        p1 = next(s for s in make_statements(wh, TWO_YEARS, statement_period(TWO_YEARS, "2014-Q2"))
                  if s.provider_id == "P1")
        ytd = p1.document()["year_to_date"]
        assert (ytd["year"], ytd["paid_to_date"], ytd["adjustments_to_earlier_years"]) == ("year 2", "0.00", "0.00")
        q3 = next(s for s in make_statements(wh, TWO_YEARS, statement_period(TWO_YEARS, "2013-Q3"))
                  if s.provider_id == "P1")
        assert [(x.kind, x.amount_pence) for x in q3.lines] == [("adjustment", -100_000)]
    finally:
        wh.close()


def test_an_adjustment_to_a_one_day_first_period_counts_in_its_year() -> None:
    # Years start on 30 April, paid monthly: the first period is the one day 2013-04-30 (April clipped), which ends
    # on year one's first day and belongs to year one. C1's no_rep (GBP 1,000) matures that day and is approved; a
    # late presentation reverses it in 2013-05. That -1,000.00 adjusts year one, so 2013-05's year to date shows
    # it among this year's adjustments, not among earlier years'.
    contract = Contract.model_validate(BASE_CONTRACT | {
        "effective_from": dt.date(2013, 4, 30), "payment_schedule": {"frequency": "monthly"},
        "years": [{"start": dt.date(2013, 4, 30), "end": dt.date(2014, 4, 29)}], "outcomes": NO_REP,
    })
    wh = case_warehouse({"episodes": [_episode("1", "P1", dt.date(2012, 4, 30))]})
    try:
        _approve(wh, contract, "2013-04")
        _late_presentation(wh, "C1", dt.date(2013, 1, 10))
        may = next(s for s in make_statements(wh, contract, statement_period(contract, "2013-05"))
                   if s.provider_id == "P1")
        ytd = may.document()["year_to_date"]
        assert (ytd["adjustments_to_this_year"], ytd["adjustments_to_earlier_years"]) == ("-1000.00", "0.00")
    finally:
        wh.close()


def test_each_approved_period_counts_only_the_adjustments_made_to_it() -> None:
    # C1's no_rep (GBP 1,000) is paid in 2013-Q2 and C2's in 2013-Q3; both are approved. A late presentation reverses
    # C1: 2013-Q4 adjusts 2013-Q2 by -1,000.00 and is approved. Another reverses C2: 2014-Q1 adjusts 2013-Q3 by
    # -1,000.00, and nothing else: 2013-Q4's adjustment belongs to 2013-Q2 only, so it is not paid again for 2013-Q3.
    wh = case_warehouse({"episodes": [_episode("1", "P1", dt.date(2012, 5, 15)),
                                      _episode("2", "P1", dt.date(2012, 8, 15))]})
    try:
        _approve(wh, ONE_YEAR, "2013-Q2")
        _approve(wh, ONE_YEAR, "2013-Q3")
        _late_presentation(wh, "C1", dt.date(2013, 3, 1))
        _approve(wh, ONE_YEAR, "2013-Q4")
        _late_presentation(wh, "C2", dt.date(2013, 6, 1))
        q1 = next(s for s in make_statements(wh, ONE_YEAR, statement_period(ONE_YEAR, "2014-Q1"))
                  if s.provider_id == "P1")
        assert [(x.kind, x.amount_pence, x.client_id, x.adjusts.split("/")[-1]) for x in q1.lines] == [
            ("adjustment", -100_000, "C2", "2013-Q3#1")
        ]
    finally:
        wh.close()


def test_another_providers_approval_changes_neither_the_fingerprint_nor_the_notes() -> None:
    # P1 and P2 each earn a completion in 2013-Q2 and 2013-Q3. Only P2's 2013-Q2 is approved. P1's 2013-Q3
    # statement is the same before and after that approval (its fingerprint covers P1's own approvals), and its
    # notes say only that P1's 2013-Q2 is open: P1 has no approved period to adjust.
    days = {"1": ("P1", dt.date(2013, 5, 1)), "2": ("P2", dt.date(2013, 5, 2)), "3": ("P1", dt.date(2013, 8, 1)),
            "4": ("P2", dt.date(2013, 8, 2))}
    wh = case_warehouse({"episodes": [_episode(i, p, d) for i, (p, d) in days.items()]})
    try:
        q2, q3 = (statement_period(ONE_YEAR, label) for label in ("2013-Q2", "2013-Q3"))
        before = next(s for s in make_statements(wh, ONE_YEAR, q3) if s.provider_id == "P1")
        approve_statements(wh, make_statements(wh, ONE_YEAR, q2, providers=["P2"]), "Finance", dt.datetime(2014, 1, 1))
        after = next(s for s in make_statements(wh, ONE_YEAR, q3) if s.provider_id == "P1")
        assert after.fingerprint == before.fingerprint
        assert after.notes == ("Earlier periods not yet approved for this provider: 2013-Q2.",)
    finally:
        wh.close()


def test_a_period_partly_approved_on_later_data_can_still_be_made_on_earlier_data() -> None:
    # P2's 2013-Q2 is approved on data as of 2013-09-30. Only earlier periods' approvals bind the as-of date (their
    # re-pricing must not reverse what later data justified), so 2013-Q2 can still be made as of 2013-06-30: P2's
    # statement is the approved one, as stored, and P1's a draft on the earlier data.
    episodes = [_episode("1", "P1", dt.date(2013, 5, 1)), _episode("2", "P2", dt.date(2013, 5, 2))]
    wh = case_warehouse({"episodes": episodes})
    try:
        q2 = statement_period(ONE_YEAR, "2013-Q2")
        later = make_statements(wh, ONE_YEAR, q2, as_of=dt.date(2013, 9, 30), providers=["P2"])
        approve_statements(wh, later, "Finance", dt.datetime(2014, 1, 1))
        made = {s.provider_id: s for s in make_statements(wh, ONE_YEAR, q2, as_of=dt.date(2013, 6, 30))}
        assert (made["P2"].status, made["P2"].as_of) == ("approved", dt.date(2013, 9, 30))
        assert made["P1"].as_of == dt.date(2013, 6, 30) and made["P1"].total_pence == 25_000
    finally:
        wh.close()


def test_reliable_changes_share_of_its_domains_money_is_reported_on_what_was_earned() -> None:
    # By hand: reliable change earns 3 x £100 = £300; abstinence £400 and a completion £500 (the same domain) bring
    # the domain to £1,200: reliable change took 25% (over the 20% allowed). Hepatitis B (£60, health and wellbeing),
    # a cap cut and a fee are not counted.
    contract = Contract.model_validate(BASE_CONTRACT | {"outcomes": {
        "reliable_change": {"type": "reliable_change", "tariffs": {"all": "100"}},
        "abstinence": {"type": "abstinence", "tariffs": {"all": "400"}},
        "completion": {"type": "successful_completion", "tariffs": {"all": "500"}},
        "hepatitis_b": {"type": "hepatitis_b_course", "tariffs": {"all": "60"}},
    }})
    day = dt.date(2012, 5, 1)

    def line(kind: str, outcome: str | None, pence: int) -> PaymentLine:
        return PaymentLine(kind=kind, provider_id="P1", reference="x", amount_pence=pence, payable_on=day,
                           outcome_id=outcome)

    lines = [*(line("outcome", "reliable_change", 10_000) for _ in range(3)), line("outcome", "abstinence", 40_000),
             line("outcome", "completion", 50_000), line("outcome", "hepatitis_b", 6_000),
             line("cap", "abstinence", -5_000), line("attachment_fee", None, 5_000)]
    found = change_share(lines, contract)
    assert found is not None and (found.reliable_change_pence, found.domain_pence) == (30_000, 120_000)
    assert found.share == Decimal("0.25") and found.over
    without = Contract.model_validate(BASE_CONTRACT | {"outcomes": {
        "abstinence": {"type": "abstinence", "tariffs": {"all": "400"}}}})
    assert change_share(lines, without) is None


def test_the_engines_hex_cast_and_the_portable_digit_by_digit_digest_agree() -> None:
    # DuckDB reads the MD5's hex parts with its own cast (Warehouse.casts_hex); PostgreSQL digit by digit. Over
    # thousands of rows (every hex digit in every place) both give the same sums, so the same data digest.
    import ibis

    from recoverypbr.payments.fingerprint import table_digest

    wh = Warehouse(":memory:")
    try:
        rows = ibis.memtable({"n": list(range(5000)), "x": [f"row {i}" for i in range(5000)]})
        native, portable = (wh.to_arrow(table_digest(rows, casts_hex=flag)).to_pylist()[0] for flag in (True, False))
        assert native == portable
        assert native["rows"] == 5000 and all(native[f"part{i}"] > 0 for i in range(4))
    finally:
        wh.close()
