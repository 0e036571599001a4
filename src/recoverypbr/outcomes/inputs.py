"""The as-of view of the warehouse: only what was known on the evaluation date counts.

A statement for a past period must be re-created exactly, so every rule reads its rows through this view:
TOPs by `top_date`, events by `event_date`, presentations by `presented_on`, individual offences by
`offence_date` and cohort offending by `period_end` count when dated on or before `as_of`; an episode counts
when it started on or before `as_of`, and a discharge dated after `as_of` is hidden (date and reason), so the
episode is seen as open, as it was that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from recoverypbr.warehouse.connection import Reader
from recoverypbr.warehouse.row_digests import DIGEST_COLUMNS, DIGESTED_TABLES

EPISODE_COLUMNS = (
    "episode_id",
    "client_id",
    "provider_id",
    "start_date",
    "discharge_date",
    "discharge_reason",
    "service_line",
    "substances",
)
TOP_COLUMNS = (
    "top_id",
    "client_id",
    "episode_id",
    "top_date",
    "stage",
    "alcohol_days",
    "opiate_days",
    "crack_days",
    "cocaine_days",
    "amphetamine_days",
    "cannabis_days",
    "other_drug_days",
    "injecting_days",
    "shoplifting_days",
    "drug_selling_days",
    "other_theft_days",
    "assault_days",
    "psychological_health",
    "physical_health",
    "quality_of_life",
    "paid_work_days",
    "education_days",
    "acute_housing_problem",
    "risk_of_eviction",
    "sharing",
    "alcohol_units",
)
EVENT_COLUMNS = ("client_id", "episode_id", "event_date", "event_type")
PRESENTATION_COLUMNS = ("client_id", "presented_on", "setting")
OFFENCE_COLUMNS = ("client_id", "offence_date", "offences")
COHORT_COLUMNS = ("cohort_id", "period_start", "period_end", "people", "offences", "is_baseline")
#: The input tables (each keeping its rows' digests for the data digest: `warehouse.row_digests`).
TABLE_NAMES = DIGESTED_TABLES


@dataclass(frozen=True)
class Inputs:
    """The tables as known on `as_of`."""

    as_of: date
    episodes: ir.Table
    top: ir.Table
    events: ir.Table
    presentations: ir.Table
    offending_individual: ir.Table
    offending_cohort: ir.Table
    assessments: ir.Table
    clients: ir.Table
    groups: ir.Table | None = None
    """When set, `engine.episode_groups` of these inputs for the contract being priced, computed once (pricing
    many periods stores it rather than grouping the episodes again for every query)."""
    payees: ir.Table | None = None
    """When set, `engine.attributed_provider` of these inputs for the contract being priced, computed once."""


def as_of_episodes(episodes: ir.Table, as_of: date) -> ir.Table:
    """Episodes started on or before `as_of`; a discharge after `as_of` is hidden (the episode was open)."""
    started = episodes.filter(episodes.start_date <= as_of)
    known = started.discharge_date <= as_of
    return started.select(
        *[c for c in EPISODE_COLUMNS if c not in ("discharge_date", "discharge_reason")],
        discharge_date=ibis.ifelse(known, started.discharge_date, ibis.null("date")),
        discharge_reason=ibis.ifelse(known, started.discharge_reason, ibis.null("string")),
    )


def dated_on_or_before(table: ir.Table, column: str, as_of: date, columns: tuple[str, ...]) -> ir.Table:
    """The rows of `table` whose `column` is on or before `as_of`, with only `columns`."""
    return table.filter(table[column] <= as_of).select(*columns)


def stored_columns(table: ir.Table, digests: bool = False) -> tuple[str, ...]:
    """A stored table's columns, without its rows' digests (`warehouse.row_digests`) unless `digests`."""
    return tuple(c for c in table.columns if digests or c not in DIGEST_COLUMNS)


#: The dated input tables: the column that dates each row, and the columns their as-of views show.
DATED = {
    "top": ("top_date", TOP_COLUMNS),
    "events": ("event_date", EVENT_COLUMNS),
    "presentations": ("presented_on", PRESENTATION_COLUMNS),
    "offending_individual": ("offence_date", OFFENCE_COLUMNS),
    "offending_cohort": ("period_end", COHORT_COLUMNS),
}


def as_of_inputs(tables: Mapping[str, ir.Table], as_of: date, digests: bool = False) -> Inputs:
    """The as-of view of the canonical tables (warehouse tables or any Ibis tables with their columns). With
    `digests`, each view of a table that keeps its rows' digests (`warehouse.row_digests`) keeps them too (for the
    data digest); a view never shows them otherwise."""

    def dated(name: str) -> ir.Table:
        column, shown = DATED[name]
        kept = [c for c in DIGEST_COLUMNS if digests and c in tables[name].columns]
        return dated_on_or_before(tables[name], column, as_of, (*shown, *kept))

    return Inputs(
        as_of=as_of,
        episodes=as_of_episodes(tables["episodes"], as_of),
        top=dated("top"),
        events=dated("events"),
        presentations=dated("presentations"),
        offending_individual=dated("offending_individual"),
        offending_cohort=dated("offending_cohort"),
        assessments=dated_on_or_before(
            tables["assessments"], "assessed_on", as_of, stored_columns(tables["assessments"], digests)
        ),
        clients=tables["clients"].select(*stored_columns(tables["clients"], digests)),
    )


def warehouse_inputs(wh: Reader, as_of: date, digests: bool = False) -> Inputs:
    """The as-of view of a warehouse's canonical tables (DuckDB or Spark); `digests` as `as_of_inputs` says."""
    return as_of_inputs({name: wh.table(name) for name in TABLE_NAMES}, as_of, digests)
