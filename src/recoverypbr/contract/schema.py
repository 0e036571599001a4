"""The contract format, generated from the model: JSON Schema for editors and the reference in docs/contracts.md.

Both come from the Pydantic models in `model.py` and `outcomes.py`, so they cannot drift from what the loader
accepts. Regenerate the reference section of the docs with ``recoverypbr contract schema --format markdown
--update docs/contracts.md``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, WithJsonSchema
from pydantic.fields import FieldInfo

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OUTCOME_TYPES, type_name
from recoverypbr.contract.types import TYPE_WORDS
from recoverypbr.errors import ContractError

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BEGIN = "<!-- BEGIN GENERATED REFERENCE: recoverypbr contract schema --format markdown --update docs/contracts.md -->"
END = "<!-- END GENERATED REFERENCE -->"


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of a contract file (YAML read as JSON: dates as strings, numbers as numbers)."""
    schema = Contract.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def model_places() -> dict[type[BaseModel], list[str]]:
    """Every model of the format and where it sits in a file (`outcomes.<id>`), in reading order."""
    places: dict[type[BaseModel], list[str]] = {Contract: ["(top level)"]}
    _visit(Contract, "", places)
    return places


def _visit(model: type[BaseModel], prefix: str, places: dict[type[BaseModel], list[str]]) -> None:
    for name, info in model.model_fields.items():
        place = prefix + name + _container(info.annotation)
        for found in _models_in(info.annotation):
            if found in places:
                places[found].append(place)
                continue
            places[found] = [place]
            _visit(found, place + ".", places)


def all_models() -> list[type[BaseModel]]:
    return list(model_places())


def _container(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is dict:
        return ".<id>"
    if origin is list:
        return "[]"
    if origin in (Union, types.UnionType):
        return next((_container(a) for a in get_args(annotation) if a is not type(None)), "")
    return ""


def type_words(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A field's type in a commissioner's words."""
    for meta in metadata:
        if isinstance(meta, WithJsonSchema) and id(meta.json_schema) in TYPE_WORDS:
            return TYPE_WORDS[id(meta.json_schema)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_words(args[0], args[1:])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) > 3:
            return "an outcome (its `type` says which, see below)"
        return " or ".join(type_words(a) for a in kinds)
    if origin is list:
        return f"list of {type_words(args[0])}"
    if origin is dict:
        return f"mapping of {type_words(args[0])} to {type_words(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    simple = {str: "text", int: "whole number", bool: "true/false", date: "date (YYYY-MM-DD)", Decimal: "number"}
    return simple.get(annotation, str(annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or value == [] or value == {} or value == "":
        return "-"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(model: type[BaseModel], places: list[str]) -> list[str]:
    title, where = model.__name__, ", ".join(f"`{place}`" for place in places)
    if model in OUTCOME_TYPES:
        title += f" (`type: {type_name(model)}`)"
        where = f"`{places[0]}` with `type: {type_name(model)}`"
    lines = [f"### {title}", "", f"Where: {where}", "", _cell(model.__doc__ or ""), ""]
    lines += ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        words = type_words(info.annotation, info.metadata)
        lines.append(f"| `{name}` | {_cell(words)} | {_cell(_default(info))} | {_cell(info.description or '')} |")
    return [*lines, ""]


def reference_markdown() -> str:
    """The generated part of docs/contracts.md: every section and field of the format."""
    lines = [BEGIN, ""]
    for model, places in model_places().items():
        lines += _section(model, places)
    return "\n".join([*lines, END]) + "\n"


def update_reference(doc: Path) -> bool:
    """Rewrite the generated section of `doc` (between the BEGIN and END markers); True when it changed."""
    try:
        text = doc.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"cannot read {doc}: {exc}", hint="give the path of docs/contracts.md") from exc
    begin = next((line for line in text.splitlines() if line.startswith(BEGIN.split(":")[0])), None)
    if begin is None or END not in text:
        raise ContractError(f"{doc} has no generated reference section",
                            hint=f"add the two lines {BEGIN} and {END} where the reference goes")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(END + "\n")
    updated = head + reference_markdown() + tail
    if updated != text:
        doc.write_text(updated, encoding="utf-8")
    return updated != text

