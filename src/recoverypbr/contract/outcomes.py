"""Outcome definitions a contract can pay on: the national outcomes by identifier, local outcomes in the common
shapes, and gates (conjunctions) over other outcomes.

Each class is one `type:` of `outcomes.<id>` in a contract. Parameters default to the "operational default" of
docs/outcomes.md; a contract changes them where its design differs (Wigan measures re-presentation over 6 months).
How an outcome is evaluated lives in `recoverypbr.outcomes` (later issues); this module only says what it is.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from recoverypbr.contract.types import DatedMoney, Domain, Share, Stage, TariffTable
from recoverypbr.data import codes

_REVIEW_OR_EXIT: list[Stage] = ["review", "exit"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class OutcomeBase(_Model):
    """Fields every outcome has."""

    national: ClassVar[bool] = False
    title: ClassVar[str] = ""

    label: str = ""
    """The outcome in plain words; defaults to the national outcome's name or the outcome id."""
    stage: Literal["interim", "final"] = "final"
    """Interim (on the way to recovery) or final (recovery achieved)."""
    weight: Share | None = None
    """Share of its domain's outcome money (used for the national 20% rule when given; see docs)."""
    split: dict[str, Share] = {}
    """Provider id -> share of this outcome's payments, overriding the contract's attribution; sums to 100%."""
    funded_by: str = ""
    """The id of the fund (`funds:`) that pays this outcome when not the contract's budget (Enfield: the PCT)."""

    @property
    def matures_after_months(self) -> int:
        """Months after the triggering date before the outcome can be known (0 when known at once)."""
        return 0


class OutcomeCommon(OutcomeBase):
    """Fields of every outcome achieved client by client."""

    tariffs: TariffTable | None = None
    """Pounds per achievement, by complexity group (or `all`); without tariffs the outcome is measured, not paid
    (a gate's component, a funnel milestone)."""
    stock_tariffs: TariffTable | None = None
    """Tariffs for clients already in treatment at go-live (stock), when different."""
    gate: str | None = None
    """Outcome id that must be achieved (for the same client) before this outcome is paid; payment waits."""
    basis: Literal["individual", "cohort"] = "individual"
    """individual: paid per client achieving it; cohort: paid per achievement above the baseline rate of the
    cohort in each group (Wigan)."""
    baseline_rates: dict[str, Share] = {}
    """With basis cohort: group -> share of the cohort achieving the outcome in the baseline period."""


class _StagesOutcome(OutcomeCommon):
    stages: list[Stage] = Field(default_factory=lambda: list(_REVIEW_OR_EXIT))
    """TOP stages at which the outcome can be achieved (compared with the start TOP)."""


class ReliableChange(_StagesOutcome):
    """Drug and/or alcohol use significantly improved: days of use of each presenting substance fell by at least
    its reliable-change threshold versus the start TOP, and none deteriorated by that much."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Drug and/or alcohol use significantly improved (reliable change)"
    domain: ClassVar[Domain] = "free_from_dependence"
    type: Literal["reliable_change"]
    """The outcome type: `reliable_change`."""
    stage: Literal["interim", "final"] = "interim"
    """Interim (on the way to recovery) or final (recovery achieved)."""
    reliability: Share | None = None
    """Test-retest reliability r used to derive thresholds from baseline data (Jacobson-Truax)."""
    thresholds: dict[str, int] = {}
    """Substance -> days of use (of 28) that count as a reliable change, when the contract fixes them."""


class Abstinence(_StagesOutcome):
    """Zero days of use of every presenting substance in the 28 days before a review or exit TOP."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Abstinence"
    domain: ClassVar[Domain] = "free_from_dependence"
    type: Literal["abstinence"]
    """The outcome type: `abstinence`."""
    stage: Literal["interim", "final"] = "interim"
    """Interim (on the way to recovery) or final (recovery achieved)."""
    substances: list[str] = []
    """Substances that must be at zero days; empty means the episode's presenting substances."""


class SuccessfulCompletion(OutcomeCommon):
    """The discharge reason is a completion: completed drug-free, or completed occasional user."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Successful completion of treatment"
    domain: ClassVar[Domain] = "free_from_dependence"
    type: Literal["successful_completion"]
    """The outcome type: `successful_completion`."""
    discharge_reasons: list[str] = list(codes.COMPLETION_REASONS)
    """Discharge codes that count as a successful completion."""


class NoRepresentation(OutcomeCommon):
    """A successful completion with no new treatment episode and no criminal-justice drug contact in the window
    after discharge; payable only once the window has passed."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Does not re-present to treatment or the criminal justice system"
    domain: ClassVar[Domain] = "free_from_dependence"
    type: Literal["no_representation_12m"]
    """The outcome type: `no_representation_12m`."""
    window_months: int = 12
    """Months after discharge without re-presentation (national: 12)."""
    settings: list[Literal["treatment", "criminal_justice"]] = ["treatment", "criminal_justice"]
    """Where a re-presentation counts."""

    @property
    def matures_after_months(self) -> int:
        return self.window_months


class _NoOffending(OutcomeCommon):
    national: ClassVar[bool] = True
    domain: ClassVar[Domain] = "offending"
    window_months: int
    """Months after treatment start with no recorded offence (needs individual offending data)."""

    @property
    def matures_after_months(self) -> int:
        return self.window_months


class NoOffending6m(_NoOffending):
    """No recorded offence in the 6 months after treatment start (individual)."""

    title: ClassVar[str] = "No offending in a 6 month period (individual)"
    type: Literal["no_offending_6m"]
    """The outcome type: `no_offending_6m`."""
    stage: Literal["interim", "final"] = "interim"
    """Interim (on the way to recovery) or final (recovery achieved)."""
    window_months: int = 6
    """Months after treatment start with no recorded offence (needs individual offending data)."""


class NoOffending12m(_NoOffending):
    """No recorded offence in the 12 months after treatment start (individual)."""

    title: ClassVar[str] = "No offending in a 12 month period (individual)"
    type: Literal["no_offending_12m"]
    """The outcome type: `no_offending_12m`."""
    window_months: int = 12
    """Months after treatment start with no recorded offence (needs individual offending data)."""


class OffendingCohortReduction(OutcomeBase):
    """The cohort's offences per person in the period against the same cohort definition's baseline rate (a
    frequency measure, so chaotic clients who offend less still count). Paid per period, not per client."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Reduction in average offending compared to baseline (cohort)"
    domain: ClassVar[Domain] = "offending"
    type: Literal["offending_cohort_reduction"]
    """The outcome type: `offending_cohort_reduction`."""
    cohort_id: str
    """The `cohort_id` of the offending data (police national computer counts)."""
    target_reduction: Share
    """Reduction in offences per person against the baseline that earns the full amount (e.g. 20%)."""
    amount: DatedMoney
    """Pounds paid per period when the target is met."""
    period: Literal["quarter", "year"] = "year"
    """The period measured and paid."""
    pro_rata: bool = False
    """Pay in proportion to a smaller reduction (none when offending did not fall)."""


class CeasedInjecting(_StagesOutcome):
    """Injected at the start TOP, zero injecting days at a review or exit TOP."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Ceased injecting"
    domain: ClassVar[Domain] = "health_wellbeing"
    type: Literal["ceased_injecting"]
    """The outcome type: `ceased_injecting`."""


class ImprovedHousing(_StagesOutcome):
    """An acute housing problem at start, none at a review or exit TOP."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Improved housing"
    domain: ClassVar[Domain] = "health_wellbeing"
    type: Literal["improved_housing"]
    """The outcome type: `improved_housing`."""


class HepatitisBCourse(OutcomeCommon):
    """The third dose of hepatitis B vaccine, or "course completed", recorded."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Hepatitis B course taken (3 injections)"
    domain: ClassVar[Domain] = "health_wellbeing"
    type: Literal["hepatitis_b_course"]
    """The outcome type: `hepatitis_b_course`."""
    event_types: list[str] = ["hepb_dose_3", "hepb_course_completed"]
    """Event types that show the course was taken."""


class QualityOfLife(_StagesOutcome):
    """The TOP quality-of-life rating (0-20) reaches the contract's normative threshold."""

    national: ClassVar[bool] = True
    title: ClassVar[str] = "Client achieves a normative quality of life"
    domain: ClassVar[Domain] = "health_wellbeing"
    type: Literal["quality_of_life"]
    """The outcome type: `quality_of_life`."""
    threshold: int
    """The normative quality-of-life rating (0-20) to reach."""


class _Local(OutcomeCommon):
    domain: Domain = "local"
    """The domain the outcome's money belongs to (local unless it serves a national domain)."""


class TopThreshold(_Local, _StagesOutcome):
    """Local: TOP items cross a threshold at the given stages. Give one of at_least, at_most, equals."""

    type: Literal["top_threshold"]
    """The outcome type: `top_threshold`."""
    items: list[str]
    """The TOP columns tested, e.g. [paid_work_days], [quality_of_life], [acute_housing_problem]."""
    at_least: int | None = None
    """Achieved when the item is at least this."""
    at_most: int | None = None
    """Achieved when the item is at most this."""
    equals: bool | int | None = None
    """Achieved when the item equals this (true/false for Y/N items)."""
    require: Literal["all", "any"] = "all"
    """Whether every item or any one item must meet the threshold."""


class TopImprovement(_Local):
    """Local: TOP items improve between two stages by at least a number of days or points."""

    type: Literal["top_improvement"]
    """The outcome type: `top_improvement`."""
    items: list[str]
    """TOP columns compared."""
    direction: Literal["decrease", "increase"]
    """decrease for days of use or crime; increase for ratings and days of work."""
    by_at_least: int = 1
    """The smallest change that counts."""
    from_stage: Stage = "start"
    """The TOP stage compared from."""
    to_stages: list[Stage] = Field(default_factory=lambda: list(_REVIEW_OR_EXIT))
    """The TOP stages compared to."""
    require: Literal["all", "any"] = "all"
    """Whether every item or any one item must improve."""


class EventRecorded(_Local):
    """Local: one of these event types is recorded for the client's episode."""

    type: Literal["event_recorded"]
    """The outcome type: `event_recorded`."""
    event_types: list[str]
    """Event types that count."""


class DischargeIn(_Local):
    """Local: the episode ends with a discharge reason in a set."""

    type: Literal["discharge_in"]
    """The outcome type: `discharge_in`."""
    discharge_reasons: list[str]
    """Discharge codes that count."""


class NoEventInWindow(_Local):
    """Local: none of these events is recorded in a window after the episode's start or discharge."""

    type: Literal["no_event_in_window"]
    """The outcome type: `no_event_in_window`."""
    event_types: list[str]
    """Event types that must not be recorded."""
    window_months: int
    """Length of the window in months."""
    after: Literal["start", "discharge"] = "discharge"
    """The window opens at the episode's start or at discharge."""

    @property
    def matures_after_months(self) -> int:
        return self.window_months


class AllOf(_Local):
    """A gate or conjunction: achieved when every listed outcome is achieved for the client (Kent: progress on
    the full range of a client's needs)."""

    type: Literal["all_of"]
    """The outcome type: `all_of`."""
    outcomes: list[str]
    """Outcome ids that must all be achieved."""
    when_not_applicable: Literal["met", "not_met"] = "not_met"
    """A component the client had no need for at the start (e.g. never injected) counts as met or not."""


class AnyOf(_Local):
    """A disjunction: achieved when at least one listed outcome is achieved for the client."""

    type: Literal["any_of"]
    """The outcome type: `any_of`."""
    outcomes: list[str]
    """Outcome ids of which one is enough."""


Outcome = Annotated[
    ReliableChange
    | Abstinence
    | SuccessfulCompletion
    | NoRepresentation
    | NoOffending6m
    | NoOffending12m
    | OffendingCohortReduction
    | CeasedInjecting
    | ImprovedHousing
    | HepatitisBCourse
    | QualityOfLife
    | TopThreshold
    | TopImprovement
    | EventRecorded
    | DischargeIn
    | NoEventInWindow
    | AllOf
    | AnyOf,
    Field(discriminator="type"),
]

OUTCOME_TYPES: tuple[type[OutcomeBase], ...] = (
    ReliableChange,
    Abstinence,
    SuccessfulCompletion,
    NoRepresentation,
    NoOffending6m,
    NoOffending12m,
    OffendingCohortReduction,
    CeasedInjecting,
    ImprovedHousing,
    HepatitisBCourse,
    QualityOfLife,
    TopThreshold,
    TopImprovement,
    EventRecorded,
    DischargeIn,
    NoEventInWindow,
    AllOf,
    AnyOf,
)


def type_name(cls: type[OutcomeBase]) -> str:
    """The `type:` value of an outcome class."""
    return str(cls.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


NATIONAL_TYPES = tuple(type_name(c) for c in OUTCOME_TYPES if c.national)
LOCAL_TYPES = tuple(type_name(c) for c in OUTCOME_TYPES if not c.national)
