"""The one place a registered domain function is called: off the event loop unless it is async or cheap.

Resources, templates, completers, prompts and subscription checks are plain functions that may touch the
disk or a database; run here, a slow one never holds up other requests.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread


async def call(function: Callable[..., Any], /, *args: Any, in_thread: bool = True, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)`: awaited if it is async, else in a worker thread (inline if not `in_thread`)."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    if not in_thread:
        outcome = function(*args, **kwargs)
        return await outcome if inspect.isawaitable(outcome) else outcome
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))
