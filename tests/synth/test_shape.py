"""Areas shaped for a contract (`synth --contract`): the contract's providers and service lines, its local events
and offending cohorts, the same bytes for the same seed, and the shaping leaving the calibrated journeys alone."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from recoverypbr.contract import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.synth import generate_area
from recoverypbr.synth.shape import OUTSIDE_PROVIDER, clients_for, shape_for

ROOT = Path(__file__).parents[2]


def _contract(name: str) -> Contract:
    return load_contract(ROOT / "contracts" / f"{name}.yaml")


def test_an_area_for_oxfordshire_has_its_providers_lines_and_moves(tmp_path: Path) -> None:
    contract = _contract("oxfordshire")
    generate_area(1500, 4, tmp_path, "parquet", contract=contract)
    providers = pq.read_table(tmp_path / "providers.parquet").to_pylist()
    assert [(p["provider_id"], p["role"]) for p in providers] == [
        ("OX_HARM", "prime"), ("OX_RECOVERY", "prime"), ("AQUARIUS", "lasars"), ("X01", "prime")]
    episodes = pq.read_table(tmp_path / "episodes.parquet").to_pylist()
    pairs = {(e["provider_id"], e["service_line"]) for e in episodes}
    assert pairs - {("X01", "harm minimisation"), ("X01", "recovery")} == {
        ("OX_HARM", "harm minimisation"), ("OX_RECOVERY", "recovery")}
    outside = sum(e["provider_id"] == "X01" for e in episodes) / len(episodes)
    assert 0.01 < outside < 0.03
    # Later episodes of a client are in recovery: moves from harm minimisation exist for the incentive.
    seen: dict[str, str] = {}
    moves = 0
    for e in episodes:
        if seen.get(e["client_id"]) == "harm minimisation" and e["service_line"] == "recovery":
            moves += 1
        seen[e["client_id"]] = e["service_line"]
    assert moves > 20
    assessors = {a["assessor_org"] for a in pq.read_table(tmp_path / "assessments.parquet").to_pylist()}
    assert assessors == {"AQUARIUS"}
    cohorts = {r["cohort_id"] for r in pq.read_table(tmp_path / "offending_cohort.parquet").to_pylist()}
    assert cohorts == {"OXON"}


def test_an_area_for_enfield_records_its_local_events_and_meets_its_offending_target(tmp_path: Path) -> None:
    contract = _contract("enfield")
    generate_area(1500, 4, tmp_path, "csv", contract=contract)
    events = pv.read_csv(tmp_path / "events.csv").to_pylist()
    episodes = pv.read_csv(tmp_path / "episodes.csv").num_rows
    for event_type in contract.local_event_types:
        share = sum(e["event_type"] == event_type for e in events) / episodes
        assert 0.25 < share < 0.35, event_type
    rows = pv.read_csv(tmp_path / "offending_cohort.csv").to_pylist()
    assert {r["cohort_id"] for r in rows} == {"ENF_IOM_COHORT"}
    rate = {flag: sum(r["offences"] for r in rows if r["is_baseline"] == flag)
            / sum(r["people"] for r in rows if r["is_baseline"] == flag) for flag in ("Y", "N")}
    assert rate["N"] < rate["Y"] * (1 - 0.15)


def test_shaping_keeps_the_journeys_and_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    contract = _contract("kent")
    for run in ("a", "b"):
        generate_area(800, 9, tmp_path / run, "csv", contract=contract)
    generate_area(800, 9, tmp_path / "plain", "csv")
    for name in ("episodes", "top", "events", "providers", "offending_cohort"):
        assert filecmp.cmp(tmp_path / "a" / f"{name}.csv", tmp_path / "b" / f"{name}.csv", shallow=False)
    shaped = pv.read_csv(tmp_path / "a" / "episodes.csv").drop_columns(["provider_id", "service_line"])
    plain = pv.read_csv(tmp_path / "plain" / "episodes.csv").drop_columns(["provider_id", "service_line"])
    assert shaped.equals(plain)
    assert filecmp.cmp(tmp_path / "a" / "top.csv", tmp_path / "plain" / "top.csv", shallow=False)


def test_marlshire_needs_no_shaping_and_volumes_follow_the_predictions() -> None:
    assert shape_for(_contract("marlshire")) is None
    assert clients_for(_contract("kent")) == 3000
    worcestershire = _contract("worcestershire")
    first = sum(next(iter(f.milestones.values())).predicted for f in worcestershire.funnels.values())
    clients = clients_for(worcestershire)
    # Starts a year = clients x 0.197; 85% of them agree a recovery plan; 2% are X01's.
    assert first == pytest.approx(clients * 0.197 * 0.85 * 0.98, rel=0.01)
    assert OUTSIDE_PROVIDER[0] not in worcestershire.providers
