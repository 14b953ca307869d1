"""JSON Schemas that every client can read: pydantic's output made portable.

Clients map tool schemas onto narrower dialects (the Inspector's ``--strict`` check lists the traps), so:
`$ref`s into `$defs` are inlined, `title`s dropped, optional fields lose their `null` branch (absent already
means "not given"), and no sub-schema is a bare boolean.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_NOISE = frozenset({"title"})


def _inline(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    if depth > 64:
        msg = "schema nests too deeply (recursive model?)"
        raise ValueError(msg)
    if isinstance(node, list):
        return [_inline(item, defs, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(defs[ref.removeprefix("#/$defs/")], defs, depth + 1)
        siblings = {k: _inline(v, defs, depth + 1) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    out = {}
    for key, value in node.items():
        if (key in _NOISE and isinstance(value, str)) or key == "$defs":
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _inline(sub, defs, depth + 1) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs, depth + 1)
    return out


def _drop_null_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` with default null becomes X: optional already means absent."""
    branches = prop.get("anyOf")
    if not isinstance(branches, list) or prop.get("default", ...) is not None:
        return prop
    rest = [b for b in branches if b != {"type": "null"}]
    if len(rest) == len(branches):
        return prop
    base = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**rest[0], **base} if len(rest) == 1 else {**base, "anyOf": rest}


def _no_boolean_schemas(node: Any) -> Any:
    if isinstance(node, list):
        return [_no_boolean_schemas(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "additionalProperties" and isinstance(value, bool):
            # `true` is the default, and `false` would be untrue: unknown arguments are ignored, as the
            # reference servers' zod schemas do (`deskmcp.shared.arguments`). Either as a bare boolean is a
            # schema some clients reject, so the portable spelling is to say nothing.
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _no_boolean_schemas(_drop_null_branch(sub)) for name, sub in value.items()}
        else:
            out[key] = _no_boolean_schemas(value)
    return out


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (from `model_json_schema()`) with every `$ref` replaced by its definition and titles dropped."""
    return _inline(schema, schema.get("$defs", {}))


def portable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (from `model_json_schema()`) rewritten for the widest range of clients."""
    return _no_boolean_schemas(inlined(schema))


def annotations_of(function: Callable[..., Any]) -> dict[str, Any]:
    """`function`'s annotations, evaluated, exactly as written.

    Not `typing.get_type_hints`: on Python 3.10 it wraps the hint of a parameter whose default is None in another
    `Optional`, which nests the schema (`anyOf: [{anyOf: [integer, null]}, null]`), so clients would see other
    schemas there, and `10.0` for an integer would not be recognised.
    """
    return inspect.get_annotations(function, eval_str=True)
