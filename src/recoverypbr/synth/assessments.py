"""LASARS assessments, one per episode, with the complexity group the assessor recorded."""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.population import GROUP, PROFILE_GROUP, group_values
from recoverypbr.synth.sampling import Frame, capped_wait, choose_by_row

INJECTING_TABLE = np.array([prof.injecting for prof in p.PROFILES])
CURRENT, PREVIOUS = codes.INJECTING_STATUSES.index("current"), codes.INJECTING_STATUSES.index("previous")
HOUSING_TABLE = np.array([g.housing for g in GROUP])
AT_RISK, ACUTE = codes.HOUSING_NEEDS.index("at_risk"), codes.HOUSING_NEEDS.index("acute")
PRIMARY = np.array([codes.SUBSTANCES.index(prof.primary) for prof in p.PROFILES])
WITH_ALCOHOL = np.array(["alcohol" in prof.substances and len(prof.substances) > 1 for prof in p.PROFILES])
OPIATE_AND_CRACK = np.array([{"opiates", "crack"} <= set(prof.substances) for prof in p.PROFILES])


def make_assessments(rng: np.random.Generator, episode: Frame, clients: Frame) -> Frame:
    """Assessment fields for each episode (same order), including the recorded complexity group."""
    client = episode["client"]
    profile = clients["profile"][client]
    group = PROFILE_GROUP[profile]
    n = len(client)
    lead = 1 + capped_wait(rng, *p.ASSESSMENT_LEAD, n)
    primary = np.where(WITH_ALCOHOL[profile] & (rng.random(n) < p.ALCOHOL_PRIMARY_SHARE),
                       codes.SUBSTANCES.index("alcohol"), PRIMARY[profile])
    offending = rng.random(n) < np.where(episode["cj_referral"], 0.9, group_values("offending_share")[group])
    offences = np.where(offending, rng.geometric(1.0 / group_values("offences_mean")[group]), 0)
    assessment = {
        "assessed_on": np.maximum(episode["start"] - lead, episode["triage"]),
        "independent": rng.random(n) < p.ASSESSOR_INDEPENDENT_SHARE,
        "primary": primary,
        "opiate_and_crack": OPIATE_AND_CRACK[profile],
        "injecting": choose_by_row(rng, INJECTING_TABLE, profile, uniforms=clients["u_injecting"][client]),
        "years_of_use": _years_of_use(episode, clients),
        "previous_treatment": clients["previous_treatment"][client] + episode["round"] - 1,
        "housing": choose_by_row(rng, HOUSING_TABLE, group),
        "mental_health": rng.random(n) < group_values("mental_health_share")[group],
        "offences": offences,
        "cj_referral": episode["cj_referral"],
        "parent_or_carer": clients["parent_or_carer"][client],
    }
    assessment["complexity"] = _recorded_group(rng, complexity_points(assessment))
    return assessment


def _years_of_use(episode: Frame, clients: Frame) -> np.ndarray:
    client = episode["client"]
    since_first = (episode["start"] - clients["first_start"][client]) / 365.25
    age = (episode["start"] - clients["date_of_birth"][client]) / 365.25
    years = np.minimum(clients["years_of_use"][client] + since_first, age - 12)
    return np.maximum(np.floor(years), 0).astype(np.int64)


def complexity_points(a: Frame) -> np.ndarray:
    """The illustrative points score of params.COMPLEXITY_POINTS."""
    points = p.COMPLEXITY_POINTS
    parts = {
        "injecting_current": a["injecting"] == CURRENT,
        "injecting_previous": a["injecting"] == PREVIOUS,
        "years_of_use_10": a["years_of_use"] >= 10,
        "years_of_use_20": a["years_of_use"] >= 20,
        "previous_treatment_1": a["previous_treatment"] >= 1,
        "previous_treatment_3": a["previous_treatment"] >= 3,
        "housing_at_risk": a["housing"] == AT_RISK,
        "housing_acute": a["housing"] == ACUTE,
        "mental_health_need": a["mental_health"],
        "offending": a["offences"] >= 1,
        "offences_10": a["offences"] >= 10,
        "criminal_justice_referral": a["cj_referral"],
        "opiate_and_crack": a["opiate_and_crack"],
        "parent_or_carer": a["parent_or_carer"],
    }
    return sum((points[name] * flag.astype(np.int64) for name, flag in parts.items()),
               np.zeros(len(a["injecting"]), dtype=np.int64))


def _recorded_group(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """The group the points give, recorded one group off for a small share (assessor disagreement)."""
    computed = np.searchsorted(np.array(p.COMPLEXITY_CUTS), points, side="right")
    n = len(points)
    differs = rng.random(n) < p.ASSESSOR_DISAGREEMENT
    step = np.where(rng.random(n) < p.DISAGREEMENT_UP_SHARE, 1, -1)
    step = np.where(computed == 0, 1, np.where(computed == len(p.COMPLEXITY_GROUPS) - 1, -1, step))
    return np.where(differs, computed + step, computed)
