"""Area-level tables: providers, cohort offending counts (quarterly, with a baseline year), feedback."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.sampling import choose, day_number

TREATMENT_PROVIDERS = (p.PRIME, p.SUBCONTRACTOR)
QUESTIONS = (
    "I was treated with dignity and respect",
    "My recovery plan reflects my own goals",
    "I could see my keyworker when I needed to",
    "I feel more in control of my drug or alcohol use",
    "I would recommend this service to a friend",
)
LOW_COMMENTS = ("Waited too long for an appointment", "Keyworker changed three times", "Felt rushed")
HIGH_COMMENTS = ("Staff really listened", "The group sessions helped me", "Got me back into work")


def providers() -> pa.Table:
    return t.build("providers", {
        "provider_id": pa.array([x.provider_id for x in p.PROVIDERS]),
        "name": pa.array([x.name for x in p.PROVIDERS]),
        "role": pa.array([x.role for x in p.PROVIDERS]),
        "service_lines": pa.array([";".join(x.service_lines) for x in p.PROVIDERS]),
    }, len(p.PROVIDERS))


def _quarters() -> tuple[np.ndarray, np.ndarray]:
    """Start and end days of the quarters from the baseline year to the extract date."""
    first = np.datetime64(p.BASELINE_START, "M")
    last = np.datetime64(p.EXTRACT_DATE, "M")
    starts = np.arange(first, last + 1, 3)
    ends = (starts + 3).astype("datetime64[D]") - 1
    keep = ends <= np.datetime64(p.EXTRACT_DATE, "D")
    return starts[keep].astype("datetime64[D]").astype(np.int64), ends[keep].astype(np.int64)


def offending_cohort(rng: np.random.Generator, clients: int) -> pa.Table:
    """Quarterly people and offences per cohort; offences per person fall modestly after go-live."""
    start, end = _quarters()
    go_live = day_number(p.GO_LIVE)
    years_after = np.maximum(start - go_live, 0) / 365.25
    cohort = np.repeat(np.arange(len(p.COHORTS)), len(start))
    q = np.tile(np.arange(len(start)), len(p.COHORTS))
    size = np.array([max(10.0, c.people_per_client * clients) for c in p.COHORTS])[cohort]
    people = np.round(size * (1 + rng.normal(0, 0.02, len(q)))).astype(np.int64)
    rate = np.array([c.offences_per_person for c in p.COHORTS])[cohort]
    rate = rate * (1 - p.OFFENDING_FALL_PER_YEAR * years_after[q]) * rng.uniform(0.95, 1.05, len(q))
    return t.build("offending_cohort", {
        "cohort_id": t.labels([c.cohort_id for c in p.COHORTS], cohort),
        "period_start": t.dates(start[q]),
        "period_end": t.dates(end[q]),
        "people": t.ints(people),
        "offences": t.ints(rng.poisson(people * rate)),
        "is_baseline": t.flags(start[q] < go_live),
    }, len(q))


def feedback(rng: np.random.Generator, client_numbers: np.ndarray) -> pa.Table:
    """Responses about the treatment providers, a few naming the client (any of `client_numbers`)."""
    n = max(1, round(len(client_numbers) * p.FEEDBACK_PER_CLIENT))
    provider = (rng.random(n) >= p.PRIME_EPISODE_SHARE).astype(np.int64)
    table = np.array([p.FEEDBACK_SCORES[x.provider_id] for x in TREATMENT_PROVIDERS])
    cum = np.cumsum(table, axis=1)[provider]
    score = 1 + (rng.random(n)[:, None] >= cum[:, :-1]).sum(axis=1)
    low, high = LOW_COMMENTS, HIGH_COMMENTS
    positive = (score >= 4) | ((score == 3) & (rng.random(n) < 0.5))
    comment = np.where(positive, len(low) + rng.integers(0, len(high), n), rng.integers(0, len(low), n))
    comment = np.where(rng.random(n) < p.FEEDBACK_COMMENT_SHARE, comment, -1)
    named = rng.random(n) < p.FEEDBACK_CLIENT_SHARE
    client = client_numbers[rng.integers(0, len(client_numbers), n)]
    return t.build("feedback", {
        "provider_id": t.labels([x.provider_id for x in TREATMENT_PROVIDERS], provider),
        "response_date": t.dates(rng.integers(day_number(p.GO_LIVE), day_number(p.EXTRACT_DATE) + 1, n)),
        "client_id": t.blank_unless(named, t.ids("C", client + 1, 7)),
        "question": t.labels(QUESTIONS, choose(rng, [1.0] * len(QUESTIONS), n)),
        "score": t.ints(score),
        "comment": t.labels((*low, *high), comment),
    }, n)
