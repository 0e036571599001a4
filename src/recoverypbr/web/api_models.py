"""The JSON API's response models: what each route of `routes/api.py` answers, as its OpenAPI document says.

Money is a string with two decimals (`"14525.00"`, never a float), so a client adds pounds exactly; dates are ISO
strings (`"2013-03-31"`). Statement lines keep the fields and text of the statement's own JSON file (empty text where
a line has no client, outcome or group), so the API, the pages and the downloads say the same."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from recoverypbr.web.users import Role

TWO_PLACES = Decimal("0.01")


def money(value: Any) -> str | None:
    """Any amount in pounds (text, Decimal or int) -> text with two decimals; None or "" -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise TypeError("money is never a float")
    return str(Decimal(str(value)).quantize(TWO_PLACES))


def _money_required(value: Any) -> str:
    found = money(value)
    if found is None:
        raise ValueError("an amount is required")
    return found


def _or_none(value: Any) -> Any:
    return None if value == "" else value


MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"
#: Pounds as text with two decimals.
Money = Annotated[str, BeforeValidator(_money_required),
                  Field(pattern=MONEY_PATTERN, description="Pounds, two decimals", examples=["14525.00"])]
#: Pounds as text with two decimals, or null where there is no amount.
OptionalMoney = Annotated[Money | None, BeforeValidator(_or_none)]
def _utc(value: datetime) -> datetime:
    """The warehouse keeps times in UTC without a zone: say so (RFC 3339 wants the offset)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: A time in UTC, e.g. "2026-01-05T10:00:00Z".
UtcDateTime = Annotated[datetime, AfterValidator(_utc), Field(description="A time in UTC")]
OptionalDateTime = Annotated[UtcDateTime | None, BeforeValidator(_or_none)]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Problem(Model):
    """Why the request was refused (401 not signed in, 403 the role may not, 404 nothing you can see)."""

    detail: str


class InputProblem(Model):
    """Which parameters were not understood (422), one message each."""

    detail: list[str]


class Me(Model):
    user_name: str
    role: Role
    provider_id: str | None = Field(description="The provider a provider user works for; null for other roles")


class StatementEntry(Model):
    """One statement in the index: approved (from the warehouse) or the latest draft written."""

    period: str = Field(examples=["2013-Q1"])
    provider_id: str
    status: str = Field(examples=["draft", "approved"])
    total: Money
    lines: int
    fingerprint: str
    as_of: date
    approved_by: str = ""
    approved_at: OptionalDateTime = None
    url: str = Field(description="This statement in the API")


class StatementIndex(Model):
    statements: list[StatementEntry]


class Line(Model):
    """One statement line, as the statement's JSON file has it."""

    line_no: int
    kind: str = Field(examples=["outcome", "attachment_fee", "cap", "adjustment"])
    provider_id: str
    client_id: str = ""
    episode_id: str = ""
    outcome_id: str = ""
    complexity_group: str = ""
    stock_or_flow: str = ""
    payable_on: date
    amount: Money
    reference: str = ""
    reference_words: str = ""
    evidence: str = ""
    corrects: str = ""
    share: str = ""
    whole: OptionalMoney = None
    adjusts: str = ""


class Totals(Model):
    total: Money
    lines: int
    by_kind: dict[str, Money] = Field(description="Line kind -> total of its lines, kinds without lines left out")


class YearPeriod(Model):
    period: str
    status: str
    total: OptionalMoney = None


class Fund(Model):
    fund: str
    label: str
    pot: OptionalMoney = None
    paid_to_date: OptionalMoney = None


class YearToDate(Model):
    """The contract year the statement's period ends in, and what the provider has been paid in it so far."""

    year: str
    start: date
    end: date
    budget: OptionalMoney = None
    share_on_results: str | None = None
    results_pot: OptionalMoney = None
    periods: list[YearPeriod] = []
    adjustments_to_this_year: OptionalMoney = None
    paid_to_date: OptionalMoney = None
    adjustments_to_earlier_years: OptionalMoney = None
    funds: list[Fund] = []


class LinePage(Model):
    """One page of the statement's lines, filtered and sorted."""

    items: list[Line]
    total: int = Field(description="Lines matching the filters")
    page: int
    pages: int
    per_page: int
    kinds: list[str] = Field(description="Every line kind on the statement (for the kind filter)")
    outcomes: list[str] = Field(description="Every outcome on the statement (for the outcome filter)")


class Statement(Model):
    """A statement's header (status, totals, fingerprint, data date, year to date) and one page of its lines."""

    statement_id: str
    period: str
    period_start: date
    period_end: date
    provider_id: str
    provider_name: str = ""
    contract_area: str
    contract_version: date
    status: str
    approved_by: str = ""
    approved_at: OptionalDateTime = None
    as_of: date
    fingerprint: str
    totals: Totals
    year_to_date: YearToDate | None = None
    notes: list[str] = []
    lines: LinePage


class ClientRow(Model):
    client_id: str
    episodes: int
    first_start: date | None = None
    last_discharge: date | None = None


class ClientList(Model):
    items: list[ClientRow]
    total: int = Field(description="Clients matching the search")
    page: int
    pages: int
    per_page: int
    q: str


class Evidence(Model):
    ref: str = Field(description="The evidence row (or 'episode' for another provider's episode, withheld)")
    text: str


class PaidLine(Line):
    """A statement line paying the decision, with the statement it is on."""

    period: str
    status: str


class Decision(Model):
    outcome_id: str
    label: str
    episode_id: str
    provider_id: str | None = None
    status: str = Field(examples=["achieved", "not achieved"])
    words: str = Field(description="Why, in plain words")
    paid: bool = Field(description="Whether a statement the viewer may see pays it")
    evidence: list[Evidence]
    paid_lines: list[PaidLine]


class Client(Model):
    client_id: str
    as_of: date | None = Field(description="The date the outcomes are as of (null when none are stored yet)")
    dates: list[date] = Field(description="Every as-of date the outcomes are stored for, latest first")
    decisions: list[Decision]


class QuarantineRow(Model):
    provider_id: str = Field(description="The provider(s) whose client the row is about, ';' between several")
    load_id: int
    table_name: str
    file: str = Field(description="The file's name (without its folder)")
    row_number: int
    column_name: str
    value: str | None = None
    rule: str
    reason: str
    record_key: str | None = None


class QuarantinePage(Model):
    items: list[QuarantineRow]
    total: int
    page: int
    pages: int
    per_page: int
    table: str
    tables: list[str]


class Load(Model):
    load_id: int
    source: str = Field(description="The loaded folder or file's name")
    started_at: UtcDateTime
    finished_at: UtcDateTime
    rows_read: int
    rows_changed: int
    rows_quarantined: int
    program_version: str


class RuleCount(Model):
    table: str
    rule: str
    rows: int


class ProviderOverview(Model):
    provider_id: str | None = None
    name: str | None = None
    episodes: int = 0
    in_treatment: int = 0
    exits: int = 0
    completions: int = 0
    not_started: int = 0


class Loads(Model):
    loads: list[Load]
    by_rule: list[RuleCount]
    providers: list[ProviderOverview]


SortOrder = Literal["asc", "desc"]
