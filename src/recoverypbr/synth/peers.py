"""Areas with several exchangeable treatment providers (`recoverypbr synth --providers N`).

Providers P01..PNN (P01 the prime, the rest subcontractors) all run the prime's service lines, and the LASARS
is `L01`. Each client is given one provider at random with equal shares, and all of the client's episodes and
referrals go to it; every provider's service users answer the feedback questions from one score distribution.
Nothing else depends on the provider, so the providers are peers: any difference between them is chance.
The rest of each chunk's tables are exactly as the area would be with one provider.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.errors import DataError
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.area import HIGH_COMMENTS, LOW_COMMENTS, QUESTIONS
from recoverypbr.synth.population import PROFILE_GROUP
from recoverypbr.synth.sampling import choose, day_number

#: The service line of an episode by its completion-rate group (GROUPS order): the prime's lines.
_LINE_BY_GROUP = ("adult drugs prescribing", "adult drugs psychosocial", "adult alcohol")
_PROFILE_LABELS = pa.array([prof.label for prof in p.PROFILES])
#: The part number of a chunk's peer stream (after the client chunk parts).
_PROVIDER_PART, _FEEDBACK_PART = 1, 2


def check_providers(providers: int) -> None:
    """A peer area has 2 to 99 treatment providers."""
    if not isinstance(providers, int) or isinstance(providers, bool) or not 2 <= providers <= p.MAX_PEER_PROVIDERS:
        raise DataError(f"providers must be a whole number from 2 to {p.MAX_PEER_PROVIDERS}, not {providers!r}",
                        hint="ask for e.g. --providers 5 (P01 the prime, P02-P05 subcontractors)")


def provider_ids(providers: int) -> list[str]:
    """P01..PNN."""
    return [f"P{i:02d}" for i in range(1, providers + 1)]


def providers_table(providers: int) -> pa.Table:
    """The treatment providers and the LASARS `L01`."""
    ids = provider_ids(providers)
    lines = ";".join(p.PRIME.service_lines)
    names = [f"Peer Recovery Service {i:02d}" for i in range(1, providers + 1)]
    return t.build("providers", {
        "provider_id": pa.array([*ids, p.PEER_LASARS_ID]),
        "name": pa.array([*names, p.LASARS.name]),
        "role": pa.array(["prime"] + ["subcontractor"] * (providers - 1) + ["lasars"]),
        "service_lines": pa.array([lines] * providers + [";".join(p.LASARS.service_lines)]),
    }, providers + 1)


def client_providers(seed: int, stream: int, chunk: int, size: int, providers: int) -> np.ndarray:
    """The provider (0-based) of each of a chunk's `size` clients, drawn with equal shares."""
    return np.random.default_rng([seed, stream, chunk + 1, _PROVIDER_PART]).integers(0, providers, size)


def client_rows(client_id: pa.ChunkedArray | pa.Array, first_client: int) -> np.ndarray:
    """The chunk row of each client id `C0000001` (clients numbered from `first_client`, 0-based)."""
    digits = pc.utf8_slice_codeunits(client_id, 1)
    return np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)) - 1 - first_client


def share_out(tables: dict[str, pa.Table], seed: int, stream: int, chunk: int, first_client: int, size: int,
              providers: int) -> dict[str, pa.Table]:
    """A chunk's tables with each client's episodes at the client's provider, assessments by `L01`, and
    feedback about the providers drawn afresh (each response about the provider of a client of the chunk)."""
    mine = client_providers(seed, stream, chunk, size, providers)
    ids = provider_ids(providers)
    episodes = tables["episodes"]
    provider = mine[client_rows(episodes["client_id"], first_client)]
    profile = pc.index_in(episodes["substances"], _PROFILE_LABELS).to_numpy(zero_copy_only=False)
    group = PROFILE_GROUP[np.asarray(profile)]
    episodes = _set(episodes, "provider_id", t.labels(ids, provider))
    episodes = _set(episodes, "service_line", t.labels(_LINE_BY_GROUP, group))
    assessments = tables["assessments"]
    assessments = _set(assessments, "assessor_org", pa.array([p.PEER_LASARS_ID] * assessments.num_rows, pa.string()))
    rng = np.random.default_rng([seed, stream, chunk + 1, _FEEDBACK_PART])
    return {**tables, "episodes": episodes, "assessments": assessments,
            "feedback": peer_feedback(rng, first_client, mine, ids)}


def peer_feedback(rng: np.random.Generator, first_client: int, client_provider: np.ndarray,
                  ids: list[str]) -> pa.Table:
    """Responses from a chunk's clients about their own provider, every provider scored alike."""
    size = len(client_provider)
    n = max(1, round(size * p.FEEDBACK_PER_CLIENT))
    client = rng.integers(0, size, n)
    score = 1 + choose(rng, list(p.PEER_FEEDBACK_SCORES), n)
    positive = (score >= 4) | ((score == 3) & (rng.random(n) < 0.5))
    low, high = LOW_COMMENTS, HIGH_COMMENTS
    comment = np.where(positive, len(low) + rng.integers(0, len(high), n), rng.integers(0, len(low), n))
    comment = np.where(rng.random(n) < p.FEEDBACK_COMMENT_SHARE, comment, -1)
    named = rng.random(n) < p.FEEDBACK_CLIENT_SHARE
    return t.build("feedback", {
        "provider_id": t.labels(ids, client_provider[client]),
        "response_date": t.dates(rng.integers(day_number(p.GO_LIVE), day_number(p.EXTRACT_DATE) + 1, n)),
        "client_id": t.blank_unless(named, t.ids("C", first_client + client + 1, 7)),
        "question": t.labels(QUESTIONS, choose(rng, [1.0] * len(QUESTIONS), n)),
        "score": t.ints(score),
        "comment": t.labels((*low, *high), comment),
    }, n)


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)
