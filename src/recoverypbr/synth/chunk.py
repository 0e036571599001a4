"""One chunk of clients: everything about them, as canonical Arrow tables.

Chunk k draws from `np.random.default_rng([seed, k, part])`, one stream per part, so a chunk's content
depends only on the seed, its number and the ids already used by earlier chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from recoverypbr.data import codes
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.area import feedback
from recoverypbr.synth.assessments import make_assessments
from recoverypbr.synth.events import DETAILS, EVENT_TYPES, make_events
from recoverypbr.synth.journeys import REASONS, SOURCES, simulate_journeys
from recoverypbr.synth.population import PROFILE_GROUP, add_birth_dates, make_clients
from recoverypbr.synth.referrals import make_referrals
from recoverypbr.synth.sampling import NO_DATE, Frame, day_number, take
from recoverypbr.synth.tops import DAY_COLUMNS, make_tops

PART_CLIENTS, PART_JOURNEYS, PART_ASSESSMENTS, PART_TOPS, PART_EVENTS, PART_FEEDBACK, PART_REFERRALS = range(1, 8)
#: Service line of an episode by provider (prime, subcontractor) and group (GROUPS order).
SERVICE_LINE = (
    ("adult drugs prescribing", "adult drugs psychosocial", "adult alcohol"),
    ("adult drugs psychosocial", "adult drugs psychosocial", "adult alcohol"),
)
TOP_INTS = (*DAY_COLUMNS.values(), "injecting_days", "shoplifting_days", "drug_selling_days", "other_theft_days",
            "assault_days", "psychological_health", "physical_health", "quality_of_life", "paid_work_days",
            "education_days")
TOP_FLAGS = ("sharing", "acute_housing_problem", "risk_of_eviction")


@dataclass
class IdCounters:
    """Numbers already used by earlier chunks, so that ids stay unique across the area."""

    episodes: int = 0
    tops: int = 0
    referrals: int = 0


def generate_chunk(seed: int, chunk: int, first_client: int, n: int, used: IdCounters) -> dict[str, pa.Table]:
    """The tables of `n` clients numbered from `first_client` (0-based); advances `used`.

    Referrals that never started come apart, as `referral_episodes` and `referral_assessments` (appended to
    `episodes` and `assessments` when written), so that shaping for a contract leaves the other rows alone.
    """
    def rng(part: int) -> np.random.Generator:
        return np.random.default_rng([seed, chunk, part])

    clients = make_clients(rng(PART_CLIENTS), first_client, n)
    episodes, shown = simulate_journeys(seed, chunk, PART_JOURNEYS, clients)
    episodes = take(episodes, np.lexsort((episodes["round"], episodes["client"])))
    add_birth_dates(clients, episodes["start"][episodes["round"] == 1])
    assessment = make_assessments(rng(PART_ASSESSMENTS), episodes, clients)
    profile = clients["profile"][episodes["client"]]
    tops = make_tops(rng(PART_TOPS), episodes, assessment, profile)
    events = make_events(rng(PART_EVENTS), episodes, assessment["injecting"])
    episode_number = used.episodes + 1 + np.arange(len(profile))
    top_number = used.tops + 1 + np.arange(len(tops["episode"]))
    used.episodes += len(profile)
    used.tops += len(top_number)
    client_id = t.ids("C", clients["client"] + 1, 7)
    episode_id = t.ids("E", episode_number, 7)
    ep_client = client_id.take(pa.array(episodes["client"]))
    referral, referral_assessment = make_referrals(rng(PART_REFERRALS), episodes, clients)
    referral_number = used.referrals + 1 + np.arange(len(referral["client"]))
    used.referrals += len(referral_number)
    referral_client = client_id.take(pa.array(referral["client"]))
    return {
        "clients": _clients(clients, client_id),
        "assessments": _assessments(assessment, t.ids("A", episode_number, 7), ep_client),
        "episodes": _episodes(episodes, profile, episode_id, ep_client),
        "top": _tops(tops, t.ids("T", top_number, 8), episode_id, ep_client),
        "events": _events(events, episode_id, ep_client),
        "presentations": _presentations(shown, client_id),
        "feedback": feedback(rng(PART_FEEDBACK), clients["client"]),
        "referral_episodes": _episodes(referral, clients["profile"][referral["client"]],
                                       t.ids(p.REFERRAL_PREFIX, referral_number, 7), referral_client),
        "referral_assessments": _assessments(referral_assessment,
                                             t.ids(p.REFERRAL_ASSESSMENT_PREFIX, referral_number, 7),
                                             referral_client),
    }


def _clients(clients: Frame, client_id: pa.Array) -> pa.Table:
    return t.build("clients", {
        "client_id": client_id,
        "date_of_birth": t.dates(clients["date_of_birth"]),
        "sex": t.labels(codes.SEXES, clients["sex"]),
        "local_authority": t.labels([name for name, _ in p.LOCAL_AUTHORITIES], clients["local_authority"]),
    }, len(client_id))


def _assessments(a: Frame, assessment_id: pa.Array, client_id: pa.Array) -> pa.Table:
    n = len(assessment_id)
    return t.build("assessments", {
        "assessment_id": assessment_id,
        "client_id": client_id,
        "assessed_on": t.dates(a["assessed_on"]),
        "assessor_org": t.labels([p.LASARS.provider_id], np.zeros(n, np.int64)),
        "assessor_independent": t.flags(a["independent"]),
        "primary_substance": t.labels(codes.SUBSTANCES, a["primary"]),
        "opiate_and_crack": t.flags(a["opiate_and_crack"]),
        "injecting_status": t.labels(codes.INJECTING_STATUSES, a["injecting"]),
        "years_of_use": t.ints(a["years_of_use"]),
        "previous_treatment_episodes": t.ints(a["previous_treatment"]),
        "housing_need": t.labels(codes.HOUSING_NEEDS, a["housing"]),
        "mental_health_need": t.flags(a["mental_health"]),
        "offences_last_12_months": t.ints(a["offences"]),
        "criminal_justice_referral": t.flags(a["cj_referral"]),
        "parent_or_carer": t.flags(a["parent_or_carer"]),
        "complexity_group": t.labels(p.COMPLEXITY_GROUPS, a["complexity"]),
    }, n)


def _episodes(e: Frame, profile: np.ndarray, episode_id: pa.Array, client_id: pa.Array) -> pa.Table:
    lines = [line for by_group in SERVICE_LINE for line in by_group]
    line = e["provider"] * len(p.GROUPS) + PROFILE_GROUP[profile]
    return t.build("episodes", {
        "episode_id": episode_id,
        "client_id": client_id,
        "provider_id": t.labels([p.PRIME.provider_id, p.SUBCONTRACTOR.provider_id], e["provider"]),
        "referral_date": t.dates(e["referral"]),
        "triage_date": t.dates(e["triage"]),
        "start_date": t.dates(e["start"]),
        "discharge_date": t.dates(e["discharge"]),
        "discharge_reason": t.labels(REASONS, e["reason"]),
        "service_line": t.labels(lines, line),
        "substances": t.labels([prof.label for prof in p.PROFILES], profile),
        "stock_or_flow": t.labels(codes.STOCK_OR_FLOW, np.where(e["start"] == NO_DATE, e["referral"], e["start"])
                                  >= day_number(p.GO_LIVE)),
    }, len(episode_id))


def _tops(top: Frame, top_id: pa.Array, episode_id: pa.Array, ep_client: pa.Array) -> pa.Table:
    episode = pa.array(top["episode"])
    values = {
        "top_id": top_id,
        "client_id": ep_client.take(episode),
        "episode_id": episode_id.take(episode),
        "top_date": t.dates(top["date"]),
        "stage": t.labels(codes.TOP_STAGES, top["stage"]),
        "alcohol_units": t.decimals(top["alcohol_units"]),
    }
    values.update({column: t.ints(top[column]) for column in TOP_INTS})
    values.update({column: t.flags(top[column]) for column in TOP_FLAGS})
    return t.build("top", values, len(top_id))


def _events(events: Frame, episode_id: pa.Array, ep_client: pa.Array) -> pa.Table:
    episode = pa.array(events["episode"])
    return t.build("events", {
        "client_id": ep_client.take(episode),
        "episode_id": episode_id.take(episode),
        "event_date": t.dates(events["date"]),
        "event_type": t.labels(EVENT_TYPES, events["type"]),
        "detail": t.labels(DETAILS, events["detail"]),
    }, len(episode))


def _presentations(shown: Frame, client_id: pa.Array) -> pa.Table:
    shown = take(shown, np.lexsort((shown["setting"], shown["date"], shown["client"])))
    return t.build("presentations", {
        "client_id": client_id.take(pa.array(shown["client"])),
        "presented_on": t.dates(shown["date"]),
        "setting": t.labels(codes.PRESENTATION_SETTINGS, shown["setting"]),
        "source": t.labels(SOURCES, shown["source"]),
    }, len(shown["client"]))
