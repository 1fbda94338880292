"""Checks wire params against the input shape and returns them with snake_case member names; one walk does
both jobs. It refuses only what AWS refuses (docs/compatibility.md lists each check and its evidence):
required members, types, the documented max lengths, ranges and sizes, and values outside an enum. It
accepts what AWS accepts although the model says otherwise: enum values in any case (turned into the
model's spelling) and empty optional maps and lists (real clients send `tags: {}`)."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

from batchemu.errors import ClientException
from batchemu.protocol.spec import python_name

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "boolean": "a boolean",
    "structure": "an object",
    "map": "an object",
    "list": "a list",
}
_MAX_DEPTH = 40


class ValidationFailed(ClientException):
    def __init__(self, problems: list[str]) -> None:
        shown = problems[:10]
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__("Parameter validation failed: " + "; ".join(shown) + more)
        self.problems = problems


def validate(params: dict[str, Any], shape: Shape | None) -> dict[str, Any]:
    """The params with snake_case member names; raises ValidationFailed listing every problem."""
    if shape is None:
        return {}
    problems: list[str] = []
    result = _structure(params, shape, "", problems, 0)
    if problems:
        raise ValidationFailed(problems)
    return result


def _walk(
    value: Any, shape: Shape, where: str, problems: list[str], depth: int, required: bool = True
) -> Any:
    if depth > _MAX_DEPTH:
        problems.append(f"{where or 'input'} is nested too deeply")
        return None
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, where, problems, depth)
    if kind == "list":
        return _list(value, shape, where, problems, depth, required)
    if kind == "map":
        return _map(value, shape, where, problems, depth, required)
    return _scalar(value, shape, where, problems)


def _wrong_type(value: Any, kind: str, where: str, problems: list[str]) -> None:
    problems.append(
        f"Invalid type for parameter {where or 'input'}, value: {_short(value)}, "
        f"type: {type(value).__name__}, valid types: {_TYPE_WORDS.get(kind, kind)}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _structure(value: Any, shape: Shape, where: str, problems: list[str], depth: int) -> Any:
    if not isinstance(value, dict):
        _wrong_type(value, "structure", where, problems)
        return None
    result: dict[str, Any] = {}
    members = shape.members
    required = shape.required_members
    for name, item in value.items():
        path = f"{where}.{name}" if where else name
        member = members.get(name)
        if member is None:
            problems.append(f'Unknown parameter in {where or "input"}: "{name}"')
            continue
        if item is None:  # JSON null means "not given", as in AWS
            continue
        result[python_name(name)] = _walk(item, member, path, problems, depth + 1, name in required)
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f'Missing required parameter in {where or "input"}: "{name}"')
    return result


def _list(value: Any, shape: Shape, where: str, problems: list[str], depth: int, required: bool) -> Any:
    if not isinstance(value, list):
        _wrong_type(value, "list", where, problems)
        return None
    _check_size(len(value), shape, where, problems, "items", check_min=required)
    return [_walk(item, shape.member, f"{where}[{i}]", problems, depth + 1) for i, item in enumerate(value)]


def _map(value: Any, shape: Shape, where: str, problems: list[str], depth: int, required: bool) -> Any:
    if not isinstance(value, dict):
        _wrong_type(value, "map", where, problems)
        return None
    _check_size(len(value), shape, where, problems, "entries", check_min=required)
    result = {}
    for key, item in value.items():
        _scalar(key, shape.key, f"{where} (key)", problems)
        result[key] = _walk(item, shape.value, f"{where}.{key}", problems, depth + 1)
    return result


def _scalar(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    kind = shape.type_name
    expected = _SCALARS.get(kind, (str,))
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        _wrong_type(value, kind, where, problems)
        return None
    if isinstance(value, str):
        _check_size(len(value), shape, where, problems, "characters")
        if shape.enum and value not in shape.enum:
            canonical = _enum_spelling(shape).get(value.upper())
            if canonical is None:
                problems.append(f"Value {_short(value)} at {where} must be one of: {', '.join(shape.enum)}")
            return canonical
    elif isinstance(value, int | float):
        _check_range(value, shape, where, problems)
    return value


def _enum_spelling(shape: Shape) -> dict[str, str]:
    """Upper-cased enum value -> the model's spelling (for example "CONTAINER" -> "container")."""
    found = _SPELLINGS.get(shape.name)
    if found is None:
        found = _SPELLINGS[shape.name] = {value.upper(): value for value in shape.enum}
    return found


_SPELLINGS: dict[str, dict[str, str]] = {}


def _check_size(
    size: int, shape: Shape, where: str, problems: list[str], unit: str, check_min: bool = True
) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if check_min and low is not None and size < low:
        problems.append(f"{where or 'input'} must have at least {low} {unit}, got {size}")
    if high is not None and size > high:
        problems.append(f"{where or 'input'} must have at most {high} {unit}, got {size}")


def _check_range(value: float, shape: Shape, where: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(f"{where} must be at least {low}, got {value}")
    if high is not None and value > high:
        problems.append(f"{where} must be at most {high}, got {value}")
