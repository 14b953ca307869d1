"""Prompts: a typed Python function becomes an MCP prompt whose arguments are checked before it runs.

`@prompt` reads the function's signature as `@tool` does: each parameter is an argument (required unless it
has a default; `Annotated[..., Field(description=...)]` describes it), the docstring is the description.
Arguments arrive as strings; a parameter typed `int` or `Literal[...]` is converted and checked, and a
missing, unknown or wrong argument is a -32602 error naming each, as the spec asks. A `Literal` argument
completes from its choices; `complete={"name": completer}` adds others.

The function returns the text of one user message, a list of `Message`s, or raises `errors.DomainError`.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import mcp.types as types
from deskmcp.shared.completion import Completer
from deskmcp.shared.errors import InvalidArgument
from deskmcp.shared.offload import call
from deskmcp.shared.schema import annotations_of
from mcp.server import ServerRequestContext
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

Context = ServerRequestContext[Any, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a prompt."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """One prompt: its wire definition, its arguments' model and how to call and complete it."""

    name: str
    title: str | None
    description: str
    arguments: type[BaseModel]
    function: Callable[..., Any]
    completers: Mapping[str, Completer] = field(default_factory=dict)
    in_thread: bool = True

    def definition(self) -> types.Prompt:
        return types.Prompt(
            name=self.name,
            title=self.title,
            description=self.description,
            arguments=[
                types.PromptArgument(name=name, description=info.description, required=info.is_required())
                for name, info in self.arguments.model_fields.items()
            ],
        )


def _choices(annotation: Any) -> list[str]:
    """The values of a `Literal[...]` (also inside `Annotated` or `| None`), as text."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return [str(value) for value in typing.get_args(annotation)]
    if origin is not None:
        return [choice for argument in typing.get_args(annotation) for choice in _choices(argument)]
    return []


def _choice_completer(choices: Sequence[str]) -> Completer:
    return lambda value: [choice for choice in choices if choice.startswith(value)]


def prompt(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    title: str | None = None,
    complete: Mapping[str, Completer] | None = None,
    in_thread: bool = True,
) -> Any:
    """Make `function` a `PromptSpec`. A sync function runs in a worker thread unless `in_thread=False`."""

    def build(function: Callable[..., Any]) -> PromptSpec:
        prompt_name = name or function.__name__
        description = inspect.getdoc(function)
        if not description:
            msg = f"prompt {prompt_name} needs a docstring: it is the description clients show"
            raise ValueError(msg)
        hints = annotations_of(function)
        fields: dict[str, Any] = {}
        completers: dict[str, Completer] = {}
        for parameter in inspect.signature(function).parameters.values():
            annotation = hints.get(parameter.name, str)
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (annotation, default)
            if choices := _choices(annotation):
                completers[parameter.name] = _choice_completer(choices)
        if unknown := set(complete or {}) - fields.keys():
            msg = f"prompt {prompt_name} has no argument {sorted(unknown)[0]!r} to complete"
            raise ValueError(msg)
        model = create_model(f"{prompt_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        return PromptSpec(
            prompt_name, title, description, model, function, {**completers, **(complete or {})}, in_thread
        )

    return build(function) if function is not None else build


def describe_arguments_error(spec: PromptSpec, error: ValidationError) -> str:
    """One line per problem, each naming the argument and what it should be (never echoing a value)."""
    lines = [f"Invalid arguments for prompt {spec.name!r}:"]
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"]) or "(arguments)"
        if problem["type"] == "extra_forbidden":
            lines.append(f"- {where}: unknown argument; this prompt takes: {', '.join(spec.arguments.model_fields)}")
        elif problem["type"] == "missing":
            lines.append(f"- {where}: required argument is missing")
        else:
            lines.append(f"- {where}: {problem['msg']}")
    return "\n".join(lines)


def _messages(value: str | Iterable[Message]) -> list[types.PromptMessage]:
    if isinstance(value, str):
        value = [Message("user", value)]
    return [
        types.PromptMessage(role=message.role, content=types.TextContent(type="text", text=message.text))
        for message in value
    ]


class PromptTable:
    """The prompts of one server, served as `prompts/list` and `prompts/get`."""

    def __init__(self, prompts: Iterable[PromptSpec]) -> None:
        self.prompts: dict[str, PromptSpec] = {}
        for spec in prompts:
            if spec.name in self.prompts:
                msg = f"two prompts are named {spec.name!r}"
                raise ValueError(msg)
            self.prompts[spec.name] = spec
        self._listing = types.ListPromptsResult(prompts=[spec.definition() for spec in self.prompts.values()])

    def _spec(self, name: str) -> PromptSpec:
        spec = self.prompts.get(name)
        if spec is None:
            msg = f"Unknown prompt {name!r}; this server has: {', '.join(self.prompts) or 'none'}"
            raise InvalidArgument(msg)
        return spec

    async def get(self, name: str, arguments: Mapping[str, str]) -> types.GetPromptResult:
        """The prompt's messages for these arguments; `InvalidArgument` says what is wrong with them."""
        spec = self._spec(name)
        try:
            validated = spec.arguments.model_validate(dict(arguments))
        except ValidationError as exc:
            raise InvalidArgument(describe_arguments_error(spec, exc)) from None
        value = await call(functools.partial(spec.function, **validated.__dict__), in_thread=spec.in_thread)
        return types.GetPromptResult(description=spec.description, messages=_messages(value))

    async def on_list_prompts(self, ctx: Context, params: types.PaginatedRequestParams) -> types.ListPromptsResult:
        return self._listing

    async def on_get_prompt(self, ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await self.get(params.name, params.arguments or {})

    def handlers(self) -> dict[str, Any]:
        """The SDK `Server` keyword arguments for prompts."""
        return {"on_list_prompts": self.on_list_prompts, "on_get_prompt": self.on_get_prompt}

    @property
    def completes(self) -> bool:
        return any(spec.completers for spec in self.prompts.values())

    def completer(self, reference: str, argument: str) -> Completer | None:
        """The completer of `argument` of the prompt `reference`; None for an argument without one."""
        spec = self._spec(reference)
        takes = list(spec.arguments.model_fields)
        if argument not in takes:
            msg = f"prompt {reference!r} takes {', '.join(takes) or 'no arguments'}; got {argument!r}"
            raise InvalidArgument(msg)
        return spec.completers.get(argument)
