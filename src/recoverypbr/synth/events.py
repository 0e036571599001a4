"""Recorded milestones and interventions: recovery plans, first sessions, goals, skills, hepatitis B doses.

Every event falls inside its episode (up to the discharge, or the extract date while open), and each type
occurs at most once per episode, so (client, date, type) is unique: a client's episodes do not overlap.
"""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.assessments import CURRENT, PREVIOUS
from recoverypbr.synth.journeys import EXTRACT
from recoverypbr.synth.sampling import Frame, choose, concat, take, uniform_days

EVENT_TYPES = codes.KNOWN_EVENT_TYPES
GOAL_DETAILS = ("housing goal", "employment goal", "family goal", "reduced use goal")
SKILL_DETAILS = ("relapse prevention", "budgeting", "cooking and nutrition")
DETAILS = (*GOAL_DETAILS, *SKILL_DETAILS, "three doses")
COMPLETED = np.array([r in codes.COMPLETION_REASONS for r in codes.DISCHARGE_REASONS])


def make_events(rng: np.random.Generator, episode: Frame, injecting: np.ndarray) -> Frame:
    """Event rows sorted by episode, date and type: `episode`, `date`, `type` and `detail` (-1: none)."""
    start = episode["start"]
    end = np.where(episode["reason"] >= 0, episode["discharge"], EXTRACT)
    n = len(start)
    completed = COMPLETED[np.maximum(episode["reason"], 0)] & (episode["reason"] >= 0)
    plan = rng.random(n) < p.RECOVERY_PLAN_SHARE
    first = rng.random(n) < p.FIRST_SESSION_SHARE
    parts = [
        _events(plan, np.minimum(start + uniform_days(rng, 0, 21, n), end), "recovery_plan_agreed"),
        _events(first, np.minimum(start + uniform_days(rng, 0, 3, n), end), "first_session_attended"),
        _milestone(rng, start, end, completed, 90, p.GOALS_SHARE, "goals_achieved", GOAL_DETAILS),
        _milestone(rng, start, end, completed, 60, p.SKILL_SHARE, "skill_demonstrated", SKILL_DETAILS),
        *_hepatitis_b(rng, start, end, injecting),
    ]
    events = concat(parts)
    return take(events, np.lexsort((events["type"], events["date"], events["episode"])))


def _events(mask: np.ndarray, date: np.ndarray, event_type: str, detail: np.ndarray | None = None) -> Frame:
    index = np.flatnonzero(mask)
    return {
        "episode": index,
        "date": date[index],
        "type": np.full(len(index), EVENT_TYPES.index(event_type)),
        "detail": np.full(len(index), -1) if detail is None else detail[index],
    }


def _milestone(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, completed: np.ndarray,
               min_days: int, shares: dict[str, float], event_type: str, details: tuple[str, ...]) -> Frame:
    """A milestone for some episodes lasting `min_days` or more, dated after the first weeks."""
    n = len(start)
    length = end - start
    share = np.where(completed, shares["completed"], shares["other"])
    happens = (length >= min_days) & (rng.random(n) < share)
    earliest = min_days * 2 // 3
    date = start + earliest + np.floor(rng.random(n) * (np.maximum(length - earliest, 0) + 1)).astype(np.int64)
    detail = np.array([DETAILS.index(d) for d in details])[choose(rng, [1.0] * len(details), n)]
    return _events(happens, np.minimum(date, end), event_type, detail)


def _hepatitis_b(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, injecting: np.ndarray
                 ) -> list[Frame]:
    """Doses about a month apart for a share of injectors; a dose after the episode is not given."""
    n = len(start)
    share = np.select([injecting == CURRENT, injecting == PREVIOUS],
                      [p.HEPB_START_SHARE["current"], p.HEPB_START_SHARE["previous"]], default=0.0)
    given = rng.random(n) < share
    date = start + uniform_days(rng, 7, 60, n)
    given &= date <= end
    parts = [_events(given, date, "hepb_dose_1")]
    for dose, carry_on in zip((2, 3), p.HEPB_NEXT_DOSE_SHARE, strict=True):
        date = date + uniform_days(rng, *p.HEPB_GAP_DAYS, n)
        given &= (rng.random(n) < carry_on) & (date <= end)
        parts.append(_events(given, date, f"hepb_dose_{dose}"))
    recorded = given & (rng.random(n) < p.HEPB_COMPLETED_RECORDED_SHARE)
    parts.append(_events(recorded, date, "hepb_course_completed", np.full(n, DETAILS.index("three doses"))))
    return parts
