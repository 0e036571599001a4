"""Every number the synthetic area is built from, each with the published figure it reproduces.

Figures quoted as "published" are the national figures in docs/synthetic-data.md (how they are reproduced).
Everything marked "illustrative" has no published figure: it is chosen to look believable, not to match data.
This module is pure Python (no NumPy) so that importing `recoverypbr.synth` stays light.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from recoverypbr.data import codes

# --- The area's calendar -------------------------------------------------------------------------------

#: illustrative: early enough that leavers have a 4-year follow-up before the extract (long-term figure).
WINDOW_START = dt.date(2009, 4, 1)
#: illustrative: the payment-by-results go-live; episodes started before it are "stock", after it "flow".
GO_LIVE = dt.date(2012, 4, 1)
#: illustrative: the extract date; nothing after it is in the data (open episodes have no discharge).
EXTRACT_DATE = dt.date(2016, 3, 31)
#: illustrative: first referrals stop this many days before the extract so that every first episode starts.
LAST_FIRST_REFERRAL_MARGIN_DAYS = 60

# --- Scale ---------------------------------------------------------------------------------------------

#: Clients generated and written together; chunk k draws from its own seeded streams.
CHUNK_CLIENTS = 100_000
#: illustrative: treatment episodes per client at most (a first episode and up to three returns).
MAX_EPISODES_PER_CLIENT = 4

# --- Providers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    role: str
    service_lines: tuple[str, ...]


PRIME, SUBCONTRACTOR, LASARS = (
    # illustrative names; service lines after the Worcestershire funnels (adult drugs tier 3, alcohol).
    Provider("P01", "Marlshire Recovery Partnership", "prime",
             ("adult drugs prescribing", "adult drugs psychosocial", "adult alcohol")),
    Provider("P02", "Brackton Community Drug and Alcohol Service", "subcontractor",
             ("adult drugs psychosocial", "adult alcohol")),
    Provider("P03", "Marlshire Single Assessment and Referral Service", "lasars", ("assessment",)),
)
PROVIDERS = (PRIME, SUBCONTRACTOR, LASARS)
#: illustrative: share of episodes with the prime (the rest with the subcontractor).
PRIME_EPISODE_SHARE = 0.65
#: illustrative: share of assessments the LASARS records as independent of the provider.
ASSESSOR_INDEPENDENT_SHARE = 0.92

# --- Clients -------------------------------------------------------------------------------------------

#: illustrative: the two local authorities of the area and their shares of clients.
LOCAL_AUTHORITIES = (("Marlshire County Council", 0.62), ("Brackton City Council", 0.38))
#: illustrative: shares of `other` and `not_known` sex (the rest male or female by group).
SEX_OTHER_SHARE, SEX_NOT_KNOWN_SHARE = 0.002, 0.004

# --- Substance groups ----------------------------------------------------------------------------------

#: published: "2022-23: ... opiate group 48%, alcohol only 30%" (of adults in treatment).
OPIATE_GROUP_SHARE = 0.48
ALCOHOL_ONLY_SHARE = 0.30
NON_OPIATE_SHARE = 1.0 - OPIATE_GROUP_SHARE - ALCOHOL_ONLY_SHARE
#: illustrative: opiates only versus opiates and crack within the opiate group.
OPIATES_ONLY_SHARE_OF_GROUP = 0.55
#: illustrative: for "<drug> and alcohol" profiles, the share whose primary substance is recorded as alcohol.
ALCOHOL_PRIMARY_SHARE = 0.2


@dataclass(frozen=True)
class SubstanceProfile:
    """Presenting substances of a client, with what follows from them."""

    substances: tuple[str, ...]  # canonical codes, sorted as ingest normalises them
    share: float  # of clients (their first episode)
    group: str  # "opiates", "non_opiates" or "alcohol": the published completion-rate groups
    primary: str
    review: str  # key of REVIEW_OUTCOMES
    injecting: tuple[float, float, float, float]  # current, previous, never, declined (illustrative)

    @property
    def label(self) -> str:
        return ";".join(self.substances)


_OPIATE_INJ = (0.28, 0.30, 0.39, 0.03)
_OPIATE_CRACK_INJ = (0.40, 0.28, 0.29, 0.03)
_RARE_INJ = (0.01, 0.04, 0.93, 0.02)


def _non_opiate(
    substances: tuple[str, ...], within: float, primary: str, injecting: tuple[float, float, float, float]
) -> SubstanceProfile:
    review = "crack_only" if substances == ("crack",) else "other_drugs"
    return SubstanceProfile(substances, NON_OPIATE_SHARE * within, "non_opiates", primary, review, injecting)


#: Shares within the non-opiate group are illustrative; the group totals are published.
PROFILES: tuple[SubstanceProfile, ...] = (
    SubstanceProfile(("opiates",), OPIATE_GROUP_SHARE * OPIATES_ONLY_SHARE_OF_GROUP, "opiates", "opiates",
                     "opiates", _OPIATE_INJ),
    SubstanceProfile(("crack", "opiates"), OPIATE_GROUP_SHARE * (1 - OPIATES_ONLY_SHARE_OF_GROUP), "opiates",
                     "opiates", "opiates", _OPIATE_CRACK_INJ),
    SubstanceProfile(("alcohol",), ALCOHOL_ONLY_SHARE, "alcohol", "alcohol", "alcohol", (0.005, 0.02, 0.955, 0.02)),
    _non_opiate(("crack",), 0.25, "crack", (0.04, 0.12, 0.81, 0.03)),
    _non_opiate(("cocaine",), 0.20, "cocaine", _RARE_INJ),
    _non_opiate(("alcohol", "cocaine"), 0.10, "cocaine", _RARE_INJ),
    _non_opiate(("cannabis",), 0.22, "cannabis", _RARE_INJ),
    _non_opiate(("alcohol", "cannabis"), 0.08, "cannabis", _RARE_INJ),
    _non_opiate(("amphetamines",), 0.07, "amphetamines", (0.10, 0.10, 0.77, 0.03)),
    _non_opiate(("other",), 0.05, "other", _RARE_INJ),
    _non_opiate(("alcohol", "other"), 0.03, "other", _RARE_INJ),
)
GROUPS = ("opiates", "non_opiates", "alcohol")


@dataclass(frozen=True)
class GroupParams:
    """What differs between the completion-rate groups (see _BY_GROUP for the values and their sources)."""

    completion: float
    duration_median_days: float  # lognormal episode length (weeks to a few years; longer for opiates)
    duration_sigma: float
    male_share: float
    age_min: float  # age at first start = age_min + gamma(age_shape, age_scale), kept within 18-70
    age_shape: float
    age_scale: float
    years_of_use_mean: float
    previous_treatment_mean: float  # previous episodes at the first assessment (Poisson)
    cj_referral_share: float
    housing: tuple[float, float, float]  # none, at_risk, acute
    mental_health_share: float
    offending_share: float  # any offence in the last 12 months
    offences_mean: float  # among those offending
    employed_share: float  # paid work at start
    quality_of_life_mean: float  # TOP rating at start, 0-20
    side_alcohol_share: float  # non-presenting alcohol use at a TOP


_BY_GROUP: dict[str, tuple[object, object, object]] = {  # field: (opiates, non_opiates, alcohol)
    # published: "2014-15 completion rates: opiates 30%, non-opiates 64%, alcohol 61%"
    "completion": (0.30, 0.64, 0.61),
    # all the rest illustrative
    "duration_median_days": (420, 150, 135),
    "duration_sigma": (0.85, 0.75, 0.70),
    "male_share": (0.72, 0.76, 0.60),
    "age_min": (21, 18, 20),
    "age_shape": (4.0, 2.2, 5.0),
    "age_scale": (4.2, 6.0, 5.0),
    "years_of_use_mean": (14, 7, 15),
    "previous_treatment_mean": (1.5, 0.4, 0.6),
    "cj_referral_share": (0.20, 0.12, 0.05),
    "housing": ((0.60, 0.25, 0.15), (0.75, 0.17, 0.08), (0.78, 0.15, 0.07)),
    "mental_health_share": (0.42, 0.45, 0.52),
    "offending_share": (0.45, 0.30, 0.12),
    "offences_mean": (8, 5, 3),
    "employed_share": (0.08, 0.30, 0.32),
    "quality_of_life_mean": (9.0, 10.5, 10.0),
    "side_alcohol_share": (0.25, 0.35, 0.0),
}
GROUP_PARAMS = {
    group: GroupParams(**{name: values[i] for name, values in _BY_GROUP.items()})  # type: ignore[arg-type]
    for i, group in enumerate(GROUPS)
}
#: illustrative: episodes last at least two weeks and at most about eight years.
DURATION_MIN_DAYS, DURATION_MAX_DAYS = 14, 3000
#: illustrative: referral -> triage and triage -> start waits (geometric, capped).
TRIAGE_WAIT = (0.25, 14)  # (daily probability, cap in days)
START_WAIT = (0.15, 21)
ASSESSMENT_LEAD = (0.4, 10)  # assessed this many days before start, never before triage

# --- Exits ---------------------------------------------------------------------------------------------

#: published: "46% of those leaving treatment completed successfully" (2022-23), "47% of exits" (2011-12).
OVERALL_COMPLETION = 0.465
#: published: "1.4% died in treatment" (2022-23).
DIED_SHARE_OF_EXITS = 0.014
#: published 2007-08 exit reasons: "completed drug free 11%, completed 25%".
COMPLETION_SPLIT_2007_08 = {"completed_drug_free": 11.0, "completed_occasional_user": 25.0}
#: published 2007-08 exit reasons, the non-completions: "referred on 16%, dropped out 28%, prison 6%,
#: declined 3%, withdrawn 3%, moved 2%, ... other or not known 5%" (died is tuned separately, below).
NON_COMPLETION_2007_08 = {
    "transferred_community": 16.0,  # referred on
    "dropped_out": 28.0,
    "transferred_custody": 6.0,  # prison
    "declined": 3.0,
    "treatment_withdrawn": 3.0,
    "moved_away": 2.0,
    "other": 2.5,  # "other or not known 5%", split evenly
    "not_known": 2.5,
}
#: Died tuned so that about 1.4% of all exits are deaths (rather than 2007-08's 1%).
DIED_SHARE_OF_NON_COMPLETIONS = DIED_SHARE_OF_EXITS / (1.0 - OVERALL_COMPLETION)


def non_completion_shares() -> dict[str, float]:
    """Shares of each non-completion reason among non-completions (these shares are tested, +/- 3 pp)."""
    total = sum(NON_COMPLETION_2007_08.values())
    rest = 1.0 - DIED_SHARE_OF_NON_COMPLETIONS
    shares = {reason: rest * weight / total for reason, weight in NON_COMPLETION_2007_08.items()}
    return {**shares, "died": DIED_SHARE_OF_NON_COMPLETIONS}


#: Order in which reasons are handed out along an episode's length, longest first: completions go mostly to
#: longer episodes and drop-outs to shorter ones (illustrative), without changing any share.
EXIT_ORDER = (
    "completed_drug_free", "completed_occasional_user", "transferred_community", "moved_away",
    "transferred_custody", "other", "not_known", "died", "treatment_withdrawn", "declined", "dropped_out",
)
#: illustrative: noise (on the log of the length) that keeps that ordering a tendency, not a rule.
EXIT_ORDER_NOISE = 1.0
#: Exits that count as planned for the exit TOP (illustrative).
PLANNED_EXITS = ("completed_drug_free", "completed_occasional_user", "transferred_community")


def exit_shares(profile: SubstanceProfile) -> dict[str, float]:
    """Exit-reason probabilities for a profile: its group's completion rate, split 11:25 where allowed."""
    completion = GROUP_PARAMS[profile.group].completion
    shares = {reason: (1.0 - completion) * share for reason, share in non_completion_shares().items()}
    if {"opiates", "crack"} & set(profile.substances):
        # "completed occasional user (not opiates or crack)": all their completions are drug free.
        return {"completed_drug_free": completion, "completed_occasional_user": 0.0, **shares}
    split = sum(COMPLETION_SPLIT_2007_08.values())
    return {reason: completion * w / split for reason, w in COMPLETION_SPLIT_2007_08.items()} | shares


# --- Returns after discharge ---------------------------------------------------------------------------

#: published: "46% of 2005-06 leavers neither returned to treatment nor had a drug-related criminal
#: justice contact in 4 years".
NO_RETURN_4Y = 0.46
RETURN_HORIZON_DAYS = 1460  # every return falls within 4 years of discharge (1461 days with a 29 February)
RETURN_KINDS = ("new_episode", "cj_then_episode", "cj_only", "treatment_only")


@dataclass(frozen=True)
class ReturnPattern:
    """How leavers with one exit reason come back: probability within 4 years, timing, and how."""

    within_4_years: float
    mean_days: float  # truncated exponential time from discharge to the first return
    kinds: tuple[float, float, float, float]  # shares of RETURN_KINDS


#: illustrative: completers return least; those referred on or sent to prison mostly and soon.
COMPLETER_RETURN = ReturnPattern(0.35, 540, (0.50, 0.15, 0.25, 0.10))
TRANSFER_COMMUNITY_RETURN = ReturnPattern(0.85, 45, (0.80, 0.0, 0.0, 0.20))
TRANSFER_CUSTODY_RETURN = ReturnPattern(0.90, 20, (0.0, 0.35, 0.65, 0.0))
#: tuned: completion share among leavers discharged 4+ years before the extract, used only to solve the rate
#: below. Early leavers are mostly short non-opiate episodes, so more of them complete than overall (about
#: 51% measured at 20,000 clients, seed 1).
EARLY_LEAVER_COMPLETION = 0.51


def _solve_other_return() -> float:
    """Return probability of the remaining non-completions so that NO_RETURN_4Y holds on the expected mix."""
    nc = non_completion_shares()
    non_completion = 1.0 - EARLY_LEAVER_COMPLETION
    fixed = EARLY_LEAVER_COMPLETION * (1 - COMPLETER_RETURN.within_4_years) + non_completion * (
        nc["died"]
        + nc["transferred_community"] * (1 - TRANSFER_COMMUNITY_RETURN.within_4_years)
        + nc["transferred_custody"] * (1 - TRANSFER_CUSTODY_RETURN.within_4_years)
    )
    others = non_completion * (1 - nc["died"] - nc["transferred_community"] - nc["transferred_custody"])
    return 1.0 - (NO_RETURN_4Y - fixed) / others


OTHER_RETURN = ReturnPattern(_solve_other_return(), 300, (0.55, 0.15, 0.20, 0.10))


def return_pattern(reason: str) -> ReturnPattern | None:
    """The return pattern of leavers with `reason`; None for deaths."""
    if reason == "died":
        return None
    if reason in codes.COMPLETION_REASONS:
        return COMPLETER_RETURN
    return {"transferred_community": TRANSFER_COMMUNITY_RETURN, "transferred_custody": TRANSFER_CUSTODY_RETURN
            }.get(reason, OTHER_RETURN)


#: illustrative: days from a criminal-justice contact to the treatment referral it leads to.
CJ_TO_TREATMENT_DAYS = (14, 120)
#: illustrative sources of presentations.
CJ_SOURCES = (("arrest referral", 0.45), ("police custody drug test", 0.20), ("probation", 0.20), ("prison", 0.15))
TREATMENT_SOURCES = (("self referral", 0.50), ("GP", 0.20), ("another treatment service", 0.15),
                     ("hospital", 0.15))
CJ_TREATMENT_SOURCE = "criminal justice team"
ELSEWHERE_SOURCE = "another treatment service"

# --- TOP -----------------------------------------------------------------------------------------------

START_TOP_SHARE = 0.96  # illustrative: "a few % missing"
REVIEW_INTERVAL_DAYS = 182  # "about every six months in treatment" (data spec)
REVIEW_JITTER_DAYS = 21  # illustrative
REVIEW_RECORDED_SHARE = 0.90  # illustrative
REVIEW_MARGIN_DAYS = 14  # illustrative: no review in the last two weeks before discharge (the exit TOP is due)
EXIT_TOP_SHARE = {"planned": 0.90, "unplanned": 0.40}  # illustrative
POST_EXIT_TOP_SHARE = {"completed": 0.06, "other": 0.02}  # illustrative
POST_EXIT_DAYS = (28, 180)  # illustrative
#: The window the calibration reads as "a 6-month review TOP" (days after the episode start).
SIX_MONTH_REVIEW_WINDOW = (150, 240)


@dataclass(frozen=True)
class BaselineDays:
    """Days of use in the 28 days before the start TOP, for a presenting substance (illustrative)."""

    p_zero: float
    p_daily: float  # all 28 days
    decay: float | None  # weights exp(-k/decay) over 1-27 days; None for flat

    def pmf(self) -> list[float]:
        weights = [1.0 if self.decay is None else math.exp(-k / self.decay) for k in range(1, 28)]
        rest = 1.0 - self.p_zero - self.p_daily
        return [self.p_zero, *(rest * w / sum(weights) for w in weights), self.p_daily]


BASELINE_DAYS = {
    "opiates": BaselineDays(0.04, 0.40, None),
    "crack": BaselineDays(0.04, 0.01, 5.5),
    "alcohol": BaselineDays(0.03, 0.35, None),
    "cocaine": BaselineDays(0.05, 0.02, 6.0),
    "cannabis": BaselineDays(0.03, 0.45, None),
    "amphetamines": BaselineDays(0.05, 0.12, 12.0),
    "other": BaselineDays(0.08, 0.15, None),
}
#: illustrative: baseline SD of days of use (close to BASELINE_DAYS's distributions; a test checks it).
BASELINE_SD_DAYS = {"opiates": 9.7, "crack": 5.4, "alcohol": 9.6, "cocaine": 6.1, "cannabis": 9.5,
                    "amphetamines": 9.1, "other": 9.5}
#: illustrative: test-retest reliability of TOP days of use.
TOP_RELIABILITY = 0.90


def reliable_change_days(sd: float, reliability: float = TOP_RELIABILITY) -> int:
    """Smallest whole change in days that is reliable at 95% (Jacobson-Truax: |x2-x1| / (SD sqrt2 sqrt(1-r)) > 1.96)."""
    return math.floor(1.96 * sd * math.sqrt(2.0) * math.sqrt(1.0 - reliability)) + 1


#: illustrative (derived): opiates 9 days, crack 5 days.
RELIABLE_CHANGE_DAYS = {substance: reliable_change_days(sd) for substance, sd in BASELINE_SD_DAYS.items()}

REVIEW_CLASSES = ("abstinent", "improved", "unchanged", "deteriorated")
#: Shares of REVIEW_CLASSES at the 6-month review.
REVIEW_OUTCOMES = {
    # published: "NTA 2011-12, opiate-only clients with a 6-month review TOP: 51% abstinent, 23% reliably
    # improved, 3% deteriorated" (applied to the whole opiate group).
    "opiates": (0.51, 0.23, 0.23, 0.03),
    # published: "crack-only: 63%, 8%, 2%".
    "crack_only": (0.63, 0.08, 0.27, 0.02),
    "alcohol": (0.25, 0.40, 0.32, 0.03),  # illustrative
    "other_drugs": (0.55, 0.15, 0.28, 0.02),  # illustrative
}
#: illustrative: how later reviews drift from the first one.
LATER_REVIEW_KEEP = 0.75  # share of later TOPs repeating the first review's days
RELAPSE_SHARE = 0.15  # share of abstinent clients using again at a later TOP
#: illustrative: non-presenting substances at a TOP (share with 1-8 days of use).
SIDE_USE_SHARE = {"crack": 0.06, "cocaine": 0.04, "cannabis": 0.10, "amphetamines": 0.02, "other": 0.02,
                  "opiates": 0.01}
INJECTING_STOP_SHARE = 0.45  # illustrative: current injectors with no injecting at later TOPs
SHARING_SHARE = (0.15, 0.06)  # illustrative: injectors who share, at start and later
HOUSING_RESOLVED_SHARE = 0.45  # illustrative: acute housing problems resolved by later TOPs
QUALITY_OF_LIFE_GAIN = 3.0  # illustrative: mean gain in the 0-20 ratings for abstinent or improved clients
CRIME_SHARES = {"shoplifting_days": 0.22, "drug_selling_days": 0.08, "other_theft_days": 0.07,
                "assault_days": 0.04}  # illustrative, opiate group; other groups a third of it

# --- Assessment: complexity ----------------------------------------------------------------------------

#: illustrative points score for the recorded complexity group (the contract's own rules may differ).
COMPLEXITY_POINTS = {
    "injecting_current": 2, "injecting_previous": 1, "years_of_use_10": 1, "years_of_use_20": 1,
    "previous_treatment_1": 1, "previous_treatment_3": 1, "housing_at_risk": 1, "housing_acute": 2,
    "mental_health_need": 1, "offending": 1, "offences_10": 1, "criminal_justice_referral": 1,
    "opiate_and_crack": 1, "parent_or_carer": 1,
}
COMPLEXITY_GROUPS = ("low", "medium", "high")
COMPLEXITY_CUTS = (3, 6)  # low below 3 points, high from 6
#: illustrative: share of assessments recorded in another group than the points give, and the share of
#: those recorded one group higher (the gaming risk "inflating complexity").
ASSESSOR_DISAGREEMENT = 0.05
DISAGREEMENT_UP_SHARE = 0.7
PARENT_OR_CARER_SHARE = 0.27  # illustrative

# --- Referrals that never start ----------------------------------------------------------------------

#: illustrative: share of referrals that never start a treatment episode, by the complexity group of the
#: assessment made before the referral (low, medium, high): about 10% overall, more among complex clients,
#: the same at every provider. NDTMS records why: the client declined, no appropriate treatment (old code 4,
#: `other` here), an inappropriate referral (old code 13, also `other`), or the client is still waiting.
NOT_STARTED_SHARE = (0.08, 0.11, 0.15)
#: illustrative: why a referral that was closed without a start was closed (NDTMS reasons, canonical codes).
NOT_STARTED_REASONS = (("declined", 0.55), ("other", 0.45))
#: illustrative: a referral that never started is dated this many days before the client's next referral,
#: after any earlier discharge; it is closed a few days after its triage.
NOT_STARTED_LEAD_DAYS = (30, 240)
NOT_STARTED_CLOSE_DAYS = (3, 21)
#: illustrative: share of clients whose last episode ended long before the extract who are referred again in
#: its last weeks and still waiting on the extract date (no discharge); half of them are triaged already.
STILL_WAITING_SHARE = 0.015
STILL_WAITING_DAYS = 56
#: Ids of referrals that never start (`R0000001`) and of their assessments (`AR0000001`): after the existing
#: ranges, from their own random stream, so every other row of an area is unchanged by them.
REFERRAL_PREFIX, REFERRAL_ASSESSMENT_PREFIX = "R", "AR"

# --- Several providers and injected gaming (assurance testing) ------------------------------------------

#: illustrative: with `--providers N`, every provider P01..PNN runs the prime's service lines, clients are
#: shared out equally at random, and every provider's feedback follows this one score distribution.
PEER_FEEDBACK_SCORES = (0.04, 0.08, 0.18, 0.40, 0.30)  # the prime's own distribution
PEER_LASARS_ID = "L01"
MAX_PEER_PROVIDERS = 99
#: The gaming kinds (`--gaming KIND=STRENGTH`), named after the assurance indicator families.
GAMING_KINDS = ("assessment", "creaming_parking", "timing", "misrepresentation")
#: Ids of re-assessments a gaming provider records itself (`AG0000001`).
REASSESSMENT_PREFIX = "AG"
#: illustrative: how gaming inflates an assessment (steps and additions to its inputs).
INFLATE_YEARS_OF_USE, INFLATE_PREVIOUS_TREATMENT = 5, 2
REASSESSMENT_DAYS = (30, 90)  # after the episode's start
CREAMING_WAIT_DAYS = 30  # added to the high group's wait from triage to start, times the strength
TIMING_LAST_DAYS, TIMING_FIRST_DAYS = 21, 14  # from the last 21 days of a quarter to days 1-14 of the next
MISREPORTED_QUALITY_OF_LIFE = 14  # quality of life raised to this when below
FEEDBACK_FALL = 2  # points a gamed provider's lowered feedback falls (never below 1)

# --- Events --------------------------------------------------------------------------------------------

RECOVERY_PLAN_SHARE = 0.85  # illustrative
FIRST_SESSION_SHARE = 0.92  # illustrative
GOALS_SHARE = {"completed": 0.55, "other": 0.25}  # illustrative, episodes of 90 days or more
SKILL_SHARE = {"completed": 0.45, "other": 0.20}  # illustrative, episodes of 60 days or more
HEPB_START_SHARE = {"current": 0.45, "previous": 0.25}  # illustrative, by injecting status
HEPB_NEXT_DOSE_SHARE = (0.80, 0.75)  # illustrative: dose 1 -> 2, dose 2 -> 3
HEPB_COMPLETED_RECORDED_SHARE = 0.5  # illustrative: "course completed" recorded with dose 3
HEPB_GAP_DAYS = (28, 35)  # illustrative: about a month between doses

# --- Offending cohorts and feedback --------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    cohort_id: str
    people_per_client: float  # cohort size against the area's clients (illustrative)
    offences_per_person: float  # per quarter at baseline (illustrative)


COHORTS = (Cohort("CJ-ALL", 0.10, 1.2), Cohort("CJ-IOM", 0.02, 3.0), Cohort("DIP-TESTED", 0.05, 1.8))
BASELINE_START = dt.date(2011, 4, 1)  # the year before go-live is the baseline
OFFENDING_FALL_PER_YEAR = 0.03  # illustrative: offences per person fall modestly after go-live

FEEDBACK_PER_CLIENT = 0.04  # illustrative: responses per client
FEEDBACK_SCORES = {"P01": (0.04, 0.08, 0.18, 0.40, 0.30), "P02": (0.06, 0.10, 0.22, 0.38, 0.24)}  # illustrative
FEEDBACK_COMMENT_SHARE = 0.25  # illustrative
FEEDBACK_CLIENT_SHARE = 0.10  # illustrative: client_id given, for follow-up only


# --- Calibration targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One published figure the generated area must reproduce, measured from the written files."""

    name: str
    description: str
    target: float
    tolerance: float
    source: str


_MIX = "2022-23: 290,635 adults in treatment, 137,749 new entrants; opiate group 48%, alcohol only 30%"
_RATES = "2014-15 completion rates: opiates 30%, non-opiates 64%, alcohol 61%."
_OVERALL = "2022-23: 46% of those leaving treatment completed successfully; 2011-12: 47% of exits completed."
_EXITS = ("2007-08 exit reasons (69,612 exits): completed drug free 11%, completed 25%, referred on 16%, dropped "
          "out 28%, prison 6%, declined 3%, withdrawn 3%, moved 2%, died 1%, other or not known 5%.")
_DIED = "2022-23: 1.4% died in treatment."
_OPIATE_TOP = ("NTA 2011-12, opiate-only clients with a 6-month review TOP: 51% abstinent, 23% reliably "
               "improved, 3% deteriorated")
_CRACK_TOP = "NTA 2011-12 ... crack-only: 63%, 8%, 2%."
_LONG = ("Long term: 46% of 2005-06 leavers neither returned to treatment nor had a drug-related criminal justice "
         "contact in 4 years.")
_PP3 = 0.03


def _non_completion_targets() -> tuple[Target, ...]:
    return tuple(
        Target(f"non_completion_share_{reason}", f"share of {reason} among non-completed exits (all years)",
               round(share, 4), _PP3 if reason != "died" else 0.01, _EXITS)
        for reason, share in non_completion_shares().items()
    )


CALIBRATION: tuple[Target, ...] = (
    Target("first_episode_opiate_group", "clients whose first episode includes opiates", OPIATE_GROUP_SHARE,
           _PP3, _MIX),
    Target("first_episode_alcohol_only", "clients whose first episode is alcohol only", ALCOHOL_ONLY_SHARE,
           _PP3, _MIX),
    Target("completion_2014_15_opiates", "completions among 2014-15 exits, opiate group", 0.30, _PP3, _RATES),
    Target("completion_2014_15_non_opiates", "completions among 2014-15 exits, non-opiates", 0.64, _PP3, _RATES),
    Target("completion_2014_15_alcohol", "completions among 2014-15 exits, alcohol only", 0.61, _PP3, _RATES),
    Target("completion_2014_15_overall", "completions among all 2014-15 exits", OVERALL_COMPLETION, _PP3,
           _OVERALL),
    Target("completed_drug_free_share", "drug-free among completions of clients without opiates or crack",
           round(11 / 36, 4), _PP3, _EXITS),
    *_non_completion_targets(),
    Target("died_share_of_exits", "deaths among all exits (all years)", DIED_SHARE_OF_EXITS, 0.01, _DIED),
    Target("review_opiates_abstinent", "opiate-only episodes with a 6-month review: 0 opiate days", 0.51, _PP3,
           _OPIATE_TOP),
    Target("review_opiates_improved", "... not abstinent, fell by >= the reliable-change days", 0.23, _PP3,
           _OPIATE_TOP),
    Target("review_opiates_deteriorated", "... rose by >= the reliable-change days", 0.03, _PP3, _OPIATE_TOP),
    Target("review_crack_abstinent", "crack-only episodes with a 6-month review: 0 crack days", 0.63, _PP3,
           _CRACK_TOP),
    Target("review_crack_improved", "... not abstinent, fell by >= the reliable-change days", 0.08, _PP3,
           _CRACK_TOP),
    Target("review_crack_deteriorated", "... rose by >= the reliable-change days", 0.02, _PP3, _CRACK_TOP),
    Target("no_return_4y", "leavers discharged 4+ years before the extract with no return within 4 years",
           NO_RETURN_4Y, _PP3, _LONG),
)
