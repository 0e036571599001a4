"""TOP items other than days of use: injecting, crime, health ratings, work, housing, alcohol units.

Each item has an episode-level value at the start TOP and one for every later TOP; clients who are
abstinent or improved at review ("responders") improve more. Flags are 1 (Y), 0 (N) or -1 (blank).
"""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.assessments import ACUTE, AT_RISK, CURRENT
from recoverypbr.synth.population import PRESENTING, PROFILE_GROUP, group_values
from recoverypbr.synth.sampling import Frame, days_between, uniform_days

OPIATE_CDF = np.cumsum(p.BASELINE_DAYS["opiates"].pmf())
PRESENTS_ALCOHOL = PRESENTING[:, codes.SUBSTANCES.index("alcohol")]
RATINGS = {"psychological_health": -0.5, "physical_health": 0.5, "quality_of_life": 0.0}


def other_values(rng: np.random.Generator, top: Frame, at_start: np.ndarray, responder: np.ndarray,
                 assessment: Frame, profile: np.ndarray) -> Frame:
    """Every non-substance TOP column for the rows of `top`."""
    group = PROFILE_GROUP[profile]
    staged = _Staged(top["episode"], at_start)
    values = _injecting(rng, staged, assessment["injecting"] == CURRENT)
    for column, share in p.CRIME_SHARES.items():
        values[column] = staged.pick(*_crime(rng, np.where(group == 0, share, share / 3), responder))
    for column, shift in RATINGS.items():
        start, later = _rating(rng, group_values("quality_of_life_mean")[group] + shift, responder)
        values[column] = np.clip(staged.pick(start, later) + uniform_days(rng, -1, 1, len(at_start)), 0, 20)
    values["paid_work_days"] = staged.pick(*_work(rng, group_values("employed_share")[group], responder))
    values["education_days"] = staged.pick(*_work(rng, np.full(len(group), 0.03), responder, days=(1, 10)))
    values.update(_housing(rng, staged, assessment["housing"]))
    values["alcohol_units"] = _alcohol_units(rng, top["alcohol_days"], profile[top["episode"]])
    return values


class _Staged:
    """Row values from episode-level values at the start TOP and at later TOPs."""

    def __init__(self, episode: np.ndarray, at_start: np.ndarray) -> None:
        self.episode = episode
        self.at_start = at_start

    def pick(self, start: np.ndarray, later: np.ndarray) -> np.ndarray:
        return np.asarray(np.where(self.at_start, start[self.episode], later[self.episode]))


def _injecting(rng: np.random.Generator, staged: _Staged, current: np.ndarray) -> Frame:
    n = len(current)
    start = np.where(current, days_between(rng, OPIATE_CDF, np.ones(n, int), np.full(n, 28)), 0)
    reduced = np.where(start > 0, np.maximum(np.round(start * rng.uniform(0.3, 1.0, n)), 1), 0).astype(np.int64)
    later = np.where(rng.random(n) < p.INJECTING_STOP_SHARE, 0, reduced)
    days = staged.pick(start, later)
    rows = len(days)
    share = np.where(staged.at_start, p.SHARING_SHARE[0], p.SHARING_SHARE[1])
    sharing = np.where(days > 0, (rng.random(rows) < share).astype(np.int64), -1)
    return {"injecting_days": days, "sharing": sharing}


def _crime(rng: np.random.Generator, share: np.ndarray, responder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(share)
    start = np.where(rng.random(n) < share, uniform_days(rng, 1, 20, n), 0)
    stops = rng.random(n) < np.where(responder, 0.6, 0.3)
    return start, np.where(stops, 0, start)


def _rating(rng: np.random.Generator, mean: np.ndarray, responder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = np.clip(np.round(rng.normal(mean, 3.5)), 0, 20).astype(np.int64)
    gain = rng.normal(np.where(responder, p.QUALITY_OF_LIFE_GAIN, 0.5), 2.5)
    return start, np.clip(np.round(start + gain), 0, 20).astype(np.int64)


def _work(rng: np.random.Generator, share: np.ndarray, responder: np.ndarray, days: tuple[int, int] = (12, 22)
          ) -> tuple[np.ndarray, np.ndarray]:
    n = len(share)
    start = np.where(rng.random(n) < share, uniform_days(rng, *days, n), 0)
    starts_work = rng.random(n) < np.where(responder, 0.12, 0.03)
    return start, np.where((start == 0) & starts_work, uniform_days(rng, *days, n), start)


def _housing(rng: np.random.Generator, staged: _Staged, need: np.ndarray) -> Frame:
    n = len(need)
    acute_share = np.select([need == ACUTE, need == AT_RISK], [0.85, 0.10], default=0.01)
    acute = rng.random(n) < acute_share
    acute_later = np.where(acute, rng.random(n) >= p.HOUSING_RESOLVED_SHARE, rng.random(n) < 0.02)
    risk = rng.random(n) < np.select([need == AT_RISK, need == ACUTE], [0.6, 0.2], default=0.03)
    risk_later = np.where(risk, rng.random(n) < 0.7, rng.random(n) < 0.02)
    return {
        "acute_housing_problem": staged.pick(acute, acute_later).astype(np.int64),
        "risk_of_eviction": staged.pick(risk, risk_later).astype(np.int64),
    }


def _alcohol_units(rng: np.random.Generator, days: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Units per drinking day (one decimal), blank (NaN) when no drinking days."""
    median = np.where(PRESENTS_ALCOHOL[profile], 16.0, 5.0)
    units = np.clip(np.round(median * np.exp(0.5 * rng.standard_normal(len(days))), 1), 0.5, 200.0)
    return np.where(days > 0, units, np.nan)
