"""Injected gaming (`recoverypbr synth --gaming KIND=STRENGTH[,...] --gaming-provider P`), for measuring detection.

One provider games from go-live on, in known ways named after the assurance indicator families; the strength
(0 < s <= 1) is the share of the provider's eligible cases it games. Each kind is a set of vectorised edits of a
chunk's generated tables, drawn from its own random stream, touching only the gaming provider's rows dated from
go-live: a gamed area and a clean area with the same seed differ nowhere else. docs/synthetic-data.md says
exactly what each kind edits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.data import codes
from recoverypbr.errors import DataError
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.assessments import ACUTE, complexity_points
from recoverypbr.synth.journeys import EXTRACT
from recoverypbr.synth.population import PRESENTING
from recoverypbr.synth.sampling import NO_DATE, Frame, day_number, uniform_days
from recoverypbr.synth.tops import DAY_COLUMNS

GO_LIVE = day_number(p.GO_LIVE)
_CUTS = np.array(p.COMPLEXITY_CUTS)
HIGH = len(p.COMPLEXITY_GROUPS) - 1
_PROFILE_LABELS = pa.array([prof.label for prof in p.PROFILES])
#: TOP columns holding the answers (everything but the ids, the date and the stage).
ANSWER_COLUMNS = (*DAY_COLUMNS.values(), "injecting_days", "sharing", "alcohol_units", "shoplifting_days",
                  "drug_selling_days", "other_theft_days", "assault_days", "psychological_health",
                  "physical_health", "quality_of_life", "acute_housing_problem", "risk_of_eviction",
                  "paid_work_days", "education_days")


def parse_gaming(spec: str | Mapping[str, float] | None) -> dict[str, float]:
    """`KIND=STRENGTH[,KIND=STRENGTH...]` (or a mapping) as {kind: strength}, each strength in (0, 1]."""
    if spec is None:
        return {}
    hint = (f"write e.g. --gaming assessment=0.5,timing=0.3; kinds: {', '.join(p.GAMING_KINDS)}; "
            "a strength is the share of the provider's eligible cases gamed, above 0 and at most 1")
    if isinstance(spec, str):
        pairs: list[tuple[str, str | float]] = []
        for part in spec.split(","):
            name, sep, text = part.partition("=")
            if not sep:
                raise DataError(f"gaming {part.strip()!r} has no strength", hint=hint)
            pairs.append((name.strip(), text.strip()))
    else:
        pairs = list(spec.items())
    found: dict[str, float] = {}
    for kind, value in pairs:
        if kind not in p.GAMING_KINDS:
            raise DataError(f"unknown gaming kind {kind!r}", hint=hint)
        if kind in found:
            raise DataError(f"gaming kind {kind!r} is given twice", hint=hint)
        try:
            strength = float(value)
        except (TypeError, ValueError):
            raise DataError(f"gaming strength {value!r} of {kind} is not a number", hint=hint) from None
        if not 0.0 < strength <= 1.0:
            raise DataError(f"gaming strength {value!r} of {kind} is outside (0, 1]", hint=hint)
        found[kind] = strength
    if not found:
        raise DataError("no gaming kind given", hint=hint)
    return found


def check_gaming(gaming: Mapping[str, float], provider: str | None, known: Sequence[str]) -> None:
    """Gaming needs a gaming provider that is one of the area's treatment providers (and the other way round)."""
    if gaming and provider is None:
        raise DataError("gaming needs the provider that games",
                        hint=f"add --gaming-provider, one of {', '.join(known)}")
    if provider is not None and not gaming:
        raise DataError(f"--gaming-provider {provider} without any gaming",
                        hint="add e.g. --gaming assessment=0.5, or leave out --gaming-provider")
    if provider is not None and provider not in known:
        raise DataError(f"gaming provider {provider!r} is not a treatment provider of this area",
                        hint=f"use one of {', '.join(known)}")


@dataclass
class Gamer:
    """The gaming of one area: who, which kinds and how strongly, what was injected so far, and ids used."""

    provider: str
    kinds: dict[str, float]
    seed: int
    stream: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    reassessments: int = 0

    def apply(self, tables: dict[str, pa.Table], chunk: int) -> dict[str, pa.Table]:
        """A chunk's tables with every kind applied, in GAMING_KINDS order (episodes and the first as many
        assessments must be row-aligned, as a chunk is generated)."""
        steps = {"assessment": self._assessment, "creaming_parking": _creaming_parking, "timing": _timing,
                 "misrepresentation": _misrepresentation}
        for index, kind in enumerate(p.GAMING_KINDS):
            if kind not in self.kinds:
                continue
            rng = np.random.default_rng([self.seed, self.stream, chunk + 1, index])
            tables, counts = steps[kind](rng, tables, self.provider, self.kinds[kind])
            mine = self.counts.setdefault(kind, {})
            for name, n in counts.items():
                mine[name] = mine.get(name, 0) + n
        return tables

    def _assessment(self, rng: np.random.Generator, tables: dict[str, pa.Table], provider: str, s: float
                    ) -> tuple[dict[str, pa.Table], dict[str, int]]:
        """Inflated complexity: a share s of the provider's episodes starting from go-live have their
        assessment's inputs inflated (housing need up a step, a mental health need, 2 more previous treatment
        episodes, 5 more years of use) and the group recorded from the inflated points; half of those (s/2)
        get a re-assessment by the provider itself 30-90 days after the start, scoring higher still."""
        e = tables["episodes"]
        n = e.num_rows
        a = tables["assessments"]
        first = a.slice(0, n)
        start = days(e["start_date"])
        end = np.where(is_blank(e["discharge_date"]), EXTRACT, days(e["discharge_date"]))
        pick = _of(e, provider) & (start != NO_DATE) & (start >= GO_LIVE) & (rng.random(n) < s)
        again = pick & (rng.random(n) < 0.5)
        on = start + uniform_days(rng, *p.REASSESSMENT_DAYS, n)
        inputs = assessment_inputs(first)
        before = np.searchsorted(_CUTS, complexity_points(inputs), side="right")
        inflated = _inflate(inputs, pick)
        points = complexity_points(inflated)
        group = np.where(pick, np.searchsorted(_CUTS, points, side="right"), group_index(first))
        first = _with_inputs(first, inflated, group)
        again &= (on < end) & (on <= EXTRACT)
        extra = _inflate({k: v[again] for k, v in inflated.items()}, np.ones(int(again.sum()), bool), second=True)
        extra_points = complexity_points(extra)
        higher = extra_points > points[again]
        rows = np.flatnonzero(again)[higher]
        extra = {k: v[higher] for k, v in extra.items()}
        numbers = self.reassessments + 1 + np.arange(len(rows))
        self.reassessments += len(rows)
        re = _with_inputs(first.take(pa.array(rows, pa.int64())), extra,
                          np.searchsorted(_CUTS, extra_points[higher], side="right"))
        re = _set(re, "assessment_id", t.ids(p.REASSESSMENT_PREFIX, numbers, 7))
        re = _set(re, "assessed_on", t.dates(on[rows]))
        re = _set(re, "assessor_org", pa.array([provider] * len(rows), pa.string()))
        re = _set(re, "assessor_independent", t.flags(np.zeros(len(rows), bool)))
        after = np.searchsorted(_CUTS, points, side="right")
        tables = {**tables, "assessments": pa.concat_tables([first, a.slice(n), re])}
        return tables, {"assessments inflated": int(pick.sum()),
                        "moved up a group": int((pick & (after > before)).sum()),
                        "re-assessments by the provider": len(rows)}


def _creaming_parking(rng: np.random.Generator, tables: dict[str, pa.Table], provider: str, s: float
                      ) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Creaming and parking of the high group (by points): among the provider's started episodes referred
    from go-live of clients whose assessment scores high, a share s never start (declined a few days after
    triage; their TOPs and events dropped); the rest wait about 30*s days longer from triage to start; a share
    s of the high group's review TOPs from go-live are dropped; a share s/2 of its open or planned exits become
    unplanned drop-outs."""
    e, top, events = tables["episodes"], tables["top"], tables["events"]
    n = e.num_rows
    a = tables["assessments"].slice(0, n)
    high = np.searchsorted(_CUTS, complexity_points(assessment_inputs(a)), side="right") == HIGH
    start, triage, referral = days(e["start_date"]), days(e["triage_date"]), days(e["referral_date"])
    discharge = days(e["discharge_date"])
    closed = discharge != NO_DATE
    end = np.where(closed, discharge, EXTRACT)
    reason = _reason_index(e)
    started = start != NO_DATE
    mine = _of(e, provider) & high & started
    eligible = mine & (referral >= GO_LIVE)
    u_never, u_exit = rng.random(n), rng.random(n)
    never = eligible & (u_never < s)
    delay = np.rint(p.CREAMING_WAIT_DAYS * s * rng.uniform(0.5, 1.5, n)).astype(np.int64)
    limit = np.where(closed, discharge - p.DURATION_MIN_DAYS, EXTRACT) - start
    delay = np.where(eligible & ~never, np.clip(np.minimum(delay, limit), 0, None), 0)
    close = np.minimum(triage + uniform_days(rng, *p.NOT_STARTED_CLOSE_DAYS, n), end)

    # parked: no exit planned for them
    planned = np.isin(reason, [codes.DISCHARGE_REASONS.index(r) for r in p.PLANNED_EXITS])
    exits = mine & ~never & ((~closed) | (planned & (discharge >= GO_LIVE))) & (u_exit < s / 2)
    top_row = _episode_rows(top, e)
    event_row = _episode_rows(events, e)
    new_start = start + delay
    last = np.maximum(new_start, p.DURATION_MIN_DAYS + start)
    top_days, event_days = days(top["top_date"]), days(events["event_date"])
    top_days = np.maximum(top_days, new_start[top_row])
    event_days = np.maximum(event_days, new_start[event_row])
    np.maximum.at(last, top_row, top_days)
    np.maximum.at(last, event_row, event_days)
    open_end = last + uniform_days(rng, 1, 30, n)
    exits &= closed | (open_end <= EXTRACT)
    dropped = codes.DISCHARGE_REASONS.index("dropped_out")
    declined = codes.DISCHARGE_REASONS.index("declined")
    new_discharge = np.where(never, close, np.where(exits & ~closed, open_end, discharge))
    new_reason = np.where(never, declined, np.where(exits, dropped, reason))
    e = _set(e, "start_date", t.dates(np.where(never, NO_DATE, new_start)))
    e = _set(e, "discharge_date", t.dates(new_discharge))
    e = _set(e, "discharge_reason", t.labels(codes.DISCHARGE_REASONS, new_reason))
    assessed = days(a["assessed_on"])
    a = _set(a, "assessed_on", t.dates(np.where(never, np.minimum(assessed, triage), assessed)))

    top = _set(top, "top_date", t.dates(top_days))
    events = _set(events, "event_date", t.dates(event_days))
    review = _stage(top, "review")
    parked = review & high[top_row] & _of(e, provider)[top_row] & (days(top["top_date"]) >= GO_LIVE)
    parked &= rng.random(top.num_rows) < s
    keep_top = ~never[top_row] & ~parked
    tables = {**tables, "episodes": e, "assessments": pa.concat_tables([a, tables["assessments"].slice(n)]),
              "top": top.filter(pa.array(keep_top)), "events": events.filter(pa.array(~never[event_row]))}
    return tables, {"high-group referrals never started": int(never.sum()),
                    "high-group starts delayed": int((delay > 0).sum()),
                    "high-group reviews dropped": int(parked.sum()),
                    "high-group exits made unplanned": int(exits.sum())}


def _timing(rng: np.random.Generator, tables: dict[str, pa.Table], provider: str, s: float
            ) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Timing around payment windows: a share s of the provider's discharges from go-live dated in the last 21
    days of a calendar quarter move to days 1-14 of the next quarter (never past the extract, nor onto the
    client's next referral); the episode's exit TOP and any post-exit TOP move with it (a post-exit TOP that
    would fall after the extract is dropped)."""
    e, top = tables["episodes"], tables["top"]
    n = e.num_rows
    discharge = days(e["discharge_date"])
    closed = discharge != NO_DATE
    month = np.where(closed, discharge, 0).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    next_quarter = ((month // 3 + 1) * 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    moved_to = next_quarter + uniform_days(rng, 0, p.TIMING_FIRST_DAYS - 1, n)
    pick = _of(e, provider) & closed & (days(e["start_date"]) != NO_DATE) & (discharge >= GO_LIVE)
    pick &= (next_quarter - discharge <= p.TIMING_LAST_DAYS) & (rng.random(n) < s)
    pick &= (moved_to <= EXTRACT) & (moved_to < _next_referral(e))
    delta = np.where(pick, moved_to - discharge, 0)
    e = _set(e, "discharge_date", t.dates(np.where(pick, moved_to, discharge)))
    row = _episode_rows(top, e)
    after = _stage(top, "exit") | _stage(top, "post_exit")
    top_days = days(top["top_date"]) + np.where(after, delta[row], 0)
    top = _set(top, "top_date", t.dates(top_days)).filter(pa.array(top_days <= EXTRACT))
    return {**tables, "episodes": e, "top": top}, {"discharges moved into the next quarter": int(pick.sum())}


def _misrepresentation(rng: np.random.Generator, tables: dict[str, pa.Table], provider: str, s: float
                       ) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Misrepresented success: a share s of the provider's review and exit TOPs from go-live record no use of
    any presenting substance and a quality of life of at least 14; half of those (s/2) copy every answer of one
    template TOP of the provider; a share s of its drop-outs started from go-live are recorded as completed drug free
    (their review TOPs dropped: completions with no review); a share s of the feedback about it from go-live
    is 2 points lower (never below 1)."""
    e, top, feedback = tables["episodes"], tables["top"], tables["feedback"]
    n = e.num_rows
    row = _episode_rows(top, e)
    profile = np.asarray(pc.index_in(e["substances"], _PROFILE_LABELS).to_numpy(zero_copy_only=False))
    presenting = PRESENTING[profile][row]
    top_days = days(top["top_date"])
    told = _of(e, provider)[row] & (_stage(top, "review") | _stage(top, "exit")) & (top_days >= GO_LIVE)
    told &= rng.random(top.num_rows) < s
    copied = told & (rng.random(top.num_rows) < 0.5)
    for i, substance in enumerate(codes.SUBSTANCES):
        column = DAY_COLUMNS[substance]
        values = np.asarray(top[column].to_numpy(zero_copy_only=False))
        top = _set(top, column, t.ints(np.where(told & presenting[:, i], 0, values)))
    quality = np.asarray(top["quality_of_life"].to_numpy(zero_copy_only=False))
    top = _set(top, "quality_of_life", t.ints(np.where(told, np.maximum(quality, p.MISREPORTED_QUALITY_OF_LIFE),
                                                      quality)))
    if copied.any():
        use = sum((np.asarray(top[c].to_numpy(zero_copy_only=False)) for c in DAY_COLUMNS.values()),
                  np.zeros(top.num_rows, np.int64))
        candidates = np.flatnonzero(told)
        template = candidates[np.argmin(use[candidates])]
        source = pa.array(np.where(copied, template, np.arange(top.num_rows)), pa.int64())
        for column in ANSWER_COLUMNS:
            top = _set(top, column, top[column].take(source))
    reason = _reason_index(e)
    dropped = codes.DISCHARGE_REASONS.index("dropped_out")
    recoded = _of(e, provider) & (reason == dropped) & (days(e["start_date"]) >= GO_LIVE)
    recoded &= rng.random(n) < s
    new_reason = np.where(recoded, codes.DISCHARGE_REASONS.index("completed_drug_free"), reason)
    e = _set(e, "discharge_reason", t.labels(codes.DISCHARGE_REASONS, new_reason))
    no_review = recoded[row] & _stage(top, "review")
    top = top.filter(pa.array(~no_review))
    f_mine = np.asarray(pc.equal(feedback["provider_id"], provider).to_numpy(zero_copy_only=False))
    lower = f_mine & (days(feedback["response_date"]) >= GO_LIVE) & (rng.random(feedback.num_rows) < s)
    score = np.asarray(feedback["score"].to_numpy(zero_copy_only=False))
    feedback = _set(feedback, "score", t.ints(np.where(lower, np.maximum(score - p.FEEDBACK_FALL, 1), score)))
    return {**tables, "episodes": e, "top": top, "feedback": feedback}, {
        "TOPs reporting no use": int(told.sum()), "TOPs copied from a template": int(copied.sum()),
        "drop-outs recorded as completions": int(recoded.sum()), "reviews dropped for them": int(no_review.sum()),
        "feedback responses lowered": int(lower.sum())}


# --- helpers on Arrow columns ------------------------------------------------------------------------------


def days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Dates as day numbers, NO_DATE for blanks."""
    as_int = pc.fill_null(pc.cast(column, pa.int32()), NO_DATE)
    return np.asarray(as_int.to_numpy(zero_copy_only=False)).astype(np.int64)


def is_blank(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False))


def _flag(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.equal(column, "Y").to_numpy(zero_copy_only=False))


def _code(column: pa.ChunkedArray, names: Sequence[str]) -> np.ndarray:
    found = pc.fill_null(pc.index_in(column, pa.array(list(names))), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False)).astype(np.int64)


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False)).astype(np.int64)


def assessment_inputs(a: pa.Table) -> Frame:
    """An assessments table's inputs in the form `complexity_points` reads."""
    return {
        "injecting": _code(a["injecting_status"], codes.INJECTING_STATUSES),
        "years_of_use": _ints(a["years_of_use"]),
        "previous_treatment": _ints(a["previous_treatment_episodes"]),
        "housing": _code(a["housing_need"], codes.HOUSING_NEEDS),
        "mental_health": _flag(a["mental_health_need"]),
        "offences": _ints(a["offences_last_12_months"]),
        "cj_referral": _flag(a["criminal_justice_referral"]),
        "opiate_and_crack": _flag(a["opiate_and_crack"]),
        "parent_or_carer": _flag(a["parent_or_carer"]),
    }


def group_index(a: pa.Table) -> np.ndarray:
    return _code(a["complexity_group"], p.COMPLEXITY_GROUPS)


def _inflate(inputs: Frame, pick: np.ndarray, second: bool = False) -> Frame:
    """Inputs inflated where `pick`; a second time (a provider's re-assessment) more so."""
    out = dict(inputs)
    housing = np.where(inputs["housing"] >= 0, np.minimum(inputs["housing"] + 1, ACUTE), inputs["housing"])
    out["housing"] = np.where(pick, ACUTE if second else housing, inputs["housing"])
    out["mental_health"] = inputs["mental_health"] | pick
    out["previous_treatment"] = inputs["previous_treatment"] + np.where(pick, p.INFLATE_PREVIOUS_TREATMENT, 0)
    out["years_of_use"] = np.minimum(inputs["years_of_use"] + np.where(pick, p.INFLATE_YEARS_OF_USE, 0), 90)
    if second:
        out["offences"] = np.where(pick, np.maximum(inputs["offences"], 1), inputs["offences"])
    return out


def _with_inputs(a: pa.Table, inputs: Frame, group: np.ndarray) -> pa.Table:
    a = _set(a, "housing_need", t.labels(codes.HOUSING_NEEDS, inputs["housing"]))
    a = _set(a, "mental_health_need", t.flags(inputs["mental_health"]))
    a = _set(a, "previous_treatment_episodes", t.ints(inputs["previous_treatment"]))
    a = _set(a, "years_of_use", t.ints(inputs["years_of_use"]))
    a = _set(a, "offences_last_12_months", t.ints(inputs["offences"]))
    return _set(a, "complexity_group", t.labels(p.COMPLEXITY_GROUPS, group))


def _of(e: pa.Table, provider: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.equal(e["provider_id"], provider), False).to_numpy(zero_copy_only=False))


def _stage(top: pa.Table, stage: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.equal(top["stage"], stage), False).to_numpy(zero_copy_only=False))


def _reason_index(e: pa.Table) -> np.ndarray:
    return _code(e["discharge_reason"], codes.DISCHARGE_REASONS)


def _episode_rows(rows: pa.Table, e: pa.Table) -> np.ndarray:
    """The episode row of each row of a TOP or events table."""
    return np.asarray(pc.index_in(rows["episode_id"], e["episode_id"]).to_numpy(zero_copy_only=False)).astype(np.int64)


def _next_referral(e: pa.Table) -> np.ndarray:
    """The referral date of the client's next episode or referral (a day after the extract when none)."""
    referral = days(e["referral_date"])
    client = np.asarray(pc.cast(pc.utf8_slice_codeunits(e["client_id"], 1), pa.int64()).to_numpy(zero_copy_only=False))
    order = np.lexsort((referral, client))
    following = np.full(len(referral), EXTRACT + 1, np.int64)
    same = client[order][1:] == client[order][:-1]
    following[order[:-1]] = np.where(same, referral[order][1:], EXTRACT + 1)
    return following


def _set(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)
