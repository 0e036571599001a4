"""The canonical input tables: columns, kinds, code lists, NDTMS aliases, keys and cross-row rules.

This module is the single description of the input tables (docs/data.md) that ingest, validation, the warehouse
schema and the synthetic generator all read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from recoverypbr.data import codes

Kind = Literal["id", "text", "date", "int", "decimal", "flag", "code", "list"]

#: Days a TOP may fall outside its episode and still count (a start TOP taken at triage, an exit TOP
#: completed a few days after discharge). Stated here so that every load applies the same rule.
TOP_GRACE_DAYS = 14


@dataclass(frozen=True)
class Column:
    """One canonical column and the rules a value must meet."""

    name: str
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    value_aliases: dict[str, str] = field(default_factory=dict)
    minimum: int | None = None
    maximum: int | None = None
    references: tuple[str, str] | None = None  # (table, column)
    max_length: int | None = None  # for free text: the longest value kept (default: validate.TEXT_MAX_LENGTH)

    @property
    def sql_type(self) -> str:
        """Storage type in the warehouse (portable SQL names)."""
        return {
            "date": "DATE",
            "int": "BIGINT",
            "decimal": "DOUBLE",
            "flag": "BOOLEAN",
        }.get(self.kind, "VARCHAR")


@dataclass(frozen=True)
class DateOrder:
    """`earlier` must be on or before `later` when both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    """One canonical table: its columns, the key a newer extract upserts by, and its cross-column rules."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_order: tuple[DateOrder, ...] = ()
    file_names: tuple[str, ...] = ()
    description: str = ""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def references(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.references)


def _days(name: str, alias: str = "") -> Column:
    return Column(name, "int", aliases=(alias,) if alias else (), minimum=0, maximum=28)


def _rating(name: str, alias: str) -> Column:
    return Column(name, "int", aliases=(alias,), minimum=0, maximum=20)


def _client_ref(required: bool = True) -> Column:
    return Column("client_id", "id", required=required, references=("clients", "client_id"))


CLIENTS = Table(
    "clients",
    (
        Column("client_id", "id", required=True),
        Column("date_of_birth", "date", aliases=("dob",)),
        Column("birth_year", "int", minimum=1900, maximum=2100),
        Column("sex", "code", codes=codes.SEXES, value_aliases=codes.SEX_ALIASES),
        Column("local_authority", "text"),
    ),
    key=("client_id",),
    description="Clients, by pseudonymous id.",
)

PROVIDERS = Table(
    "providers",
    (
        Column("provider_id", "id", required=True),
        Column("name", "text", required=True),
        Column("role", "code", required=True, codes=codes.PROVIDER_ROLES),
        Column("service_lines", "text"),
    ),
    key=("provider_id",),
    description="Providers and LASARS.",
)

ASSESSMENTS = Table(
    "assessments",
    (
        Column("assessment_id", "id", required=True),
        _client_ref(),
        Column("assessed_on", "date", required=True),
        Column("assessor_org", "text"),
        Column("assessor_independent", "flag"),
        Column("primary_substance", "code", required=True, codes=codes.SUBSTANCES),
        Column("opiate_and_crack", "flag"),
        Column(
            "injecting_status",
            "code",
            aliases=("injstat",),
            codes=codes.INJECTING_STATUSES,
            value_aliases=codes.INJECTING_ALIASES,
        ),
        Column("years_of_use", "int", minimum=0, maximum=90),
        Column("previous_treatment_episodes", "int", minimum=0, maximum=200),
        Column("housing_need", "code", codes=codes.HOUSING_NEEDS, value_aliases=codes.HOUSING_ALIASES),
        Column("mental_health_need", "flag"),
        Column("offences_last_12_months", "int", minimum=0, maximum=5000),
        Column("criminal_justice_referral", "flag"),
        Column("parent_or_carer", "flag"),
        Column("complexity_group", "text"),
    ),
    key=("assessment_id",),
    description="LASARS assessments.",
)

EPISODES = Table(
    "episodes",
    (
        Column("episode_id", "id", required=True),
        _client_ref(),
        Column("provider_id", "id", required=True, references=("providers", "provider_id")),
        Column("referral_date", "date", aliases=("refld",)),
        Column("triage_date", "date", aliases=("triaged",)),
        Column("start_date", "date", aliases=("modst",)),  # empty: a referral that never started
        Column("discharge_date", "date", aliases=("disd",)),
        Column(
            "discharge_reason",
            "code",
            aliases=("disrsn",),
            codes=codes.DISCHARGE_REASONS,
            value_aliases=codes.OLD_DISCHARGE_CODES,
        ),
        Column("service_line", "text"),
        Column("substances", "list", required=True, codes=codes.SUBSTANCES),
        Column("stock_or_flow", "code", codes=codes.STOCK_OR_FLOW),
    ),
    key=("episode_id",),
    date_order=(
        DateOrder("referral_date", "triage_date"),
        DateOrder("referral_date", "start_date"),
        DateOrder("triage_date", "start_date"),
        DateOrder("start_date", "discharge_date"),
    ),
    description="Treatment episodes (journeys).",
)

TOP = Table(
    "top",
    (
        Column("top_id", "id", required=True),
        _client_ref(),
        Column("episode_id", "id", required=True, references=("episodes", "episode_id")),
        Column("top_date", "date", required=True, aliases=("topdate",)),
        Column(
            "stage",
            "code",
            required=True,
            aliases=("trstage",),
            codes=codes.TOP_STAGES,
            value_aliases=codes.TOP_STAGE_ALIASES,
        ),
        _days("alcohol_days", "alcuse"),
        Column("alcohol_units", "decimal", minimum=0, maximum=200),
        _days("opiate_days", "opiuse"),
        _days("crack_days", "crause"),
        _days("cocaine_days", "cocause"),
        _days("amphetamine_days", "amphuse"),
        _days("cannabis_days", "cannuse"),
        _days("other_drug_days", "otdrguse"),
        _days("injecting_days", "ivdrguse"),
        Column("sharing", "flag", aliases=("sharing",)),
        _days("shoplifting_days", "shotheft"),
        _days("drug_selling_days", "drgsell"),
        _days("other_theft_days", "oththeft"),
        _days("assault_days", "assault"),
        _rating("psychological_health", "psyhstat"),
        _rating("physical_health", "phstat"),
        _rating("quality_of_life", "quallife"),
        _days("paid_work_days", "pwork"),
        _days("education_days", "educat"),
        Column("acute_housing_problem", "flag", aliases=("acuthpbm",)),
        Column("risk_of_eviction", "flag", aliases=("hrisk",)),
    ),
    key=("top_id",),
    file_names=("tops", "top_forms"),
    description="Treatment Outcomes Profile questionnaires.",
)

EVENTS = Table(
    "events",
    (
        _client_ref(),
        Column("episode_id", "id", references=("episodes", "episode_id")),
        Column("event_date", "date", required=True),
        Column("event_type", "code", required=True),
        Column("detail", "text", max_length=1000),
    ),
    key=("client_id", "event_date", "event_type"),
    description="Recorded milestones and interventions.",
)

PRESENTATIONS = Table(
    "presentations",
    (
        _client_ref(),
        Column("presented_on", "date", required=True),
        Column(
            "setting",
            "code",
            required=True,
            codes=codes.PRESENTATION_SETTINGS,
            value_aliases=codes.PRESENTATION_ALIASES,
        ),
        Column("source", "text"),
    ),
    key=("client_id", "presented_on", "setting"),
    description="Re-presentations to treatment or the criminal justice system.",
)

OFFENDING_COHORT = Table(
    "offending_cohort",
    (
        Column("cohort_id", "id", required=True),
        Column("period_start", "date", required=True),
        Column("period_end", "date", required=True),
        Column("people", "int", required=True, minimum=0, maximum=10_000_000),
        Column("offences", "int", required=True, minimum=0, maximum=100_000_000),
        Column("is_baseline", "flag", required=True),
    ),
    key=("cohort_id", "period_start", "period_end"),
    date_order=(DateOrder("period_start", "period_end"),),
    description="Cohort offending counts (PNC), with baseline periods.",
)

OFFENDING_INDIVIDUAL = Table(
    "offending_individual",
    (
        _client_ref(),
        Column("offence_date", "date", required=True),
        Column("offences", "int", required=True, minimum=1, maximum=1000),
    ),
    key=("client_id", "offence_date"),
    description="Individual offences, where local data sharing allows.",
)

FEEDBACK = Table(
    "feedback",
    (
        Column("provider_id", "id", required=True, references=("providers", "provider_id")),
        Column("response_date", "date", required=True),
        _client_ref(required=False),
        Column("question", "text", required=True),
        Column("score", "int", required=True, minimum=1, maximum=5),
        Column("comment", "text", max_length=2000),
    ),
    # Anonymous responses have no id: a response is its content plus its occurrence among identical rows.
    key=("response_key",),
    description="Service users' views.",
)

#: In load order: a table comes after every table it references.
TABLES: tuple[Table, ...] = (
    CLIENTS,
    PROVIDERS,
    ASSESSMENTS,
    EPISODES,
    TOP,
    EVENTS,
    PRESENTATIONS,
    OFFENDING_COHORT,
    OFFENDING_INDIVIDUAL,
    FEEDBACK,
)
TABLES_BY_NAME = {t.name: t for t in TABLES}

#: `offending` files are either shape; the columns decide which.
OFFENDING_FILE = "offending"


def table(name: str) -> Table:
    """The canonical table called `name`."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise KeyError(f"unknown table {name!r}; known tables: {known}") from None
