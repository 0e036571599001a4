"""Treatment Outcomes Profile rows: when they are taken, and what they say (vectorised over all episodes).

Each episode gets a review class (abstinent, improved, unchanged, deteriorated) balanced within its
substance profile among episodes with a start TOP and a 6-month review, so that the published shares hold.
Days of use at the start and first review follow from the class and the reliable-change threshold of each
presenting substance; later TOPs drift from the first review, exits follow the exit reason.
"""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.journeys import EXTRACT, REASONS
from recoverypbr.synth.population import PRESENTING, PROFILE_GROUP, group_values
from recoverypbr.synth.sampling import Frame, allocate, capped_wait, concat, days_between, take, uniform_days
from recoverypbr.synth.top_values import other_values

START, REVIEW, EXIT, POST_EXIT = (codes.TOP_STAGES.index(s) for s in ("start", "review", "exit", "post_exit"))
ABSTINENT, IMPROVED, UNCHANGED, DETERIORATED = range(len(p.REVIEW_CLASSES))
REVIEW_KEYS = tuple(p.REVIEW_OUTCOMES)
REVIEW_KEY = np.array([REVIEW_KEYS.index(prof.review) for prof in p.PROFILES])
REVIEW_TABLE = np.array([p.REVIEW_OUTCOMES[k] for k in REVIEW_KEYS])
DAY_COLUMNS = {"alcohol": "alcohol_days", "opiates": "opiate_days", "crack": "crack_days",
               "cocaine": "cocaine_days", "amphetamines": "amphetamine_days", "cannabis": "cannabis_days",
               "other": "other_drug_days"}
CDF = {s: np.cumsum(p.BASELINE_DAYS[s].pmf()) for s in codes.SUBSTANCES}
DRUG_FREE, OCCASIONAL = REASONS.index("completed_drug_free"), REASONS.index("completed_occasional_user")
PLANNED = np.array([r in p.PLANNED_EXITS for r in REASONS])
COMPLETED = np.array([r in codes.COMPLETION_REASONS for r in REASONS])
#: What a TOP row's days of use follow: the start, the first review, a later drift, or a completion.
K_START, K_FIRST, K_LATER, K_DRUG_FREE, K_OCCASIONAL, K_AFTER_COMPLETION = range(6)


def make_tops(rng: np.random.Generator, episode: Frame, assessment: Frame, profile: np.ndarray) -> Frame:
    """TOP rows sorted by episode and date: `episode` (row of the episode frame), `stage`, `date` and values."""
    top = _top_rows(rng, episode)
    eligible = _six_month_reviewed(top, episode["start"])
    strata = profile * 2 + eligible  # by profile, so that opiates only and crack only hold on their own
    review_class = allocate(rng, strata, REVIEW_TABLE, REVIEW_KEY[profile])
    kind = _row_kind(top, episode["reason"])
    for substance in codes.SUBSTANCES:
        top[DAY_COLUMNS[substance]] = _substance_days(rng, substance, top, kind, review_class, profile)
    top.update(other_values(rng, top, kind == K_START, review_class <= IMPROVED, assessment, profile))
    drug_free = kind == K_DRUG_FREE
    top["injecting_days"] = np.where(drug_free, 0, top["injecting_days"])
    top["sharing"] = np.where(drug_free, -1, top["sharing"])
    return top


def _top_rows(rng: np.random.Generator, episode: Frame) -> Frame:
    start, discharge = episode["start"], episode["discharge"]
    n = len(start)
    closed = episode["reason"] >= 0
    end = np.where(closed, discharge, EXTRACT)
    first = np.minimum(start + capped_wait(rng, 0.5, 7, n), end)
    has_start = rng.random(n) < p.START_TOP_SHARE
    rows = [_rows(np.flatnonzero(has_start), START, first[has_start])]
    rows.append(_review_rows(rng, start, np.where(closed, discharge - p.REVIEW_MARGIN_DAYS, EXTRACT)))
    reason = np.maximum(episode["reason"], 0)
    exit_share = np.where(PLANNED[reason], p.EXIT_TOP_SHARE["planned"], p.EXIT_TOP_SHARE["unplanned"])
    has_exit = closed & (episode["reason"] != REASONS.index("died")) & (rng.random(n) < exit_share)
    exit_date = np.maximum(discharge - uniform_days(rng, 0, 5, n), first)
    rows.append(_rows(np.flatnonzero(has_exit), EXIT, exit_date[has_exit]))
    post_share = np.where(COMPLETED[reason], p.POST_EXIT_TOP_SHARE["completed"], p.POST_EXIT_TOP_SHARE["other"])
    post_date = discharge + uniform_days(rng, *p.POST_EXIT_DAYS, n)
    has_post = has_exit & (rng.random(n) < post_share) & (post_date <= EXTRACT)
    rows.append(_rows(np.flatnonzero(has_post), POST_EXIT, post_date[has_post]))
    top = concat(rows)
    return take(top, np.lexsort((top["stage"], top["date"], top["episode"])))


def _review_rows(rng: np.random.Generator, start: np.ndarray, limit: np.ndarray) -> Frame:
    """Reviews about every six months while in treatment, a few of them not recorded."""
    count = np.maximum((limit - start + p.REVIEW_JITTER_DAYS) // p.REVIEW_INTERVAL_DAYS, 0)
    episode = np.repeat(np.arange(len(start)), count)
    number = np.arange(len(episode)) - np.repeat(np.cumsum(count) - count, count) + 1
    jitter = uniform_days(rng, -p.REVIEW_JITTER_DAYS, p.REVIEW_JITTER_DAYS, len(episode))
    date = start[episode] + p.REVIEW_INTERVAL_DAYS * number + jitter
    keep = (date <= limit[episode]) & (rng.random(len(episode)) < p.REVIEW_RECORDED_SHARE)
    return take(_rows(episode, REVIEW, date, number), keep)


def _rows(episode: np.ndarray, stage: int, date: np.ndarray, number: np.ndarray | None = None) -> Frame:
    return {
        "episode": episode,
        "stage": np.full(len(episode), stage),
        "date": date,
        "review_number": np.zeros(len(episode), dtype=np.int64) if number is None else number,
    }


def _six_month_reviewed(top: Frame, start: np.ndarray) -> np.ndarray:
    """Episodes with a start TOP and a first review inside the 6-month window: the calibration's denominator."""
    episode = top["episode"]
    has_start = np.full(len(start), False)
    has_start[episode[top["stage"] == START]] = True
    low, high = p.SIX_MONTH_REVIEW_WINDOW
    after = top["date"] - start[episode]
    in_window = (top["review_number"] == 1) & (after >= low) & (after <= high)
    reviewed = np.full(len(start), False)
    reviewed[episode[in_window]] = True
    return np.asarray(has_start & reviewed)


def _row_kind(top: Frame, reason: np.ndarray) -> np.ndarray:
    stage = top["stage"]
    reason = reason[top["episode"]]
    kind = np.full(len(stage), K_LATER)
    kind[stage == START] = K_START
    kind[(stage == REVIEW) & (top["review_number"] == 1)] = K_FIRST
    kind[(stage == EXIT) & (reason == DRUG_FREE)] = K_DRUG_FREE
    kind[(stage == EXIT) & (reason == OCCASIONAL)] = K_OCCASIONAL
    kind[(stage == POST_EXIT) & COMPLETED[np.maximum(reason, 0)]] = K_AFTER_COMPLETION
    return kind


def _substance_days(rng: np.random.Generator, substance: str, top: Frame, kind: np.ndarray,
                    review_class: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Days of use of one substance on every TOP row."""
    start, first = _start_and_review(rng, substance, review_class)
    episode = top["episode"]
    n = len(episode)
    drift = _drift(rng, first[episode])
    after = np.where(rng.random(n) < 0.7, 0, uniform_days(rng, 1, 8, n))
    days = np.select(
        [kind == K_START, kind == K_FIRST, kind == K_LATER, kind == K_OCCASIONAL, kind == K_AFTER_COMPLETION],
        [start[episode], first[episode], drift, uniform_days(rng, 0, 4, n), after],
        default=0,
    )
    presenting = PRESENTING[profile, codes.SUBSTANCES.index(substance)][episode]
    side = _side_use(rng, substance, profile[episode])
    if substance != "alcohol":
        side = np.where(kind == K_DRUG_FREE, 0, side)
    return np.where(presenting, days, side)


def _start_and_review(rng: np.random.Generator, substance: str, review_class: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Days at the start and first review, as if presenting, consistent with each episode's class."""
    threshold = p.RELIABLE_CHANGE_DAYS[substance]
    n = len(review_class)
    low = np.where(review_class == IMPROVED, threshold + 1, 0)
    high = np.where(review_class == DETERIORATED, 28 - threshold, 28)
    start = days_between(rng, CDF[substance], low, high)
    improved = uniform_days(rng, 1, np.maximum(start - threshold, 1), n)
    worse = uniform_days(rng, np.minimum(start + threshold, 28), 28, n)
    same = uniform_days(rng, np.maximum(start - threshold + 1, 1), np.minimum(start + threshold - 1, 28), n)
    review = np.select([review_class == ABSTINENT, review_class == IMPROVED, review_class == DETERIORATED],
                       [0, improved, worse], default=same)
    return start, review


def _drift(rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
    """Later TOPs: mostly the first review's days again, abstinent clients relapsing now and then."""
    n = len(first)
    moved = np.clip(first + uniform_days(rng, -4, 4, n), 0, 28)
    using = np.where(rng.random(n) < p.LATER_REVIEW_KEEP, first, moved)
    relapse = np.where(rng.random(n) < p.RELAPSE_SHARE, uniform_days(rng, 1, 8, n), 0)
    return np.where(first == 0, relapse, using)


def _side_use(rng: np.random.Generator, substance: str, profile: np.ndarray) -> np.ndarray:
    """Days of use of a substance the client did not present with: mostly none."""
    n = len(profile)
    if substance == "alcohol":
        share = group_values("side_alcohol_share")[PROFILE_GROUP[profile]]
        return np.where(rng.random(n) < share, uniform_days(rng, 1, 12, n), 0)
    return np.where(rng.random(n) < p.SIDE_USE_SHARE[substance], uniform_days(rng, 1, 8, n), 0)
