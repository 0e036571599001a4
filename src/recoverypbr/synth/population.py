"""Clients of the area: substance profile, sex, age, local authority and first referral (vectorised)."""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.sampling import Frame, allocate, choose, choose_by_row, day_number

#: Lookups by profile index (PROFILES order) and group index (GROUPS order).
PROFILE_GROUP = np.array([p.GROUPS.index(prof.group) for prof in p.PROFILES])
PRESENTING = np.array([[s in prof.substances for s in codes.SUBSTANCES] for prof in p.PROFILES])
PROFILE_SHARES = np.array([prof.share for prof in p.PROFILES])
GROUP = [p.GROUP_PARAMS[g] for g in p.GROUPS]


def group_values(field: str) -> np.ndarray:
    """One GroupParams field as an array by group index."""
    return np.array([getattr(g, field) for g in GROUP], dtype=float)


def _sex_table() -> np.ndarray:
    rest = 1.0 - p.SEX_OTHER_SHARE - p.SEX_NOT_KNOWN_SHARE
    return np.array([[rest * g.male_share, rest * (1 - g.male_share), p.SEX_OTHER_SHARE, p.SEX_NOT_KNOWN_SHARE]
                     for g in GROUP])


def make_clients(rng: np.random.Generator, first_index: int, n: int) -> Frame:
    """`n` clients numbered from `first_index` (0-based, global), each with a first referral in the window."""
    # balanced, so that the published substance mix holds exactly in every chunk
    profile = allocate(rng, np.zeros(n, np.int64), PROFILE_SHARES[None, :], np.zeros(n, np.int64))
    group = PROFILE_GROUP[profile]
    first = day_number(p.WINDOW_START)
    last = day_number(p.EXTRACT_DATE) - p.LAST_FIRST_REFERRAL_MARGIN_DAYS
    age = group_values("age_min")[group] + rng.gamma(group_values("age_shape")[group], group_values("age_scale")[group])
    return {
        "client": np.arange(first_index, first_index + n, dtype=np.int64),
        "profile": profile,
        "sex": choose_by_row(rng, _sex_table(), group),
        "local_authority": choose(rng, [share for _, share in p.LOCAL_AUTHORITIES], n),
        "first_referral": rng.integers(first, last + 1, n),
        "age_at_start": np.clip(age, 18.05, 70.9),
        "years_of_use": rng.gamma(2.0, group_values("years_of_use_mean")[group] / 2.0),
        "previous_treatment": rng.poisson(group_values("previous_treatment_mean")[group]),
        "u_injecting": rng.random(n),  # one uniform per client keeps injecting status stable across episodes
        "parent_or_carer": rng.random(n) < p.PARENT_OR_CARER_SHARE,
    }


def add_birth_dates(clients: Frame, first_start: np.ndarray) -> None:
    """Date of birth from the age at the first episode's start."""
    clients["date_of_birth"] = first_start - np.ceil(clients["age_at_start"] * 365.25).astype(np.int64)
    clients["first_start"] = first_start
