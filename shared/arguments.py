"""Tool arguments the way clients send them, made ready for strict validation.

The reference servers validate with zod, whose objects drop keys they do not declare, and models add such keys
(`encoding: "utf-8"`, `recursive: false`, `edits[0].replaceAll`); JSON has one number type, and clients write
a whole number as `10.0` or `1e1`. So, walking the arguments alongside the tool's input schema:

- a key the schema does not declare, at any depth, is dropped (and logged at debug level);
- except a near miss of a declared key (the same name but for case, `_` and `-`: `dry_run` or `DryRun` for
  `dryRun`), which is refused: ignoring it would quietly do the opposite of what the model asked (a real write
  instead of a dry run), and the model can fix the spelling from the message;
- a float with no fractional part where only an integer is accepted becomes that integer (also in lists and
  nested objects). `1.5` is left for validation to refuse; strings and booleans are never numbers.

Everything else is the schema's and the strict model's business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Findings:
    """What normalising one call's arguments dropped or refused, as dotted paths (`edits.0.replaceAll`)."""

    ignored: list[str] = field(default_factory=list)
    near_misses: list[tuple[str, str]] = field(default_factory=list)  # (path given, declared name meant)


Fix = Callable[[Any, str, Findings], Any]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _squashed(name: str) -> str:
    return name.replace("_", "").replace("-", "").casefold()


def _whole_number(value: Any, _path: str, _findings: Findings) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _object(schema: dict[str, Any]) -> Fix | None:
    properties = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    additional = schema.get("additionalProperties")
    closed = "properties" in schema and additional in (None, False)
    extra = compile_schema(additional) if isinstance(additional, dict) else None
    if not closed and extra is None and not any(properties.values()):
        return None
    meant = {_squashed(name): name for name in properties}

    def fix(value: Any, path: str, findings: Findings) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key in properties:
                sub = properties[key]
                out[key] = sub(item, _join(path, key), findings) if sub else item
            elif not closed:
                out[key] = extra(item, _join(path, key), findings) if extra else item
            elif isinstance(key, str) and (name := meant.get(_squashed(key))) is not None:
                findings.near_misses.append((_join(path, key), name))
            else:
                findings.ignored.append(_join(path, key))
        return out

    return fix


def _array(schema: dict[str, Any]) -> Fix | None:
    items = compile_schema(schema.get("items"))
    prefix = [compile_schema(sub) for sub in schema.get("prefixItems", ())]
    if items is None and not any(prefix):
        return None

    def fix(value: Any, path: str, findings: Findings) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else items
            out.append(sub(item, _join(path, index), findings) if sub else item)
        return out

    return fix


def _union(branches: list[Any]) -> Fix | None:
    """An integral float is a whole number only if no branch takes any number; an object or a list is walked
    with its branch when exactly one branch is of that kind (otherwise validation decides alone)."""
    kinds = [branch.get("type") if isinstance(branch, dict) else None for branch in branches]
    whole = "integer" in kinds and "number" not in kinds and None not in kinds
    objects = [branch for branch in branches if isinstance(branch, dict) and branch.get("type") == "object"]
    arrays = [branch for branch in branches if isinstance(branch, dict) and branch.get("type") == "array"]
    on_object = _object(objects[0]) if len(objects) == 1 else None
    on_array = _array(arrays[0]) if len(arrays) == 1 else None
    if not (whole or on_object or on_array):
        return None

    def fix(value: Any, path: str, findings: Findings) -> Any:
        if whole and isinstance(value, float):
            return _whole_number(value, path, findings)
        if on_object and isinstance(value, dict):
            return on_object(value, path, findings)
        if on_array and isinstance(value, list):
            return on_array(value, path, findings)
        return value

    return fix


def compile_schema(schema: Any) -> Fix | None:
    """A function that normalises a value of `schema` (with `$ref`s inlined), or None when there is nothing to do."""
    if not isinstance(schema, dict):
        return None
    branches = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(branches, list):
        return _union(branches)
    kind = schema.get("type")
    if kind == "integer":
        return _whole_number
    if kind == "array":
        return _array(schema)
    if kind == "object" or "properties" in schema:
        return _object(schema)
    return None


def normaliser(schema: dict[str, Any]) -> Callable[[dict[str, Any]], tuple[dict[str, Any], Findings]]:
    """For a tool's input schema: arguments -> (what to validate, what was dropped or refused)."""
    fix = compile_schema(schema)

    def normalise(arguments: dict[str, Any]) -> tuple[dict[str, Any], Findings]:
        findings = Findings()
        return (fix(arguments, "", findings) if fix else arguments), findings

    return normalise
