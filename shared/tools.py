"""Tools: a typed Python function becomes an MCP tool, validated before it runs.

`@tool` reads the function's signature: parameter type hints (with `Annotated[..., Field(description=...)]`)
become the `inputSchema`, the docstring the description, a `StructuredResult` return type the
`outputSchema`. Arguments are first taken the way clients send them (`deskmcp.shared.arguments`: unknown
keys ignored as the reference servers' zod schemas do, but a near miss such as `dry_run` for `dryRun` refused,
so a misspelling cannot turn a dry run into a real write; `10.0` for an integer is 10), then validated strictly
(JSON types must match: "10" is not a number, `true` not an integer), and a failure is an `isError` result
naming the field. Use `Literal[...]` rather than `Enum` for choices: strict validation of already-parsed JSON
only accepts enum members, not their values.

Errors are translated in one place, `ToolRegistry.call`: an `errors.DomainError` and whatever a registry lists
as anticipated become an `isError` result with its message; anything else is a bug, logged with its traceback
on stderr and reported to the model as a short internal error.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import threading
import types as types_module
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.to_thread
import mcp.types as types
from deskmcp.shared.arguments import Findings, normaliser
from deskmcp.shared.errors import DomainError
from deskmcp.shared.schema import annotations_of, inlined, portable
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

logger = logging.getLogger(__name__)

READ_ONLY: Final = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def writes(*, destructive: bool, idempotent: bool) -> types.ToolAnnotations:
    """Annotations of a tool that changes local state (never the open world)."""
    return types.ToolAnnotations(
        read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=False
    )


class ToolCancelled(Exception):
    """Raised in a worker thread by `ToolContext.check_cancelled` once the client has cancelled the request."""


class StructuredResult(BaseModel):
    """Base of tool results that carry `structuredContent`; `render_text` is what the model reads."""

    def render_text(self) -> str:
        return self.model_dump_json(indent=2)

    def content_blocks(self) -> list[types.ContentBlock]:
        """The result's `content`: by default one text block of `render_text()`."""
        return [types.TextContent(type="text", text=self.render_text())]

    def structured_content(self) -> dict[str, Any]:
        """The result's `structuredContent`: by default the model's fields, as JSON."""
        return self.model_dump(mode="json")

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return portable(cls.model_json_schema(mode="serialization"))


TEXT_OUTPUT_SCHEMA: Final = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"content": {"type": "string"}},
    "required": ["content"],
    "additionalProperties": False,
}


class StructuredText(StructuredResult):
    """Text that is also the structured result `{"content": text}`, with the output schema the reference servers
    declare for it (byte for byte, so a client written against them validates ours the same way).

    `notes` are further text blocks for the model (a truncation note, say): outside `content`, so that what a
    parser reads there keeps its format.
    """

    content: str
    notes: list[str] = Field(default_factory=list, exclude=True)

    def content_blocks(self) -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text=text) for text in (self.content, *self.notes)]

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return copy.deepcopy(TEXT_OUTPUT_SCHEMA)


@dataclass(slots=True)
class ToolContext:
    """What a tool may ask of the request it serves: progress and cancellation.

    Declare a parameter annotated `ToolContext` to receive it; it is not part of the schema.
    """

    request: ServerRequestContext[Any, Any]
    cancelled: threading.Event = field(default_factory=threading.Event)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send `notifications/progress` if the client asked for it with a progress token; else nothing."""
        await self.request.session.report_progress(progress, total, message)

    def check_cancelled(self) -> None:
        """For work in a worker thread: raise `ToolCancelled` if the client cancelled the request.

        The thread was already abandoned (nobody awaits its result); this only makes it stop working.
        """
        if self.cancelled.is_set():
            raise ToolCancelled


ToolFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its wire definition and how to call its function."""

    name: str
    title: str | None
    description: str
    arguments: type[BaseModel]
    function: ToolFunction
    annotations: types.ToolAnnotations | None
    output_model: type[StructuredResult] | None
    context_parameter: str | None
    in_thread: bool
    input_schema: dict[str, Any]
    normalise: Callable[[dict[str, Any]], tuple[dict[str, Any], Findings]]

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_model.output_schema() if self.output_model else None,
            annotations=self.annotations,
        )


def _description(function: ToolFunction) -> str:
    doc = inspect.getdoc(function)
    if not doc:
        msg = f"tool {function.__name__} needs a docstring: it is the description the model reads"
        raise ValueError(msg)
    return doc


def _is_context(annotation: Any) -> bool:
    """`ToolContext`, also when written `ToolContext | None`."""
    if annotation is ToolContext:
        return True
    return typing.get_origin(annotation) in (typing.Union, types_module.UnionType) and ToolContext in typing.get_args(
        annotation
    )


def _arguments_model(name: str, function: ToolFunction) -> tuple[type[BaseModel], str | None]:
    hints = annotations_of(function)
    fields: dict[str, Any] = {}
    context_parameter = None
    for parameter in inspect.signature(function).parameters.values():
        annotation = hints.get(parameter.name, Any)
        if _is_context(annotation):
            context_parameter = parameter.name
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    config = ConfigDict(extra="forbid", strict=True)
    model = create_model(f"{name}_arguments", __config__=config, **fields)
    return model, context_parameter


def _output_model(function: ToolFunction) -> type[StructuredResult] | None:
    returned = annotations_of(function).get("return")
    return returned if inspect.isclass(returned) and issubclass(returned, StructuredResult) else None


def tool(
    function: ToolFunction | None = None,
    *,
    name: str | None = None,
    title: str | None = None,
    annotations: types.ToolAnnotations | None = None,
    in_thread: bool | None = None,
) -> Any:
    """Make `function` a `ToolSpec` (`title`: the display name). Sync functions run in a worker thread unless
    `in_thread=False`."""

    def build(function: ToolFunction) -> ToolSpec:
        tool_name = name or function.__name__
        arguments, context_parameter = _arguments_model(tool_name, function)
        schema = arguments.model_json_schema()  # once: pydantic builds it anew on every call
        is_async = inspect.iscoroutinefunction(function)
        return ToolSpec(
            name=tool_name,
            title=title,
            description=_description(function),
            arguments=arguments,
            function=function,
            annotations=annotations,
            output_model=_output_model(function),
            context_parameter=context_parameter,
            in_thread=(not is_async) if in_thread is None else in_thread and not is_async,
            input_schema=portable(schema),
            normalise=normaliser(inlined(schema)),
        )

    return build(function) if function is not None else build


IGNORED_SHOWN: Final = 10
_JSON_TYPES: Final = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "dict": "object",
    "list": "array",
    "bool": "boolean",
    "NoneType": "null",
}


def describe_problems(error: ValidationError | None, findings: Findings, expected: Iterable[str]) -> list[str]:
    """One line per problem, each naming the argument and what it should be; then the arguments ignored, which
    may be what the model meant to send (`old` for `oldText`)."""
    lines = [
        f"- {given}: unknown argument; did you mean {meant!r}? (a near miss of an argument is refused, not ignored)"
        for given, meant in findings.near_misses
    ]
    for problem in error.errors(include_url=False) if error else ():
        where = ".".join(str(part) for part in problem["loc"]) or "(arguments)"
        given = problem.get("input")
        if problem["type"] == "extra_forbidden":
            lines.append(f"- {where}: unknown argument; this tool takes: {', '.join(expected)}")
        elif problem["type"] == "missing":
            lines.append(f"- {where}: required argument is missing")
        elif problem["type"] == "int_type" and isinstance(given, float):
            lines.append(f"- {where}: expected a whole number, got {given!r}")
        else:
            got = _JSON_TYPES.get(type(given).__name__, type(given).__name__)
            lines.append(f"- {where}: {problem['msg']} (got {got})")
    lines += [f"- {path}: unknown argument, ignored" for path in findings.ignored[:IGNORED_SHOWN]]
    if len(findings.ignored) > IGNORED_SHOWN:
        lines.append(f"- and {len(findings.ignored) - IGNORED_SHOWN} more unknown arguments, ignored")
    return lines


def refusal(spec: ToolSpec, error: ValidationError | None, findings: Findings) -> types.CallToolResult:
    problems = describe_problems(error, findings, spec.arguments.model_fields)
    return error_result("\n".join([f"Invalid arguments for tool {spec.name!r}:", *problems]))


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def to_call_result(value: Any) -> types.CallToolResult:
    """What a tool function returned, as the wire result."""
    if isinstance(value, types.CallToolResult):
        return value
    if isinstance(value, StructuredResult):
        return types.CallToolResult(content=value.content_blocks(), structured_content=value.structured_content())
    if isinstance(value, str):
        return types.CallToolResult(content=[types.TextContent(type="text", text=value)])
    if isinstance(value, list):
        return types.CallToolResult(content=value)
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(value, default=str))])


class ToolRegistry:
    """The tools of one server, served as `tools/list` and `tools/call`.

    `withheld` maps tools this configuration does not offer to why (`--read-only`): they are not listed, and
    calling one is an `isError` result that says why, not 'unknown tool'.
    """

    def __init__(
        self,
        tools: Iterable[ToolSpec],
        anticipated: tuple[type[BaseException], ...] = (),
        withheld: Mapping[str, str] | None = None,
    ) -> None:
        self.tools: dict[str, ToolSpec] = {}
        for spec in tools:
            if spec.name in self.tools:
                msg = f"two tools are named {spec.name!r}"
                raise ValueError(msg)
            self.tools[spec.name] = spec
        self.withheld = dict(withheld or {})
        if unknown := self.withheld.keys() - self.tools.keys():
            msg = f"cannot withhold {sorted(unknown)}: no such tools"
            raise ValueError(msg)
        self.tools = {name: spec for name, spec in self.tools.items() if name not in self.withheld}
        self.anticipated = (DomainError, *anticipated)
        self._listing = types.ListToolsResult(tools=[spec.definition() for spec in self.tools.values()])

    async def on_list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return self._listing

    async def on_call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name in self.withheld:
            return error_result(f"{params.name} is not available: {self.withheld[params.name]}")
        spec = self.tools.get(params.name)
        if spec is None:
            msg = f"Unknown tool {params.name!r}; this server has: {', '.join(self.tools)}"
            raise MCPError(code=types.INVALID_PARAMS, message=msg)
        return await self.call(spec, params.arguments or {}, ToolContext(ctx))

    async def call(self, spec: ToolSpec, arguments: dict[str, Any], context: ToolContext) -> types.CallToolResult:
        validated = self._validate(spec, arguments)
        if isinstance(validated, types.CallToolResult):
            return validated
        kwargs = dict(validated.__dict__)
        if spec.context_parameter:
            kwargs[spec.context_parameter] = context
        try:
            return to_call_result(await self._run(spec, kwargs, context))
        except self.anticipated as exc:
            return error_result(str(exc))
        except Exception as exc:
            logger.exception("tool %s failed", spec.name)
            return error_result(
                f"Internal error in tool {spec.name!r} ({type(exc).__name__}); the server log has details."
            )

    @staticmethod
    def _validate(spec: ToolSpec, arguments: dict[str, Any]) -> BaseModel | types.CallToolResult:
        """The validated arguments, or the `isError` result that says what is wrong with them."""
        given, findings = spec.normalise(arguments)
        if findings.ignored:
            logger.debug("%s: ignoring unknown argument(s) %s", spec.name, ", ".join(findings.ignored))
        try:
            validated = spec.arguments.model_validate(given)
        except ValidationError as exc:
            return refusal(spec, exc, findings)
        return refusal(spec, None, findings) if findings.near_misses else validated

    @staticmethod
    async def _run(spec: ToolSpec, kwargs: dict[str, Any], context: ToolContext) -> Any:
        try:
            if not spec.in_thread:
                outcome = spec.function(**kwargs)
                return await outcome if inspect.isawaitable(outcome) else outcome
            return await anyio.to_thread.run_sync(functools.partial(spec.function, **kwargs), abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            # A worker thread, ours or one an async tool started, cannot be interrupted; it polls this flag.
            context.cancelled.set()
            raise
