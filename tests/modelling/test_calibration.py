"""Calibration (issue 12's acceptance): on synthetic areas with known generator rates, the baseline's 95% intervals
hold the true rates about 95% of the time.

The generator is a few lines of NumPy so that its parameters are exact: each client has one assessment (injecting
never / previous / current, hence group low / medium / high by the contract's points) and one episode started in
the first nine months of the window and discharged 1 to 90 days later, so every outcome is decided by the
window's end and the baseline has no reason to differ from the truth but chance. Per group, the discharge is a
successful completion with probability COMPLETION[g], a drop-out with probability DROPPED_OUT[g], else a transfer
(both local `discharge_in` outcomes); the exit TOP, on the discharge day, shows no opiate use in the last 28
days (abstinence) with probability ABSTINENT[g], independently.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from recoverypbr.contract.model import Contract
from recoverypbr.modelling.baseline import make_baseline
from recoverypbr.modelling.baseline_file import Baseline
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse

GROUPS = ("low", "medium", "high")
INJECTING = ("never", "previous", "current")
SHARE = (0.40, 0.35, 0.25)
COMPLETION = {"low": 0.55, "medium": 0.40, "high": 0.25}
DROPPED_OUT = {"low": 0.20, "medium": 0.30, "high": 0.40}
TRANSFERRED = {g: round(1 - COMPLETION[g] - DROPPED_OUT[g], 2) for g in GROUPS}
ABSTINENT = {"low": 0.35, "medium": 0.25, "high": 0.15}
TRUE = {"completion": COMPLETION, "dropped_out": DROPPED_OUT, "transferred": TRANSFERRED, "abstinent": ABSTINENT}
CLIENTS = 1200
#: 4 seeds x 4 outcomes x 3 groups = 48 cells.
SEEDS = range(4)
FROM, TO = date(2010, 4, 1), date(2011, 3, 31)

CONTRACT = Contract.model_validate({
    **BASE_CONTRACT,
    "complexity": {
        "groups": {"low": "never injected", "medium": "injected before", "high": "injecting"},
        "points": {
            "criteria": {
                "current": {"field": "injecting_status", "equals": "current", "points": 2},
                "previous": {"field": "injecting_status", "equals": "previous", "points": 1},
            },
            "bands": {"low": 0, "medium": 1, "high": 2},
        },
    },
    "outcomes": {
        "completion": {"type": "successful_completion"},
        "dropped_out": {"type": "discharge_in", "discharge_reasons": ["dropped_out"]},
        "transferred": {"type": "discharge_in", "discharge_reasons": ["transferred_community"]},
        "abstinent": {"type": "abstinence", "stages": ["exit"]},
    },
})


def synthetic_area(seed: int) -> dict[str, list[dict[str, Any]]]:
    """The canonical tables of one area drawn with the generator's rates (vectorised; rows built at the end)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(len(GROUPS), size=CLIENTS, p=SHARE)
    start = rng.integers(0, 270, size=CLIENTS)
    stay = rng.integers(1, 91, size=CLIENTS)
    u = rng.random(CLIENTS)
    completion = np.array([COMPLETION[g] for g in GROUPS])[group]
    dropped = np.array([DROPPED_OUT[g] for g in GROUPS])[group]
    reason = np.where(u < completion, "completed_drug_free",
                      np.where(u < completion + dropped, "dropped_out", "transferred_community"))
    abstinent = rng.random(CLIENTS) < np.array([ABSTINENT[g] for g in GROUPS])[group]
    opiate_days = np.where(abstinent, 0, rng.integers(1, 29, size=CLIENTS))
    episodes, assessments, tops = [], [], []
    for i in range(CLIENTS):
        began = FROM + timedelta(days=int(start[i]))
        left = began + timedelta(days=int(stay[i]))
        episodes.append({"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": "P1", "start_date": began,
                         "discharge_date": left, "discharge_reason": str(reason[i]), "substances": "opiates"})
        assessments.append({"assessment_id": f"A{i}", "client_id": f"C{i}", "assessed_on": began - timedelta(days=10),
                            "primary_substance": "opiates", "injecting_status": INJECTING[group[i]]})
        tops.append({"top_id": f"T{i}", "client_id": f"C{i}", "episode_id": f"E{i}", "top_date": left,
                     "stage": "exit", "opiate_days": int(opiate_days[i])})
    return {"episodes": episodes, "assessments": assessments, "top": tops}


def baseline_of(seed: int) -> Baseline:
    with case_warehouse(synthetic_area(seed)) as wh:
        return make_baseline(wh, CONTRACT, FROM, TO, "calibration")


def test_the_intervals_hold_the_generators_rates_about_95_percent_of_the_time() -> None:
    intervals = []
    for seed in SEEDS:
        baseline = baseline_of(seed)
        for outcome, rates in TRUE.items():
            cells = [baseline.cell(outcome, g) for g in GROUPS]
            assert sum(c.eligible for c in cells if c) == CLIENTS, "every episode is eligible for every outcome"
            for group, cell in zip(GROUPS, cells, strict=True):
                assert cell is not None and not cell.small
                intervals.append((Decimal(cell.low), Decimal(str(rates[group])), Decimal(cell.high)))
    held = sum(low <= truth <= high for low, truth, high in intervals)
    assert len(intervals) >= 40
    assert 0.85 <= held / len(intervals) <= 1.0, f"{held} of {len(intervals)} intervals hold the true rate"
    # The check has power: rates 6 points off the truth (a bias of about two standard errors) fail it.
    shifted = sum(low <= truth + Decimal("0.06") <= high for low, truth, high in intervals)
    assert shifted / len(intervals) < 0.85, f"{shifted} of {len(intervals)} hold rates 6 points too high"
