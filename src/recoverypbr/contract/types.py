"""The value types of a contract: money, shares, dated values and tariff tables.

Money is `Decimal` in pounds with at most two decimal places; a figure never passes through binary floating
point (the YAML loader in `load.py` hands numbers over as text or `Decimal`). A share is a `Decimal` fraction;
"25%" is accepted. A dated value is OpenFisca's ``{2012-04-01: 0.25, 2013-04-01: 0.30}``: each value is in force
from its date until the next one; a plain value is in force for the whole contract and is stored under
`WHOLE_CONTRACT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

#: The tariff key meaning "every complexity group" (and the one group of a contract without groups).
ALL_GROUPS = "all"
#: The date under which a value given without dates is stored: in force from before the contract starts.
WHOLE_CONTRACT = date.min

Domain = Literal["free_from_dependence", "offending", "health_wellbeing", "local"]
DOMAIN_NAMES: dict[str, str] = {
    "free_from_dependence": "free from drug(s) of dependence",
    "offending": "reduced offending",
    "health_wellbeing": "health and wellbeing",
    "local": "local",
}
Stage = Literal["start", "review", "exit", "post_exit"]
AssessmentValue = bool | int | str

_NUMBER_TEXT = r"-?[0-9][0-9,]*(\.[0-9]+)?"
MONEY_JSON: dict[str, Any] = {
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": rf"^\s*£?\s*{_NUMBER_TEXT}\s*$"}],
    "description": "Pounds, e.g. 1236.50 or '£1,236.50'.",
}
SHARE_JSON: dict[str, Any] = {
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": rf"^\s*{_NUMBER_TEXT}\s*%?\s*$"}],
    "description": "A share: 0.25 or '25%'.",
}


def _dated_json(value: dict[str, Any]) -> dict[str, Any]:
    dated = {"type": "object", "propertyNames": {"format": "date"}, "additionalProperties": value}
    return {"anyOf": [value, dated]}


def _decimal(value: Any, what: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, not yes/no")
    if isinstance(value, float):
        # Python callers only: the shortest repr is the number they wrote.
        return Decimal(repr(value))
    return value


def _number_text(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _money(value: Any) -> Any:
    value = _decimal(value, "an amount in pounds")
    if isinstance(value, str):
        return _number_text(value.strip().removeprefix("£"))
    return value


def _pence(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("an amount in pounds has at most two decimal places (pence)")
    return value


def _share(value: Any) -> Any:
    value = _decimal(value, "a share such as 25% or 0.25")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return _number_text(text[:-1]) / 100
        return _number_text(text)
    return value


def _dated(value: Any) -> Any:
    return value if isinstance(value, Mapping) else {WHOLE_CONTRACT: value}


def _by_group(value: Any) -> Any:
    if isinstance(value, Mapping) and value and all(isinstance(key, str) for key in value):
        return value
    return {ALL_GROUPS: value}


DATED_MONEY_JSON = _dated_json(MONEY_JSON)
DATED_SHARE_JSON = _dated_json(SHARE_JSON)
TARIFF_JSON: dict[str, Any] = {
    "anyOf": [DATED_MONEY_JSON, {"type": "object", "additionalProperties": DATED_MONEY_JSON}],
    "description": "One amount for every group, or complexity group -> amount (each may be dated).",
}

Money = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_pence), WithJsonSchema(MONEY_JSON)]
Share = Annotated[Decimal, BeforeValidator(_share), WithJsonSchema(SHARE_JSON)]
DatedMoney = Annotated[dict[date, Money], BeforeValidator(_dated), WithJsonSchema(DATED_MONEY_JSON)]
DatedShare = Annotated[dict[date, Share], BeforeValidator(_dated), WithJsonSchema(DATED_SHARE_JSON)]
TariffTable = Annotated[dict[str, DatedMoney], BeforeValidator(_by_group), WithJsonSchema(TARIFF_JSON)]

#: Plain words for the value types, for the contract reference.
TYPE_WORDS: dict[int, str] = {
    id(MONEY_JSON): "amount in pounds",
    id(SHARE_JSON): "share (25% or 0.25)",
    id(DATED_MONEY_JSON): "amount in pounds, or dated amounts",
    id(DATED_SHARE_JSON): "share, or dated shares",
    id(TARIFF_JSON): "tariff table: one amount, or group -> amount (amounts may be dated)",
}


def value_on(dated: Mapping[date, Decimal], on: date) -> Decimal | None:
    """The value in force on `on`: the one with the latest date on or before it (None before the first)."""
    in_force = [value for since, value in sorted(dated.items()) if since <= on]
    return in_force[-1] if in_force else None


def dated_versions(dated: Mapping[date, Decimal]) -> list[tuple[date, Decimal]]:
    """(in force from, value), oldest first."""
    return sorted(dated.items())


def tariff_on(table: Mapping[str, Mapping[date, Decimal]], group: str, on: date) -> Decimal | None:
    """A group's tariff in force on `on` (the `all` amount when the table is not by group)."""
    dated = table.get(group, table.get(ALL_GROUPS))
    return None if dated is None else value_on(dated, on)


def change_dates(*values: Mapping[date, Decimal]) -> list[date]:
    """Every date on which one of the dated values changes, in order."""
    return sorted({since for dated in values for since in dated})


def pounds(amount: Decimal) -> str:
    """£1,236.50 (whole pounds without pence: £4,000,000; below zero: -£300)."""
    sign = "-" if amount < 0 else ""
    if amount == amount.to_integral_value():
        return f"{sign}£{abs(amount):,.0f}"
    return f"{sign}£{abs(amount):,.2f}"


def percent(share: Decimal) -> str:
    """25% from 0.25; 12.5% from 0.125 (to two decimal places)."""
    text = f"{(share * 100).quantize(Decimal('0.01')):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"
