"""Designs side by side: the same baseline under each contract file, and what changed between the files in words.

Method (docs/modelling.md, "Designs side by side"):

- Each design runs through `risk.model_risk` on the same baseline with the same seed and number of runs: common
  random numbers. Every design's runs draw the same volume and rate factors and pick the same clients' achievements,
  so a difference between designs is the design's, not the draw's (exactly so while the designs group clients and
  define outcomes alike; a design that changes who achieves what changes which units there are to draw).
- **Expected payment per client by complexity group**, per contract year, from that year's template (the engine's
  earned lines before any limit, on the baseline's history moved onto the year): the pounds earned by episodes of
  the group in the year, divided by the episodes of the group that were open on some day of the year or earned a
  line in it. Lines without an episode (cohort payments) are not by client and count under no group.
- **Share of money by outcome**: the templates' earned pounds over the simulated years, by outcome (outcome lines,
  payment points and cohort payments by their outcome), with attachment fees and incentives as items of their own.
- **Provider cash flow**: `risk.summarise`'s percentiles per provider and quarter, one set per design.
- **What changed**: the two contracts' models, dumped to dicts, compared key by key (a dated value, such as a tariff
  with its dates, is one value); each difference is said with its path, the words the statements use for that
  path (`payments.words.reference_words`) and its value in each file, ordered by path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from recoverypbr.contract.explain import dated_money, day, outcome_label, words
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.contract.types import dated_versions, percent
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.modelling.baseline_file import Baseline
from recoverypbr.modelling.risk import RiskResult, Summary, check_baseline, model_risk, summarise, years_asked
from recoverypbr.modelling.template import NO_GROUP, YearTemplate, year_template
from recoverypbr.payments.words import reference_words
from recoverypbr.warehouse.connection import Warehouse

#: Differences listed in full; the rest are counted.
MOST_DIFFERENCES = 50
#: Text values longer than this are cut short in the differences.
LONG_TEXT = 60
#: Contract fields that hold shares (shown as percentages), by their key or their parent's key.
SHARE_FIELDS = frozenset({"share_on_results", "split", "weights", "baseline_rates", "sample", "weight",
                          "reliability", "target_reduction"})
#: Line kinds priced per outcome (the item is the line's outcome); other earned kinds are items of their own.
BY_OUTCOME = frozenset({"outcome", "payment_point", "cohort"})
ITEM_NAMES = {"attachment_fee": "Attachment fees", "incentive": "Incentives"}

Step = Callable[[str, int, int], None]


class CompareError(RecoveryPbrError):
    """Designs that cannot be compared as asked."""


# --- what changed between the files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One field that differs: its path in the contract, the statements' words for it, and its value in each file
    in words (None where the file does not have it)."""

    path: str
    label: str
    first: str | None
    second: str | None

    def words(self, first: str, second: str) -> str:
        """`outcomes.abstinence.tariffs.high (Abstinence, high complexity): £650 in A, £700 in B`."""
        said = f"{self.path} ({self.label})" if self.label else self.path
        if self.first is None:
            return f"{said}: only in {second}" + (f" ({self.second})" if self.second else "")
        if self.second is None:
            return f"{said}: only in {first}" + (f" ({self.first})" if self.first else "")
        return f"{said}: {self.first} in {first}, {self.second} in {second}"


def _is_dated(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, date) for k in value)


def _value_words(value: Any, share: bool) -> str:
    """A leaf value in words: money as the contract's explanation writes it (`£450 (from 1 April 2013: £500)`),
    shares the same way in percent, text quoted."""
    if _is_dated(value):
        if not share:
            return dated_money(value)
        versions = dated_versions(value)
        later = [f"from {day(since)}: {percent(v)}" for since, v in versions[1:]]
        return percent(versions[0][1]) + (f" ({'; '.join(later)})" if later else "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return percent(value) if share else f"{value:f}"
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= LONG_TEXT else f"'{value[:LONG_TEXT - 3]}...'"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value_words(v, share) for v in value) + "]"
    if isinstance(value, dict):
        return ""
    return str(value)


_AMOUNT = re.compile(r", -?£[0-9,]+\.[0-9]{2}( each| per achievement above the cohort's baseline)?$")
_CONTRACT = re.compile(r" \(contract [0-9-]+\)$")
#: Words with a part missing (a path shorter than the words need: `attachment_fees` alone).
_GAPS = re.compile(r", ,|\s{2}|^,|, $")


def path_label(contract: Contract, path: str) -> str:
    """The words a statement uses for the thing at `path` (`Abstinence, high complexity`), without its amount;
    "" where the statements have no words of their own for it."""
    parts = [p for p in path.split(".") if p]
    said = _AMOUNT.sub("", _CONTRACT.sub("", reference_words(contract, path)))
    unknown = said == ", ".join(words(p) for p in parts)
    return "" if unknown or _GAPS.search(said) else said


def _diff(a: Any, b: Any, path: list[str], found: list[tuple[list[str], Any, Any]]) -> None:
    """Append (path, value in a, value in b) for every leaf that differs; empty mappings and lists are absent."""
    if a == b:
        return
    a, b = (None if v == {} or v == [] else v for v in (a, b))
    if a is None or b is None or type(a) is not type(b):
        found.append((path, a, b))
    elif isinstance(a, dict) and not _is_dated(a) and not _is_dated(b):
        for key in sorted(set(a) | set(b), key=str):
            _diff(a.get(key), b.get(key), [*path, str(key)], found)
    elif isinstance(a, list) and all(isinstance(v, dict) for v in [*a, *b]):
        for i in range(max(len(a), len(b))):
            _diff(a[i] if i < len(a) else None, b[i] if i < len(b) else None, [*path, str(i)], found)
    else:
        found.append((path, a, b))


def _sort_key(path: list[str]) -> list[tuple[int, str]]:
    return [(0, f"{int(p):09d}") if p.isdigit() else (1, p) for p in path]


def contract_differences(first: Contract, second: Contract) -> list[Difference]:
    """Every field whose value differs between two contracts, ordered by path (a value absent, null or empty in one
    file is "only in" the other)."""
    found: list[tuple[list[str], Any, Any]] = []
    _diff(first.model_dump(), second.model_dump(), [], found)
    differences = []
    for path, a, b in sorted(found, key=lambda f: _sort_key(f[0])):
        share = bool(set(path[-2:]) & SHARE_FIELDS)
        dotted = ".".join(path)
        label = path_label(first if a is not None else second, dotted)
        differences.append(Difference(dotted, label, None if a is None else _value_words(a, share),
                                      None if b is None else _value_words(b, share)))
    return differences


def differences_words(differences: Sequence[Difference], first: str, second: str,
                      most: int = MOST_DIFFERENCES) -> list[str]:
    """The differences in words, at most `most` of them and then "and N more"; "no differences" when there are
    none."""
    if not differences:
        return [f"No differences: {first} and {second} are the same design."]
    said = [d.words(first, second) for d in differences[:most]]
    if len(differences) > most:
        said.append(f"and {len(differences) - most} more")
    return said


# --- the figures of one design -----------------------------------------------------------------------------------


def _pounds(pence: int, count: int = 1) -> Decimal:
    """Pence over a count, in pounds rounded half up to the penny (exact: from integers)."""
    return (Decimal(pence) / count / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _earned_frame(template: YearTemplate) -> pd.DataFrame:
    return pd.DataFrame({
        "kind": [line.kind for line in template.lines],
        "episode_id": [line.episode_id for line in template.lines],
        "outcome_id": [line.outcome_id or "" for line in template.lines],
        "amount": [line.amount_pence for line in template.lines],
    }, columns=["kind", "episode_id", "outcome_id", "amount"]).astype({"amount": "int64"})


def payment_per_client(wh: Warehouse, template: YearTemplate, groups: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per complexity group, the year's earned pounds (before limits) by episodes of the group, the episodes that
    were open on some day of the year (on the moved history) or earned a line in it, and the pounds per episode;
    `groups` in their order first (the contract's), then any other group."""
    year, shift = template.year, template.shift
    e = wh.table("episodes")
    open_in_year = e.filter((e.start_date <= shift.back(year.end))
                            & (e.discharge_date.isnull() | (e.discharge_date >= shift.back(year.start))))
    open_ids = set(wh.to_arrow(open_in_year.select("episode_id")).column("episode_id").to_pylist())
    episodes = template.episodes.to_pandas()
    lines = _earned_frame(template)
    lines = lines[lines.episode_id.notna()]
    earned = lines.groupby("episode_id").amount.sum()
    episodes["earned"] = episodes.episode_id.map(earned).fillna(0).astype("int64")
    episodes["counted"] = episodes.episode_id.isin(open_ids) | episodes.episode_id.isin(earned.index)
    counted = episodes[episodes.counted].groupby("complexity_group").agg(
        earned=("earned", "sum"), clients=("episode_id", "size"))
    rank = {g: i for i, g in enumerate(groups)}
    counted = counted.loc[sorted(counted.index, key=lambda g: (rank.get(g, len(rank)), str(g)))]
    return [{"year": year.label, "group": str(group), "earned": _pounds(int(row.earned)), "clients": int(row.clients),
             "per_client": _pounds(int(row.earned), int(row.clients))}
            for group, row in counted.iterrows() if group != NO_GROUP or row.earned]


def _item(contract: Contract, kind: str, outcome_id: str) -> str:
    if kind not in BY_OUTCOME:
        return ITEM_NAMES.get(kind, words(kind))
    outcome = contract.outcomes.get(outcome_id)
    label = outcome_label(outcome_id, outcome) if outcome is not None else words(outcome_id)
    return label[:1].upper() + label[1:]


def money_by_outcome(contract: Contract, templates: Sequence[YearTemplate]) -> list[dict[str, Any]]:
    """The templates' earned pounds by outcome (fees and incentives as items of their own) and each item's share of
    the total, largest first."""
    frames = [_earned_frame(t) for t in templates]
    lines = pd.concat(frames) if frames else _earned_frame(templates[0])
    lines["item"] = [_item(contract, k, o) for k, o in zip(lines.kind, lines.outcome_id, strict=True)]
    by_item = lines.groupby("item").amount.sum().sort_values(ascending=False, kind="stable")
    total = int(by_item.sum())
    return [{"item": str(item), "earned": _pounds(int(pence)),
             "share": (Decimal(int(pence)) / total).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
             if total else Decimal(0)} for item, pence in by_item.items()]


@dataclass(frozen=True)
class Design:
    """One contract file under the baseline: its risk run and summary, payment per client, money by outcome, and
    the year templates they were made from."""

    name: str
    file: Path
    contract: Contract
    result: RiskResult
    summary: Summary
    per_client: list[dict[str, Any]]
    by_outcome: list[dict[str, Any]]
    templates: list[YearTemplate]


@dataclass(frozen=True)
class Comparison:
    """The designs in the order given, and what changed from the first to each other one."""

    designs: list[Design]
    changes: list[tuple[str, str, list[Difference]]]
    runs: int
    seed: int


def design_names(count: int) -> list[str]:
    """A, B, C, ... (then D1, D2 past Z)."""
    return [chr(ord("A") + i) if i < 26 else f"D{i + 1}" for i in range(count)]


def load_designs(files: Sequence[Path]) -> list[tuple[str, Path, Contract]]:
    """Each file's contract, named A, B, ...; refuse fewer than two files, or contracts of different areas (one
    baseline is one area's history)."""
    if len(files) < 2:
        raise CompareError(f"compare needs at least two contract files (got {len(files)})",
                           hint="name two or more: recoverypbr model compare A.yaml B.yaml --baseline DIR")
    designs = [(name, Path(f), load_contract(f)) for name, f in zip(design_names(len(files)), files, strict=True)]
    first = designs[0]
    for name, path, contract in designs[1:]:
        if contract.area != first[2].area:
            raise CompareError(
                f"{path} ({name}) is a contract for {contract.area}, but {first[1]} ({first[0]}) is for "
                f"{first[2].area}: the same baseline cannot serve both",
                hint="compare designs for the same area; each area needs its own baseline")
    return designs


def _named(step: Step | None, name: str) -> Step | None:
    """The progress step with the design's name before what it is doing."""
    if step is None:
        return None
    shown = step

    def told(text: str, done: int, total: int) -> None:
        shown(f"{name}: {text}", done, total)

    return told


def _template_progress(told: Step | None, runs: int) -> Callable[[str], None] | None:
    if told is None:
        return None
    shown = told

    def progress(text: str) -> None:
        shown(text, 0, runs)

    return progress


def compare_designs(
    wh: Warehouse,
    files: Sequence[Path],
    baseline: Baseline,
    runs: int,
    seed: int,
    *,
    years: int | None = None,
    fixed: bool = False,
    step: Step | None = None,
) -> Comparison:
    """Every design through `model_risk` on the same baseline, runs and seed (common random numbers), with payment
    per client by group and money by outcome from the same templates, and the differences from the first file.
    Without `years`, the years compared are the first N of every design, N the fewest any design has. A design
    whose contract equals an earlier one's reuses that one's templates (the engine would make the same)."""
    loaded = load_designs(files)
    if years is None:  # every design must have the years compared
        years = min(len(contract.years) for _, _, contract in loaded)
    designs: list[Design] = []
    for name, path, contract in loaded:
        check_baseline(baseline, contract)
        indexes = years_asked(contract, years)
        told = _named(step, name)
        progress = _template_progress(told, runs)
        same = next((d for d in designs if d.contract == contract), None)
        templates = same.templates if same is not None else [
            year_template(wh, contract, baseline.window_from, i, progress=progress) for i in indexes]
        result = model_risk(wh, contract, baseline, runs, seed, years=years, fixed=fixed, templates=templates,
                            step=told)
        per_client = [row for t in templates for row in payment_per_client(wh, t, contract.group_ids)]
        designs.append(Design(name, path, contract, result, summarise(result), per_client,
                              money_by_outcome(contract, templates), templates))
    first = designs[0]
    changes = [(first.name, d.name, contract_differences(first.contract, d.contract)) for d in designs[1:]]
    return Comparison(designs, changes, runs, seed)


def limits_acting_most(summary: Summary, most: int = 2) -> list[tuple[str, Decimal]]:
    """The limits that act in the largest share of runs (the largest share over the years), most first."""
    share: dict[str, Decimal] = {}
    for row in summary.limits:
        if row["p_acts"]:
            share[row["limit"]] = max(share.get(row["limit"], Decimal(0)), row["p_acts"])
    return sorted(share.items(), key=lambda kv: (-kv[1], kv[0]))[:most]


def spend_rows(comparison: Comparison) -> list[Mapping[str, Any]]:
    """Per design and year: mean spend, 5th and 95th percentiles, results money and P(over)."""
    return [{"design": d.name, **row} for d in comparison.designs for row in d.summary.years]
