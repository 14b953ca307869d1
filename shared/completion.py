"""`completion/complete`: one handler for both kinds of reference, a resource template's or a prompt's argument.

A completer is a plain function from the text typed so far to the values that fit (any number; the first
`MAX_COMPLETIONS` are sent, with the total). Each table finds the completer for its reference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, Protocol

import mcp.types as types
from deskmcp.shared.errors import InvalidArgument
from deskmcp.shared.offload import call
from mcp.server import ServerRequestContext

MAX_COMPLETIONS: Final = 100  # the most values one completion result may carry (spec)

Completer = Callable[[str], Iterable[str]]
CompletionHandler = Callable[
    [ServerRequestContext[Any, Any], types.CompleteRequestParams], Awaitable[types.CompleteResult]
]


class Completes(Protocol):
    """A table whose arguments complete: it finds the completer for a reference and an argument name."""

    @property
    def completes(self) -> bool: ...

    def completer(self, reference: str, argument: str) -> Completer | None: ...


async def complete(completer: Completer | None, value: str) -> types.CompleteResult:
    """The completer's values for `value` (none without a completer), at most `MAX_COMPLETIONS`, with the total."""
    values = [] if completer is None else list(await call(completer, value))
    total = len(values)
    return types.CompleteResult(
        completion=types.Completion(values=values[:MAX_COMPLETIONS], total=total, has_more=total > MAX_COMPLETIONS)
    )


def completion_handler(templates: Completes | None, prompts: Completes | None) -> CompletionHandler | None:
    """The `completion/complete` handler for these tables, or None when nothing of theirs completes."""
    if not any(table is not None and table.completes for table in (templates, prompts)):
        return None

    async def on_completion(
        ctx: ServerRequestContext[Any, Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            table, reference, kind = prompts, ref.name, "prompts"
        else:
            table, reference, kind = templates, ref.uri, "resource templates"
        if table is None:
            msg = f"this server has no {kind}; nothing to complete for {reference!r}"
            raise InvalidArgument(msg)
        return await complete(table.completer(reference, params.argument.name), params.argument.value)

    return on_completion
