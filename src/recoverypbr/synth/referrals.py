"""Referrals that never start: closed before a start (declined, no appropriate treatment, an inappropriate
referral) or still waiting on the extract date.

They come from their own random stream and are appended after a chunk's episodes with their own ids, so every
other row of an area is the same with or without them. Each has an assessment dated on or before the referral,
which gives its complexity group; complex clients' referrals start less often (params.NOT_STARTED_SHARE).
"""

from __future__ import annotations

import numpy as np

from recoverypbr.synth import params as p
from recoverypbr.synth.assessments import make_assessments
from recoverypbr.synth.journeys import EXTRACT, REASONS
from recoverypbr.synth.population import PROFILE_GROUP, group_values
from recoverypbr.synth.sampling import NO_DATE, Frame, capped_wait, choose, concat, day_number, take, uniform_days

#: Days from birth to the 18th birthday, at most (a referral is of an adult).
_ADULT_DAYS = int(np.ceil(18 * 365.25)) + 1
#: A referral is made at least this long after the client's previous discharge.
_AFTER_DISCHARGE_DAYS = 14
#: Only clients whose last episode ended this long before the extract can be waiting on it.
_WAITING_AFTER_DISCHARGE_DAYS = 120
_REASON_CODES = np.array([REASONS.index(reason) for reason, _ in p.NOT_STARTED_REASONS])
_SHARE = np.array(p.NOT_STARTED_SHARE)
#: Chance that a placeable candidate is kept, so that about NOT_STARTED_SHARE of all referrals never start:
#: one candidate per episode gives share / (1 - share) of the episodes, scaled up for the candidates that
#: cannot be placed (about a tenth: too close to the previous discharge or to the window's start).
_KEEP = np.minimum(_SHARE / (1.0 - _SHARE) / 0.9, 1.0)


def make_referrals(rng: np.random.Generator, episodes: Frame, clients: Frame) -> tuple[Frame, Frame]:
    """Referrals that never started and their assessments (same order, sorted by client and referral).

    `episodes` must be sorted by client and round. Every episode may be preceded by a referral that did not
    start, made 30-240 days before its own referral and after the client's previous discharge, triaged and
    closed before the episode's referral. Clients whose last episode ended long before the extract may be
    referred again in its last weeks and be waiting still (no discharge; half of them triaged).
    """
    client, n = episodes["client"], len(episodes["client"])
    first = np.r_[True, client[1:] != client[:-1]] if n else np.zeros(0, bool)
    last = np.r_[client[1:] != client[:-1], True] if n else np.zeros(0, bool)
    previous = np.r_[NO_DATE, episodes["discharge"][:-1]] if n else np.zeros(0, np.int64)
    floor = np.where(first, day_number(p.WINDOW_START), previous + _AFTER_DISCHARGE_DAYS)
    floor = np.maximum(floor, clients["date_of_birth"][client] + _ADULT_DAYS)
    referral = episodes["referral"] - uniform_days(rng, *p.NOT_STARTED_LEAD_DAYS, n)
    triage = referral + capped_wait(rng, *p.TRIAGE_WAIT, n)
    close = triage + uniform_days(rng, *p.NOT_STARTED_CLOSE_DAYS, n)
    placed = (referral >= floor) & (close < episodes["referral"])
    before = {"client": client, "referral": referral, "triage": triage, "discharge": close,
              "reason": _REASON_CODES[choose(rng, [w for _, w in p.NOT_STARTED_REASONS], n)],
              "round": episodes["round"], "cj_referral": episodes["cj_referral"], "candidate": placed}

    ended = episodes["discharge"] < EXTRACT - _WAITING_AFTER_DISCHARGE_DAYS
    waits = last & (episodes["reason"] >= 0) & (episodes["reason"] != REASONS.index("died")) & ended
    waits &= rng.random(n) < p.STILL_WAITING_SHARE
    w_referral = EXTRACT - uniform_days(rng, 0, p.STILL_WAITING_DAYS, n)
    w_triage = w_referral + capped_wait(rng, *p.TRIAGE_WAIT, n)
    w_triage = np.where((rng.random(n) < 0.5) & (w_triage <= EXTRACT), w_triage, NO_DATE)
    cj_share = group_values("cj_referral_share")[PROFILE_GROUP[clients["profile"][client]]]
    waiting = {"client": client, "referral": w_referral, "triage": w_triage, "discharge": np.full(n, NO_DATE),
               "reason": np.full(n, -1), "round": episodes["round"] + 1, "cj_referral": rng.random(n) < cj_share,
               "candidate": waits}
    candidates = concat([take(before, placed), take(waiting, waits)])
    m = len(candidates["client"])
    # assessed on or before the referral: make_assessments dates it up to ten days before its "start"
    assessment = make_assessments(rng, {**candidates, "start": candidates["referral"],
                                        "triage": candidates["referral"] - p.ASSESSMENT_LEAD[1]}, clients)
    kept = (rng.random(m) < _KEEP[assessment["complexity"]]) | (candidates["reason"] < 0)
    candidates["provider"] = (rng.random(m) >= p.PRIME_EPISODE_SHARE).astype(np.int64)
    candidates["start"] = np.full(m, NO_DATE)
    order = np.flatnonzero(kept)
    order = order[np.lexsort((candidates["referral"][order], candidates["client"][order]))]
    del candidates["candidate"]
    return take(candidates, order), take(assessment, order)
