"""The one place a registered domain function is called: off the event loop unless it is async or cheap.

Resources, templates, completers, prompts and subscription checks are plain functions that may touch the
disk or a database; run here, a slow one never holds up other requests.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread


async def call(function: Callable[..., Any], /, *args: Any, in_thread: bool = True) -> Any:
    """`function(*args)`: awaited if it is async, else in a worker thread (inline if not `in_thread`).

    Keyword arguments are bound with `functools.partial`, so that a function's own (a prompt argument or a template
    variable named `in_thread`) can never be taken for this one's.
    """
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    if not in_thread:
        outcome = function(*args)
        return await outcome if inspect.isawaitable(outcome) else outcome
    return await anyio.to_thread.run_sync(function, *args)
