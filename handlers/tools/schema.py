"""Strict JSON schemas from type hints and Google-style docstrings, and argument validation.

Our own small implementation rather than pydantic's ``TypeAdapter``: OpenAI's strict mode wants
a narrow dialect (every property required, ``additionalProperties: false``, optional values
expressed as nullable, no free-form maps), and validating against exactly the schema we
published keeps the error messages the model sees short and specific.

Supported parameter types: ``str``, ``int``, ``float``, ``bool``, ``list[T]``, ``Literal[...]``,
``Enum`` subclasses, dataclasses (nested objects), and ``T | None``. A parameter with a default
is still required in strict mode but nullable; ``null`` then means "use the default".
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints

from runhook.errors import ArgumentError as ArgumentError
from runhook.events.errors import SetupError

JsonSchema = dict[str, Any]

_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]+:\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


@dataclasses.dataclass(frozen=True)
class Signature:
    """A tool's schema and how to call it."""

    description: str
    parameters: JsonSchema
    defaults: Mapping[str, Any]
    hints: Mapping[str, Any]


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args, current = True, None
            continue
        if in_args and _SECTION.match(line) and not line.startswith(" "):
            in_args, current = False, None
            continue
        if in_args:
            match = _ARG_LINE.match(line)
            if match and (len(line) - len(line.lstrip())) <= 4:
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
            continue
        if not _SECTION.match(line):
            summary.append(line)
    description = "\n".join(summary).strip()
    description = description.split("\n\n")[0].replace("\n", " ").strip()
    return description, args


def signature_of(fn: Callable[..., Any], *, strict: bool = True) -> Signature:
    """Build the strict JSON schema of ``fn``'s parameters.

    Raises:
        SetupError: a parameter has no type hint or an unsupported one, or ``fn`` takes
            ``*args``/``**kwargs``.
    """
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        hints = get_type_hints(fn)
    except Exception as exc:
        raise SetupError(f"tool {name}: cannot resolve its type hints ({exc})") from exc
    description, arg_docs = parse_docstring(inspect.getdoc(fn))
    properties: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SetupError(f"tool {name}: *args/**kwargs cannot be described to the model")
        if param.name not in hints:
            raise SetupError(
                f"tool {name}: parameter {param.name!r} has no type hint; the model needs one "
                "to know what to send (e.g. `{param.name}: str`)"
            )
        hint = hints[param.name]
        schema = schema_of(hint, where=f"tool {name}, parameter {param.name!r}")
        if param.default is not param.empty:
            defaults[param.name] = param.default
            if strict:
                schema = _nullable(schema)
        if param.name in arg_docs:
            schema = {**schema, "description": arg_docs[param.name]}
        properties[param.name] = schema
    parameters: JsonSchema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if strict else [p for p in properties if p not in defaults],
        "additionalProperties": False,
    }
    return Signature(
        description=description,
        parameters=parameters,
        defaults=defaults,
        hints={k: v for k, v in hints.items() if k != "return"},
    )


def schema_of(hint: Any, *, where: str) -> JsonSchema:
    """The JSON schema of one type hint (see the module docstring for what is supported)."""
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) == 1 and len(get_args(hint)) == 2:
            return _nullable(schema_of(members[0], where=where))
        return {"anyOf": [schema_of(a, where=where) for a in get_args(hint)]}
    if hint is type(None):
        return {"type": "null"}
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": _json_type_of(values[0], where), "enum": values}
    if origin in (list, typing.List):  # noqa: UP006 - both spellings appear in user code
        (item,) = get_args(hint) or (None,)
        if item is None:
            raise SetupError(f"{where}: say what the list holds, e.g. list[str]")
        return {"type": "array", "items": schema_of(item, where=where)}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        return {"type": _json_type_of(values[0], where), "enum": values}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        sig = signature_of(hint)
        return dict(sig.parameters)
    raise SetupError(
        f"{where}: type {hint!r} is not supported in a strict tool schema; use str, int, float, "
        "bool, list[...], Literal[...], an Enum, a dataclass, or X | None"
    )


def _json_type_of(value: Any, where: str) -> str:
    for py, js in _SCALARS.items():
        if type(value) is py:
            return js
    raise SetupError(f"{where}: enum values must be str, int, float or bool")


def _nullable(schema: JsonSchema) -> JsonSchema:
    if isinstance(schema.get("type"), list):
        types = schema["type"]
        return schema if "null" in types else {**schema, "type": [*types, "null"]}
    if "type" in schema and isinstance(schema["type"], str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    if "anyOf" in schema:
        if {"type": "null"} in schema["anyOf"]:
            return schema
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def coerce_arguments(sig: Signature, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``arguments`` against the schema and convert them to the hinted Python types.

    Raises:
        ArgumentError: a missing, unknown or mistyped argument; the message names it.
    """
    props = sig.parameters["properties"]
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        raise ArgumentError(f"unknown argument(s) {unknown}; expected {sorted(props)}")
    result: dict[str, Any] = {}
    for name in props:
        if name not in arguments or arguments[name] is None:
            if name in sig.defaults:
                result[name] = sig.defaults[name]
                continue
            if name not in arguments:
                raise ArgumentError(f"missing required argument {name!r}")
        result[name] = _coerce(sig.hints[name], arguments[name], name)
    return result


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        errors = []
        for member in get_args(hint):
            if member is type(None):
                continue
            try:
                return _coerce(member, value, path)
            except ArgumentError as exc:
                errors.append(str(exc))
        raise ArgumentError(errors[0] if errors else f"{path}: unexpected null")
    if hint is bool:
        if not isinstance(value, bool):
            raise ArgumentError(f"{path}: expected a boolean, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentError(f"{path}: expected an integer, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ArgumentError(f"{path}: expected a number, got {_kind(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ArgumentError(f"{path}: expected a string, got {_kind(value)}")
        return value
    if origin is Literal:
        if value not in get_args(hint):
            raise ArgumentError(f"{path}: expected one of {list(get_args(hint))}, got {value!r}")
        return value
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            raise ArgumentError(f"{path}: expected an array, got {_kind(value)}")
        (item,) = get_args(hint)
        return [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = [m.value for m in hint]
            raise ArgumentError(f"{path}: expected one of {allowed}, got {value!r}") from None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ArgumentError(f"{path}: expected an object, got {_kind(value)}")
        sig = signature_of(hint)
        try:
            return hint(**coerce_arguments(sig, value))
        except ArgumentError as exc:
            raise ArgumentError(f"{path}.{exc}") from None
    return value


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), type(value).__name__)
