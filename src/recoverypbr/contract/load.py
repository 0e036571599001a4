"""Reading a contract file: YAML to the model, with every problem reported by its path and line.

Numbers are read exactly: YAML floats become `Decimal` from their text, so 1236.50 is Decimal("1236.50") and
never passes through binary floating point. Duplicate keys, which YAML would silently collapse, are reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import LOCAL_TYPES, NATIONAL_TYPES
from recoverypbr.contract.rules import Problem, Report, known_list, suggest, validate
from recoverypbr.errors import ContractError

Lines = dict[tuple[str, ...], int]


class ContractInvalid(ContractError):
    """A contract file with problems; `report` holds all of them."""

    def __init__(self, report: Report) -> None:
        self.report = report
        first = report.problems[0]
        more = len(report.problems) - 1
        plural = "s" if more > 1 else ""
        suffix = f" (and {more} more problem{plural}; run `recoverypbr contract check`)" if more else ""
        super().__init__(f"{first.message}{suffix}", path=first.where(report.source), hint=first.hint)


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # no stubs for PyYAML
    """SafeLoader that reads floats as Decimal from their text."""


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal | str:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return value if value.is_finite() else text


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


def read_yaml(text: str) -> tuple[Any, Lines, list[Problem]]:
    """The document's data, the line of each key path, and problems (duplicate keys) found while reading."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines: Lines = {(): node.start_mark.line + 1}
        problems = list(_walk(node, (), lines))
        return loader.construct_document(node), lines, problems
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: tuple[str, ...], lines: Lines) -> Iterator[Problem]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            where = (*path, name)
            if name in seen:
                yield Problem(".".join(where), f"'{name}' appears twice here; YAML keeps only the last",
                              "remove one of them or rename it", "yaml", key.start_mark.line + 1)
            seen.add(name)
            lines[where] = key.start_mark.line + 1
            yield from _walk(value, where, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, str(i))] = item.start_mark.line + 1
            yield from _walk(item, (*path, str(i)), lines)


def line_of(path: str, lines: Lines) -> int | None:
    """The line of the deepest part of `path` found in the file."""
    parts = tuple(path.split(".")) if path else ()
    for end in range(len(parts), -1, -1):
        if parts[:end] in lines:
            return lines[parts[:end]]
    return None


def check_text(text: str, source: str = "<contract>") -> tuple[Contract | None, Report]:
    """Parse and validate a contract's text: the contract (None when it cannot be built) and every problem."""
    report = Report(source)
    try:
        data, lines, report.problems = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        report.problems.append(Problem("", f"not valid YAML: {problem}", "check the indentation and quoting "
                                       "near this line", "yaml", line))
        return None, report
    if not isinstance(data, Mapping):
        report.problems.append(Problem("", "a contract is a YAML mapping (area:, title:, years:, ...)",
                                       "start from an example in contracts/", "yaml", 1))
        return None, report
    contract = _build(data, report)
    if contract is not None:
        report.problems += validate(contract)
    report.problems += _illustrative_paths(data, lines)
    report.problems = [_with_line(p, lines) for p in report.problems]
    return contract, report


def _with_line(problem: Problem, lines: Lines) -> Problem:
    if problem.line is not None:
        return problem
    return Problem(problem.path, problem.message, problem.hint, problem.rule, line_of(problem.path, lines))


def _build(data: Mapping[str, Any], report: Report) -> Contract | None:
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        seen: set[str] = set()
        for error in exc.errors():
            problem = _from_pydantic(error, data)
            if problem.path not in seen:
                seen.add(problem.path)
                report.problems.append(problem)
        return None


def _illustrative_paths(data: Mapping[str, Any], lines: Lines) -> Iterator[Problem]:
    marked = data.get("illustrative")
    if not isinstance(marked, Mapping):
        return
    for path in marked:
        if tuple(str(path).split(".")) not in lines:
            yield Problem(f"illustrative.{path}", f"'{path}' is marked illustrative but is not in the file",
                          "give the dotted path of a figure in this file, e.g. outcomes.abstinence.tariffs.high",
                          "illustrative")


def contract_path(loc: tuple[int | str, ...], data: Any, keep_last: bool = False) -> str:
    """A Pydantic error location as the path in the file: union and validator steps are dropped."""
    parts: list[str] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, Mapping):
            keys = {str(k): k for k in node}
            if str(part) in keys:
                node = node[keys[str(part)]]
                parts.append(str(part))
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            parts.append(str(part))
            continue
        if keep_last and i == len(loc) - 1:
            parts.append(str(part))
    return ".".join(parts)


def _from_pydantic(error: ErrorDetails, data: Any) -> Problem:
    kind, loc = error["type"], error["loc"]
    path = contract_path(loc, data, keep_last=kind == "missing")
    name = path.rsplit(".", 1)[-1]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return Problem(path, f"`{name}` is required here", f"add `{name}:` (see docs/contracts.md)", "structure")
    if kind == "extra_forbidden":
        close = suggest(name, _field_names())
        return Problem(path, f"`{name}` is not a field here", f"remove it or correct the spelling.{close} See "
                       "docs/contracts.md for the fields of each section.", "structure")
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        return Problem(f"{path}.type", f"'{tag}' is not an outcome type", f"use a national outcome "
                       f"({known_list(NATIONAL_TYPES)}) or a local shape ({known_list(LOCAL_TYPES)})."
                       f"{suggest(tag, (*NATIONAL_TYPES, *LOCAL_TYPES))}", "structure")
    if kind == "union_tag_not_found":
        return Problem(f"{path}.type", "the outcome has no `type`", "add `type:` with a national outcome id (e.g. "
                       "abstinence) or a local shape (e.g. top_threshold)", "structure")
    return Problem(path, _message(error), _hint(kind, ctx), "structure")


def _message(error: ErrorDetails) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    if isinstance(shown, str | int | Decimal) and not isinstance(shown, bool):
        return f"{message} (found {shown!r})"
    return message


def _hint(kind: str, ctx: Mapping[str, Any]) -> str:
    if kind == "literal_error":
        return f"use one of {ctx.get('expected', '')}"
    if kind.startswith(("date", "datetime")):
        return "write dates as YYYY-MM-DD, e.g. 2012-04-01"
    if kind.startswith(("decimal", "int", "float")) or kind == "value_error":
        return "write a plain number (pounds like 1236.50, shares like 25% or 0.25, whole numbers for counts)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "this should be a mapping of keys to values (see docs/contracts.md)"
    if kind == "list_type":
        return "this should be a list, e.g. [a, b]"
    return "see docs/contracts.md for what this field takes"


def _field_names() -> set[str]:
    from recoverypbr.contract.schema import all_models

    return {name for model in all_models() for name in model.model_fields}


def check_contract(path: Path | str) -> tuple[Contract | None, Report]:
    """Read and validate a contract file; a file that cannot be read raises ContractError."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read the contract {file}: {exc}",
                            hint="check the path; a contract is a UTF-8 YAML file (see contracts/)") from exc
    return check_text(text, str(file))


def load_contract(path: Path | str) -> Contract:
    """The validated contract in a file; raises ContractInvalid (a ContractError) listing its problems."""
    contract, report = check_contract(path)
    if contract is None or not report.ok:
        raise ContractInvalid(report)
    return contract
