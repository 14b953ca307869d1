"""The one entry point every server runs through: declarations in, a served stdio connection out.

A server module declares a `ServerSpec` (name, settings, command-line options, and a `create` function
that returns a `Service`: its tools, extra protocol handlers and background work). This module builds the
SDK's low-level `Server` from it, serves both protocol eras over deskmcp's own stdio framing
(`deskmcp.shared.stdio`), and turns unexpected handler failures into -32603 instead of the SDK's code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Final

import anyio
import mcp.types as types
from deskmcp.shared.settings import Setting
from deskmcp.shared.stdio import Wire, claim_stdio
from deskmcp.shared.tools import ToolRegistry
from mcp.server import Server, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

VERSION: Final = version("deskmcp")


@dataclass(frozen=True, slots=True)
class Config:
    """What a server is started with: its parsed command line and its settings from the environment."""

    args: argparse.Namespace
    settings: Mapping[str, Any]


@dataclass(slots=True)
class Service:
    """What a running server offers: its tools, any other protocol handlers, and background work.

    `handlers` are extra keyword arguments of the SDK `Server` (`on_list_resources=...`); capabilities
    follow from which are given. `lifespan` is entered once around the connection (watchers, stores).
    `before_request(ctx)` is awaited before each request but `initialize` (which stalls the read loop) reaches
    its handler; `ctx.method` says which. The filesystem server waits there for the client's roots.
    """

    tools: ToolRegistry | None = None
    instructions: str | None = None
    handlers: dict[str, Any] = field(default_factory=dict)
    notification_handlers: dict[str, tuple[type[BaseModel], Callable[..., Any]]] = field(default_factory=dict)
    notification_options: NotificationOptions = field(default_factory=NotificationOptions)
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None
    before_request: Callable[[ServerRequestContext[Any, Any]], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A server as the command line knows it."""

    name: str
    description: str
    create: Callable[[Config], Service]
    settings: tuple[Setting, ...] = ()
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    describe: Callable[[Config], str] | None = None  # more for --check-config, from the command line too
    commands: Mapping[str, tuple[str, Callable[[list[str]], int]]] = field(default_factory=dict)  # name: (help, main)


class StartupError(Exception):
    """The server cannot start with this configuration; the message says what to change."""


async def internal_errors(ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
    """Middleware: an unexpected handler exception becomes -32603 with a short message; traceback to stderr."""
    try:
        return await call_next(ctx)
    except (MCPError, ValidationError):
        raise
    except Exception as exc:
        logger.exception("handler for %s failed", ctx.method)
        raise MCPError(code=types.INTERNAL_ERROR, message=f"Internal error while handling {ctx.method}") from exc


def build_server(name: str, service: Service) -> Server[Any]:
    """The SDK `Server` for `service`, with deskmcp's middleware in place of the default tracing."""
    handlers = dict(service.handlers)
    if service.tools is not None:
        handlers.setdefault("on_list_tools", service.tools.on_list_tools)
        handlers.setdefault("on_call_tool", service.tools.on_call_tool)

    @asynccontextmanager
    async def lifespan(_server: Server[Any]) -> AsyncIterator[Any]:
        if service.lifespan is None:
            yield {}
            return
        async with service.lifespan() as state:
            yield state

    server: Server[Any] = Server(
        f"deskmcp-{name}", version=VERSION, instructions=service.instructions, lifespan=lifespan, **handlers
    )
    server.middleware = [internal_errors]
    if (before_request := service.before_request) is not None:

        async def before(ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
            if ctx.request_id is not None and ctx.method != "initialize":
                await before_request(ctx)
            return await call_next(ctx)

        server.middleware.append(before)
    for method, (params_type, handler) in service.notification_handlers.items():
        server.add_notification_handler(method, params_type, handler)
    return server


def _install_signal_handlers(wire: Wire, cancel: Callable[[], None]) -> None:
    """First SIGTERM/SIGINT: stop reading and finish what is in flight. Second: stop now.

    Windows event loops have no `add_signal_handler`; there `signal.signal` is the fallback (SIGINT and
    SIGBREAK reach a console process; a TerminateProcess cannot be caught anywhere).
    """
    loop = asyncio.get_running_loop()
    received = 0

    def on_signal() -> None:
        nonlocal received
        received += 1
        if received == 1:
            logger.info("signal received: finishing in-flight requests")
            wire.stop_reading()
        else:
            cancel()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            loop.add_signal_handler(signum, on_signal)
        except (NotImplementedError, RuntimeError):
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(on_signal))


async def serve(name: str, service: Service, *, max_line_bytes: int, grace_seconds: float) -> None:
    """Serve `service` on stdin/stdout until end of input or a signal."""
    server = build_server(name, service)
    options = server.create_initialization_options(service.notification_options)
    # Start-up made ~100,000 long-lived objects (modules, schemas); frozen, the first full collection a large
    # request triggers scans only what requests allocated (measured: a ~40 ms pause otherwise).
    gc.freeze()
    claimed = claim_stdio()
    wire = Wire(claimed.read_fd, claimed.write_fd, max_line_bytes=max_line_bytes, grace_seconds=grace_seconds)
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with anyio.create_task_group() as group:
            _install_signal_handlers(wire, group.cancel_scope.cancel)
            wire.start()
            group.start_soon(wire.pump_in, read_send)
            group.start_soon(wire.pump_out, write_receive)
            await server.run(read_receive, write_send, options, raise_exceptions=False)
    finally:
        wire.finish()
        claimed.release()
