"""The contract model: what a local payment-by-results design can say, as Pydantic models.

A contract is data (a YAML file, see `load.py`); this module only says its shape and types. Cross-field rules
(shares that sum to one, references that exist, the national 20% rule) are in `rules.py` so that every problem
is reported at once. Values that change by contract year are dated, OpenFisca style: ``{2012-04-01: 25%,
2013-04-01: 30%}``; a single value holds for the whole contract. Money is `Decimal`, never float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from recoverypbr.contract.outcomes import Outcome, OutcomeCommon
from recoverypbr.contract.types import (
    ALL_GROUPS,
    AssessmentValue,
    DatedMoney,
    DatedShare,
    Domain,
    Share,
    TariffTable,
    dated_versions,
    tariff_on,
    value_on,
)

__all__ = [
    "ALL_GROUPS",
    "AttachmentFees",
    "Attribution",
    "Audit",
    "Complexity",
    "Condition",
    "Contract",
    "ContractYear",
    "DecisionRule",
    "Fund",
    "Funnel",
    "Incentive",
    "Lasars",
    "Limit",
    "Milestone",
    "Outcome",
    "OutcomeCommon",
    "PaymentPoint",
    "PaymentSchedule",
    "PointsCriterion",
    "PointsMethod",
    "Provider",
    "ServicePlace",
    "Uplift",
    "dated_versions",
    "tariff_on",
    "value_on",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class ContractYear(_Model):
    """One contract year. Years follow each other without gaps: each starts the day after the last ends."""

    start: date
    """First day of the year (ISO date)."""
    end: date
    """Last day of the year, inclusive."""
    label: str = ""
    """How the year is called in the contract (e.g. "year one"); defaults to "year N"."""


class Audit(_Model):
    """How assessments made by a provider-located LASARS are checked. Recorded for the reader: recoverypbr does not
    yet draw the sample or hold payments for the auditor (`contract explain` says so)."""

    by: Literal["commissioner", "independent"]
    """Who audits: the commissioner (the DAAT) or an independent auditor."""
    sample: Share | None = None
    """Share of assessments sampled for audit (e.g. 10%)."""
    agrees_payments: bool = False
    """The auditor also agrees every payment before it is made (Wigan: "payments agreed by the DAAT"); recorded
    only: statements are approved by finance as usual."""


class Lasars(_Model):
    """The Local Area Single Assessment and Referral Service: who assesses clients and sets their group."""

    location: Literal["independent", "commissioner", "provider"]
    """Independent organisation, inside the commissioner (DAAT, IOM team), or inside the providers."""
    organisation: str = ""
    """Name of the assessing organisation (e.g. "Aquarius")."""
    assessors: list[str] = []
    """Provider ids that assess their own clients, when the LASARS sits in the providers."""
    audit: Audit | None = None
    """Required when the LASARS sits in the providers: the seeds' "essential audit functions"."""


class Provider(_Model):
    """A provider (or the LASARS) named in the contract; its id is the key used in the warehouse's episodes."""

    name: str
    """The organisation's name."""
    role: Literal["prime", "subcontractor", "provider", "lasars"]
    """prime (holds the contract), subcontractor (paid through a prime), provider (holds its own contract:
    competing, assigned or co-dependent) or lasars (assesses, is not paid on results)."""
    prime: str | None = None
    """For a subcontractor: the id of its prime provider."""
    focus: str = ""
    """What the provider does, in a few words (e.g. "harm minimisation", "18-25s")."""
    service_lines: list[str] = []
    """Service lines it delivers, as written in the episodes' `service_line`."""
    existing: bool = False
    """True when it already delivered the service before the contract (a current provider)."""


class Assignment(_Model):
    """A client group assigned to one provider (Stockport). An episode matches when every condition given holds."""

    provider: str
    """The provider id that takes this client group."""
    label: str = ""
    """The client group in plain words (e.g. "young people aged 18-25")."""
    service_lines: list[str] = []
    """Episodes in one of these service lines."""
    min_age: int | None = None
    """Clients at least this old at the episode's start."""
    max_age: int | None = None
    """Clients at most this old at the episode's start."""


class Attribution(_Model):
    """Who is paid for a client's outcomes, and how payments are shared among providers."""

    model: Literal["prime", "competing", "assigned", "co_dependent"]
    """prime: one prime provider, sharing with its subcontractors by `split`; competing: each provider is paid
    for its own clients; assigned: client groups are assigned to providers by `assignments`; co_dependent:
    providers share every outcome payment by `split`."""
    split: dict[str, Share] = {}
    """Provider id -> share of each payment (prime and subcontractors, or co-dependent providers); sums to 100%."""
    assignments: dict[str, Assignment] = {}
    """Client group id -> assignment, in order: the first that matches an episode decides its provider."""
    unnamed_providers: Literal["not_paid", "through_prime"] = "not_paid"
    """Episodes of providers the contract does not name: not_paid (listed on the statements with why) or, under
    the prime model only, through_prime (the prime is paid for them, as for a named subcontractor)."""


class Condition(_Model):
    """A test on one field of the client's assessment. Give exactly one of equals, one_of, at_least, at_most.

    A missing (empty) field never meets a condition."""

    field: str
    """An `assessments` column, e.g. injecting_status, years_of_use, housing_need, parent_or_carer."""
    equals: AssessmentValue | None = None
    """The field equals this value (a code, a number, or true/false for Y/N fields)."""
    one_of: list[str] | None = None
    """The field is one of these codes."""
    at_least: int | None = None
    """The field (a number) is at least this."""
    at_most: int | None = None
    """The field (a number) is at most this."""


class PointsCriterion(Condition):
    """A criterion that adds points when its condition holds."""

    points: int
    """Points added when the condition holds."""
    label: str = ""
    """The criterion in plain words (e.g. "currently injecting"); shown in the grouping's explanation."""


class PointsMethod(_Model):
    """Complexity by points: add up the points of the criteria met; the bands turn points into a group."""

    criteria: dict[str, PointsCriterion]
    """Criterion id -> criterion."""
    bands: dict[str, int]
    """Group id -> the fewest points that put a client in it, from the lowest group (0) upwards."""


class DecisionRule(_Model):
    """An ordered decision rule: when every condition holds, the client is in `group`."""

    when: list[Condition]
    """Conditions that must all hold."""
    group: str
    """The complexity group given."""
    label: str = ""
    """The rule in plain words; defaults to its conditions written out."""


class Complexity(_Model):
    """Complexity groups and the assessment rules that assign them.

    Each episode is grouped on its client's latest assessment on or before the episode's start date (on one day,
    the highest assessment id). Use either points or ordered decision rules."""

    groups: dict[str, str]
    """Group id -> description, from least to most complex (ids: lower case, e.g. low, medium, high)."""
    points: PointsMethod | None = None
    """Points from assessment fields with thresholds (bands)."""
    rules: dict[str, DecisionRule] = {}
    """Ordered decision rules: the first rule whose conditions hold decides the group."""
    default_group: str | None = None
    """With decision rules: the group of clients no rule matches."""


class Uplift(_Model):
    """A tariff multiplier for clients whose assessment meets conditions (e.g. a whole-family approach)."""

    when: list[Condition]
    """Conditions on the assessment that must all hold."""
    factor: Decimal
    """Multiplier applied to the outcome tariffs (e.g. 1.25 for 25% more)."""
    outcomes: list[str] = []
    """Outcome ids it applies to; empty means every outcome with tariffs."""
    label: str = ""
    """Why, in plain words."""


class AttachmentFees(_Model):
    """A payment when a provider takes a client on, for cash flow; by complexity group, new (flow) or already in
    treatment at go-live (stock)."""

    flow: TariffTable | None = None
    """Fee for a new client (flow), by group or `all`."""
    stock: TariffTable | None = None
    """Fee for a client already in treatment at go-live (stock), by group or `all`."""
    paid_on: Literal["triage", "start"] = "start"
    """The episode date that triggers the fee."""


class ServicePlace(_Model):
    """One end of a move between services."""

    service_line: str
    """Service line, as written in the episodes' `service_line`."""
    provider: str | None = None
    """Provider id, when the service line is one provider's."""


class Incentive(_Model):
    """A payment for moving a client from one service to another (Oxfordshire: harm minimisation into recovery).

    Earned when an episode in `to_service` starts within `within_days` of an episode in `from_service` ending."""

    label: str = ""
    """The incentive in plain words."""
    from_service: ServicePlace
    """Where the client moves from."""
    to_service: ServicePlace
    """Where the client moves to."""
    within_days: int = 28
    """Days allowed between the end of the first episode and the start of the next."""
    amount: TariffTable
    """Payment per move, by group or `all`."""
    split: dict[str, Share] = {}
    """Provider id -> share of the payment; defaults to the contract's attribution."""


class PaymentPoint(_Model):
    """A milestone that is paid: a unit price per outcome up to a maximum."""

    unit_price: DatedMoney
    """Pounds per outcome."""
    maximum: DatedMoney | None = None
    """The most paid for this milestone in a contract year."""


class Milestone(_Model):
    """One step of a milestone funnel, evidenced by an outcome."""

    label: str
    """The milestone in plain words."""
    outcome: str
    """The outcome id whose achievement evidences the milestone."""
    predicted: int
    """Predicted number of clients reaching it in a contract year."""
    predicted_monthly: list[int] | None = None
    """Predicted counts for each month of the contract year (12 values summing to `predicted`); without it the
    prediction is spread evenly."""
    payment: PaymentPoint | None = None
    """Set on the milestones that are payment points."""


class Funnel(_Model):
    """A milestone funnel for one service line (Worcestershire): predicted against actual, month by month."""

    label: str
    """The funnel in plain words (e.g. "Adult drugs tier 3")."""
    service_line: str | None = None
    """Only episodes in this service line count."""
    evidence: list[str] = []
    """Where the evidence comes from (e.g. "TOP data", "case file audit")."""
    milestones: dict[str, Milestone]
    """Milestone id -> milestone, in funnel order (each reached by no more clients than the one before)."""


class Limit(_Model):
    """A cap (at most) or a floor (at least) on payments in a period. Its level is overall unless a provider
    and/or an outcome is named."""

    amount: DatedMoney
    """Pounds per period."""
    period: Literal["month", "quarter", "year", "contract"]
    """The period the amount applies to."""
    provider: str | None = None
    """Per provider: the provider id."""
    outcome: str | None = None
    """Per outcome: the outcome id."""
    label: str = ""
    """Why, in plain words."""


class Fund(_Model):
    """Money from outside the contract's budget that pays some outcomes (Enfield: the PCT's additional funding).

    The outcomes that name it in `funded_by` are paid from this pot: at most `amount` in a contract year, outside
    the share on results, the domain weights and the caps and floors that do not name them."""

    label: str
    """Who provides the money and why, in plain words (e.g. "additional funding from the PCT")."""
    amount: DatedMoney
    """The most paid from the fund in a contract year, in pounds (dated when it changes)."""


class PaymentSchedule(_Model):
    """When providers are paid."""

    frequency: Literal["monthly", "quarterly"]
    """Statements are made monthly or quarterly."""
    arrears_months: int = 1
    """Months after the period's end that payment is made."""
    pay_when_mature: bool = True
    """Outcomes with a window (e.g. no re-presentation for 12 months) are paid in the period they mature."""


class Contract(_Model):
    """A local payment-by-results contract for drug and alcohol recovery services."""

    area: str
    """The commissioning area (e.g. "Worcestershire")."""
    title: str
    """What the contract covers (e.g. "Adult drugs tier 3")."""
    effective_from: date
    """The date this version of the contract takes effect; it identifies the version."""
    feature: str = ""
    """The design's distinguishing feature in one sentence, in the sources' words."""
    sources: list[str] = []
    """Documents the figures come from."""
    notes: list[str] = []
    """Anything a reader should know, e.g. how an ambiguous source was read."""
    illustrative: dict[str, str] = {}
    """Path in this file (e.g. `budget` or `outcomes.abstinence.tariffs.high`) -> why the figure is illustrative
    (not given by the sources)."""
    years: list[ContractYear]
    """The contract years, in order and without gaps."""
    budget: DatedMoney
    """The budget of each contract year in pounds (dated when it changes)."""
    share_on_results: DatedShare
    """Share of each year's budget paid on results, 0-100% (e.g. {2012-04-01: 25%, 2013-04-01: 30%})."""
    weights: dict[Domain, Share] = {}
    """Domain -> share of each contract year's results money (budget x share on results) that the domain's outcomes
    may earn at most (sums to 100%): each domain's share is a cap per contract year (docs/payments.md)."""
    funds: dict[str, Fund] = {}
    """Fund id -> money from outside the budget that pays the outcomes naming it in `funded_by`."""
    lasars: Lasars
    """Who assesses clients and assigns their complexity group."""
    providers: dict[str, Provider]
    """Provider id -> provider."""
    attribution: Attribution
    """Who is paid for which clients, and shares between providers."""
    complexity: Complexity | None = None
    """Complexity groups and how assessments assign them; without it every tariff is one amount (`all`)."""
    local_event_types: dict[str, str] = {}
    """Event types the contract adds to the national ones -> their meaning."""
    outcomes: dict[str, Outcome]
    """Outcome id -> outcome: national ones by `type`, local ones in the common shapes, gates and conjunctions."""
    uplifts: dict[str, Uplift] = {}
    """Uplift id -> tariff multiplier for clients whose assessment meets conditions."""
    attachment_fees: AttachmentFees | None = None
    """Payments when a client is taken on."""
    incentives: dict[str, Incentive] = {}
    """Incentive id -> payment for moving a client from one service to another."""
    funnels: dict[str, Funnel] = {}
    """Funnel id -> milestone funnel."""
    caps: dict[str, Limit] = {}
    """Cap id -> the most paid in a period, overall, per provider or per outcome."""
    floors: dict[str, Limit] = {}
    """Floor id -> the least paid in a period, overall, per provider or per outcome."""
    payment_schedule: PaymentSchedule
    """When payments are made."""

    @property
    def group_ids(self) -> list[str]:
        """The complexity groups, least complex first (`all` when the contract has none)."""
        return list(self.complexity.groups) if self.complexity else [ALL_GROUPS]

    @property
    def start(self) -> date:
        return self.years[0].start

    @property
    def end(self) -> date:
        return self.years[-1].end

    def year_label(self, index: int) -> str:
        return self.years[index].label or f"year {index + 1}"

    def at_risk(self, on: date) -> Decimal | None:
        """Money paid on results in the year starting `on`: budget x share on results in force that day."""
        budget, share = value_on(self.budget, on), value_on(self.share_on_results, on)
        if budget is None or share is None:
            return None
        return budget * share
