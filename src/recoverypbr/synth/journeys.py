"""Treatment journeys: episodes, exits and returns, generated round by round for all clients at once.

Round 1 is every client's first episode. After each discharge some leavers return (a new episode, a
criminal-justice contact, or both) within four years; their next episode is the next round.
"""

from __future__ import annotations

import numpy as np

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth.population import PROFILE_GROUP, group_values
from recoverypbr.synth.sampling import (
    NO_DATE,
    Frame,
    allocate,
    capped_wait,
    choose,
    choose_by_row,
    concat,
    day_number,
    fiscal_year,
    take,
    truncated_exponential,
    uniform_days,
)

EXTRACT = day_number(p.EXTRACT_DATE)
REASONS = codes.DISCHARGE_REASONS
EXIT_CODE = np.array([REASONS.index(r) for r in p.EXIT_ORDER])
EXIT_TABLE = np.array([[p.exit_shares(prof)[r] for r in p.EXIT_ORDER] for prof in p.PROFILES])
DIED = REASONS.index("died")

#: Return patterns by index, and the pattern of each discharge reason (-1: never returns).
PATTERNS = (p.COMPLETER_RETURN, p.TRANSFER_COMMUNITY_RETURN, p.TRANSFER_CUSTODY_RETURN, p.OTHER_RETURN)
PATTERN_OF_REASON = np.array([
    -1 if (pat := p.return_pattern(r)) is None else PATTERNS.index(pat) for r in REASONS
])
RETURN_TABLE = np.array([[1 - pat.within_4_years, pat.within_4_years] for pat in PATTERNS])
KIND_TABLE = np.array([pat.kinds for pat in PATTERNS])
NEW_EPISODE, CJ_THEN_EPISODE, CJ_ONLY, TREATMENT_ONLY = range(4)

#: Every presentation source, by index.
SOURCES = tuple(dict.fromkeys(
    [s for s, _ in p.TREATMENT_SOURCES] + [s for s, _ in p.CJ_SOURCES] + [p.CJ_TREATMENT_SOURCE, p.ELSEWHERE_SOURCE]
))
TREATMENT_SOURCE_INDEX = np.array([SOURCES.index(s) for s, _ in p.TREATMENT_SOURCES])
CJ_SOURCE_INDEX = np.array([SOURCES.index(s) for s, _ in p.CJ_SOURCES])
TREATMENT, CRIMINAL_JUSTICE = range(2)  # codes.PRESENTATION_SETTINGS order


def simulate_journeys(seed: int, chunk: int, part: int, clients: Frame) -> tuple[Frame, Frame]:
    """All episodes and presentations of a chunk's clients; episode `client` is the client's row."""
    pending = _first_episodes(np.random.default_rng([seed, chunk, part, 0]), clients)
    episodes, presentations = [], []
    for round_no in range(1, p.MAX_EPISODES_PER_CLIENT + 1):
        rng = np.random.default_rng([seed, chunk, part, round_no])
        episode = _discharge(rng, _start(rng, pending), clients["profile"])
        episode["round"] = np.full(len(episode["client"]), round_no)
        last = round_no == p.MAX_EPISODES_PER_CLIENT
        shown, pending = _returns(rng, episode, clients["profile"], last_round=last)
        episodes.append(episode)
        presentations.append(shown)
    return concat(episodes), concat(presentations)


def _first_episodes(rng: np.random.Generator, clients: Frame) -> Frame:
    n = len(clients["client"])
    group = PROFILE_GROUP[clients["profile"]]
    return {
        "client": np.arange(n),
        "referral": clients["first_referral"],
        "cj_referral": rng.random(n) < group_values("cj_referral_share")[group],
    }


def _start(rng: np.random.Generator, pending: Frame) -> Frame:
    """Triage and start after the referral; an episode that would start after the extract is not in it."""
    n = len(pending["client"])
    triage = pending["referral"] + capped_wait(rng, *p.TRIAGE_WAIT, n)
    start = triage + capped_wait(rng, *p.START_WAIT, n)
    provider = (rng.random(n) >= p.PRIME_EPISODE_SHARE).astype(np.int64)
    episode = {**pending, "triage": triage, "start": start, "provider": provider}
    return take(episode, start <= EXTRACT)


def _discharge(rng: np.random.Generator, episode: Frame, client_profile: np.ndarray) -> Frame:
    """Length of the episode, and the exit reason of those discharged by the extract date."""
    profile = client_profile[episode["client"]]
    group = PROFILE_GROUP[profile]
    n = len(profile)
    log_length = np.log(group_values("duration_median_days")[group]) + group_values("duration_sigma")[group] * (
        rng.standard_normal(n))
    length = np.clip(np.exp(log_length), p.DURATION_MIN_DAYS, p.DURATION_MAX_DAYS).astype(np.int64)
    discharge = episode["start"] + length
    closed = discharge <= EXTRACT
    reason = np.full(n, -1)
    noise = rng.standard_normal(n) * p.EXIT_ORDER_NOISE
    strata = profile * 100 + fiscal_year(discharge) - 2000
    order = -(np.log(length) + noise)
    reason[closed] = EXIT_CODE[allocate(rng, strata[closed], EXIT_TABLE, profile[closed], order[closed])]
    return {**episode, "discharge": np.where(closed, discharge, NO_DATE), "reason": reason}


def _returns(rng: np.random.Generator, episode: Frame, client_profile: np.ndarray, last_round: bool
             ) -> tuple[Frame, Frame]:
    """Presentations after discharge (dated up to the extract) and the next round's referrals."""
    back = _comebacks(rng, episode)
    shown = _presentations(rng, back)
    kind, referral = back["kind"], back["referral"]
    n = len(kind)
    cj_base = group_values("cj_referral_share")[PROFILE_GROUP[client_profile[back["client"]]]]
    cj_referral = (kind == CJ_THEN_EPISODE) | (rng.random(n) < cj_base)
    follow = ((kind == NEW_EPISODE) | (kind == CJ_THEN_EPISODE)) & (referral <= EXTRACT) & (not last_round)
    pending = {"client": back["client"][follow], "referral": referral[follow], "cj_referral": cj_referral[follow]}
    return take(shown, shown["date"] <= EXTRACT), pending


def _comebacks(rng: np.random.Generator, episode: Frame) -> Frame:
    """Leavers who return within four years: when first, how, and the referral of any new episode.

    Who returns is balanced within each exit reason and year of discharge, so that the share not returning
    holds in every year's leavers.
    """
    leaver = take(episode, (episode["reason"] >= 0) & (episode["reason"] != DIED))
    pattern = PATTERN_OF_REASON[leaver["reason"]]
    strata = leaver["reason"] * 100 + fiscal_year(leaver["discharge"]) - 2000
    back = take(leaver, allocate(rng, strata, RETURN_TABLE, pattern) == 1)
    pattern = PATTERN_OF_REASON[back["reason"]]
    mean = np.array([pat.mean_days for pat in PATTERNS])[pattern]
    when = back["discharge"] + truncated_exponential(rng, mean, p.RETURN_HORIZON_DAYS)
    kind = choose_by_row(rng, KIND_TABLE, pattern)
    gap = uniform_days(rng, *p.CJ_TO_TREATMENT_DAYS, len(when))
    referral = np.where(kind == CJ_THEN_EPISODE, when + gap, when)
    return {"client": back["client"], "reason": back["reason"], "when": when, "kind": kind, "referral": referral}


def _presentations(rng: np.random.Generator, back: Frame) -> Frame:
    """A criminal-justice contact, a treatment presentation, or both (a contact that leads to treatment)."""
    client, when, kind = back["client"], back["when"], back["kind"]
    n = len(when)
    custody = back["reason"] == REASONS.index("transferred_custody")
    cj_source = np.where(custody, SOURCES.index("prison"), CJ_SOURCE_INDEX[choose(rng, _w(p.CJ_SOURCES), n)])
    treatment_source = TREATMENT_SOURCE_INDEX[choose(rng, _w(p.TREATMENT_SOURCES), n)]
    cj = (kind == CJ_THEN_EPISODE) | (kind == CJ_ONLY)
    new, via_cj, elsewhere = kind == NEW_EPISODE, kind == CJ_THEN_EPISODE, kind == TREATMENT_ONLY
    return concat([
        _presented(client[cj], when[cj], CRIMINAL_JUSTICE, cj_source[cj]),
        _presented(client[new], when[new], TREATMENT, treatment_source[new]),
        _presented(client[via_cj], back["referral"][via_cj], TREATMENT, SOURCES.index(p.CJ_TREATMENT_SOURCE)),
        _presented(client[elsewhere], when[elsewhere], TREATMENT, SOURCES.index(p.ELSEWHERE_SOURCE)),
    ])


def _presented(client: np.ndarray, date: np.ndarray, setting: int, source: np.ndarray | int) -> Frame:
    n = len(client)
    return {
        "client": client,
        "date": date,
        "setting": np.full(n, setting),
        "source": np.broadcast_to(np.asarray(source), (n,)).copy(),
    }


def _w(pairs: tuple[tuple[str, float], ...]) -> list[float]:
    return [weight for _, weight in pairs]
