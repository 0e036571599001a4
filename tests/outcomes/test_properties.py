"""Invariants of the outcome engine over random small areas (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoverypbr.contract.model import Contract
from recoverypbr.data import codes
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.outcomes.inputs import warehouse_inputs
from recoverypbr.outcomes.ledger import build_ledger, has_individual_offending, ledger, run_ledger, stored_ledger

AS_OF = dt.date(2013, 6, 30)
ORIGIN = dt.date(2012, 1, 1)
THRESHOLDS = {"opiates": 4, "crack": 3, "cocaine": 3, "amphetamines": 3, "cannabis": 4, "alcohol": 5, "other": 3}

CONTRACT = Contract.model_validate(
    {
        **BASE_CONTRACT,
        "outcomes": {
            "rc": {"type": "reliable_change", "thresholds": THRESHOLDS},
            "rc_jt": {"type": "reliable_change", "reliability": "0.8"},
            "abstinence": {"type": "abstinence"},
            "completion": {"type": "successful_completion"},
            "no_rep": {"type": "no_representation_12m"},
            "no_off_6": {"type": "no_offending_6m"},
            "no_off_12": {"type": "no_offending_12m"},
            "ceased": {"type": "ceased_injecting"},
            "housing": {"type": "improved_housing"},
            "hep_b": {"type": "hepatitis_b_course"},
            "qol": {"type": "quality_of_life", "threshold": 14},
            "both": {"type": "all_of", "outcomes": ["abstinence", "completion"]},
            "no_plan": {
                "type": "no_event_in_window",
                "event_types": ["hepb_dose_1"],
                "window_months": 3,
                "after": "start",
            },
        },
    }
)

days = st.integers(min_value=0, max_value=900)
top_days = st.one_of(st.none(), st.integers(min_value=0, max_value=28))


@st.composite
def areas(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """A few clients with episodes, TOPs, events, presentations and offences dated 2012-01-01 to 2014-06-19."""
    tables: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("episodes", "top", "events", "presentations", "offending_individual")
    }
    for c in range(draw(st.integers(1, 3))):
        client = f"C{c}"
        for e in range(draw(st.integers(1, 2))):
            episode = f"E{c}{e}"
            start = ORIGIN + dt.timedelta(draw(days))
            length = draw(st.one_of(st.none(), st.integers(0, 500)))
            tables["episodes"].append(
                {
                    "episode_id": episode,
                    "client_id": client,
                    "provider_id": draw(st.sampled_from(["P1", "P2"])),
                    "start_date": start,
                    "discharge_date": None if length is None else start + dt.timedelta(length),
                    "discharge_reason": None if length is None else draw(st.sampled_from(codes.DISCHARGE_REASONS)),
                    "substances": draw(st.sampled_from(["opiates", "opiates;crack", "alcohol", "cannabis"])),
                }
            )
            for t in range(draw(st.integers(0, 3))):
                tables["top"].append(
                    {
                        "top_id": f"T{c}{e}{t}",
                        "client_id": client,
                        "episode_id": episode,
                        "top_date": start + dt.timedelta(draw(st.integers(-20, 400))),
                        "stage": draw(st.sampled_from(["start", "review", "exit"])),
                        "opiate_days": draw(top_days),
                        "crack_days": draw(top_days),
                        "alcohol_days": draw(top_days),
                        "cannabis_days": draw(top_days),
                        "injecting_days": draw(top_days),
                        "quality_of_life": draw(st.one_of(st.none(), st.integers(0, 20))),
                        "acute_housing_problem": draw(st.one_of(st.none(), st.booleans())),
                    }
                )
        for kind in range(draw(st.integers(0, 2))):
            day = ORIGIN + dt.timedelta(draw(days))
            tables["events"].append(
                {"client_id": client, "event_date": day, "event_type": ["hepb_dose_1", "hepb_dose_3"][kind]}
            )
            tables["presentations"].append(
                {
                    "client_id": client,
                    "presented_on": day,
                    "setting": draw(st.sampled_from(codes.PRESENTATION_SETTINGS)),
                }
            )
            tables["offending_individual"].append({"client_id": client, "offence_date": day, "offences": 1})
    return tables


_SQL: dict[bool, str] = {}


def ledger_rows(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The ledger as of AS_OF. The expression only names the warehouse's tables, so its SQL is compiled once per
    shape (with or without individual offending data) and run on each example's warehouse."""
    with case_warehouse(tables) as wh:
        inputs = warehouse_inputs(wh, AS_OF)
        individual = has_individual_offending(wh, inputs)
        if individual not in _SQL:
            _SQL[individual] = ibis.to_sql(ledger(inputs, CONTRACT, individual), dialect=wh.dialect)
        rows: list[dict[str, Any]] = wh.raw.execute(_SQL[individual]).fetch_arrow_table().to_pylist()
        return rows


def after_as_of(tables: dict[str, list[dict[str, Any]]], shift: int) -> dict[str, list[dict[str, Any]]]:
    """The same area plus rows dated after the as-of date: later TOPs, events, presentations, offences, a new
    episode, and a discharge after the as-of date for each open episode."""
    later = AS_OF + dt.timedelta(shift)
    out = {k: [dict(r) for r in v] for k, v in tables.items()}
    for e in out["episodes"]:
        if e["discharge_date"] is None and e["start_date"] <= AS_OF:
            e["discharge_date"], e["discharge_reason"] = later, "completed_drug_free"
    clients = sorted({e["client_id"] for e in out["episodes"]})
    for i, client in enumerate(clients):
        episode = next(e["episode_id"] for e in out["episodes"] if e["client_id"] == client)
        out["episodes"].append(
            {
                "episode_id": f"LATE{i}",
                "client_id": client,
                "provider_id": "P1",
                "start_date": later,
                "substances": "opiates",
            }
        )
        out["top"].append(
            {
                "top_id": f"LATE{i}",
                "client_id": client,
                "episode_id": episode,
                "top_date": later,
                "stage": "review",
                "opiate_days": 0,
                "crack_days": 0,
                "alcohol_days": 0,
                "cannabis_days": 0,
                "injecting_days": 0,
                "quality_of_life": 20,
                "acute_housing_problem": False,
            }
        )
        out["events"].append({"client_id": client, "event_date": later, "event_type": "hepb_course_completed"})
        out["presentations"].append({"client_id": client, "presented_on": later, "setting": "treatment"})
        out["offending_individual"].append({"client_id": client, "offence_date": later, "offences": 2})
    return out


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(areas())
def test_no_outcome_is_achieved_before_its_episode_starts(tables: dict[str, list[dict[str, Any]]]) -> None:
    starts = {e["episode_id"]: e["start_date"] for e in tables["episodes"]}
    for row in ledger_rows(tables):
        if row["status"] == "achieved":
            assert row["achieved_on"] >= starts[row["episode_id"]], row


@SETTINGS
@given(areas(), st.integers(min_value=1, max_value=400))
def test_rows_dated_after_the_as_of_date_never_change_the_ledger(
    tables: dict[str, list[dict[str, Any]]], shift: int
) -> None:
    assert ledger_rows(after_as_of(tables, shift)) == ledger_rows(tables)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(areas())
def test_a_rebuilt_ledger_has_one_row_per_started_episode_and_outcome(tables: dict[str, list[dict[str, Any]]]) -> None:
    # Checked against the input rows, not against the engine: building twice stores one row for each episode started
    # on or before the as-of date and each contracted outcome, and nothing is achieved after the as-of date.
    with case_warehouse(tables) as wh:
        build_ledger(wh, CONTRACT, AS_OF - dt.timedelta(days=90))
        build_ledger(wh, CONTRACT, AS_OF)
        build_ledger(wh, CONTRACT, AS_OF)
        rows = wh.to_arrow(stored_ledger(wh, CONTRACT, AS_OF)).to_pylist()
        # Pay's reading of the one run stored for the date gives the same rows, in the same order, of the same types.
        run = run_ledger(wh, CONTRACT, AS_OF)
        assert wh.to_arrow(run).equals(wh.to_arrow(stored_ledger(wh, CONTRACT, AS_OF)))
        (name,) = {n for (n,) in wh.execute("SELECT table_name FROM outcome_runs WHERE as_of = ?", [AS_OF])}
        assert f'"{name}_ledger"' in wh.compile(run) and '"outcome_ledger"' not in wh.compile(run)
    started = {(e["client_id"], e["episode_id"]) for e in tables["episodes"] if e["start_date"] <= AS_OF}
    assert sorted((r["client_id"], r["episode_id"], r["outcome_id"]) for r in rows) == sorted(
        (client, episode, outcome) for client, episode in started for outcome in CONTRACT.outcomes
    )
    assert all(r["achieved_on"] <= AS_OF for r in rows if r["status"] == "achieved")
