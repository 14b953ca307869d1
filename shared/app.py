"""The one entry point every server runs through: declarations in, a served connection out.

A server module declares a `ServerSpec` (name, settings, command-line options, and a `create` function
that returns a `Service`: its tools, resources and prompts, and background work). `build_server` makes the
SDK's low-level `Server` from it, transport-free: handlers and capabilities follow from what is registered,
and `protocol.errors_at_the_boundary` turns domain errors into the era's JSON-RPC errors and unexpected
failures into -32603 instead of the SDK's code 0. One entry point per transport serves it, in both protocol
eras: `serve_stdio` over deskmcp's own stdio framing (`deskmcp.shared.stdio`, one client), `serve_http` over
Streamable HTTP (`deskmcp.shared.http`, many clients, each with its own state).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Final

import anyio
from deskmcp.shared.completion import completion_handler
from deskmcp.shared.protocol import errors_at_the_boundary
from deskmcp.shared.settings import Setting
from deskmcp.shared.stdio import Wire, claim_stdio
from deskmcp.shared.tools import ToolRegistry
from mcp.server import Server, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.message import SessionMessage
from pydantic import BaseModel

if TYPE_CHECKING:  # a server without resources or prompts (the calculator) never imports their modules
    from deskmcp.shared.http import HttpConfig
    from deskmcp.shared.prompts import PromptTable
    from deskmcp.shared.resources import ResourceTable

logger = logging.getLogger(__name__)

VERSION: Final = version("deskmcp")


@dataclass(frozen=True, slots=True)
class Config:
    """What a server is started with: its parsed command line and its settings from the environment."""

    args: argparse.Namespace
    settings: Mapping[str, Any]


@dataclass(slots=True)
class Service:
    """What a running server offers: its tools, resources and prompts, and background work.

    Capabilities follow from what is given (resource subscriptions and list changes from the resource
    table's hub). `lifespan` is entered once around serving (watchers, stores), inside the hub's.
    `notification_handlers` maps a client notification to `(params model, handler)`.
    `before_request(ctx)` is awaited before each request but `initialize` (which stalls the read loop) reaches
    its handler; `ctx.method` says which. The filesystem server waits there for the client's roots.
    """

    tools: ToolRegistry | None = None
    resources: ResourceTable | None = None
    prompts: PromptTable | None = None
    instructions: str | None = None
    notification_handlers: dict[str, tuple[type[BaseModel], Callable[..., Any]]] = field(default_factory=dict)
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None
    before_request: Callable[[ServerRequestContext[Any, Any]], Awaitable[None]] | None = None

    def handlers(self) -> dict[str, Any]:
        """The SDK `Server` keyword arguments for everything registered."""
        handlers: dict[str, Any] = {}
        if self.tools is not None:
            handlers |= {"on_list_tools": self.tools.on_list_tools, "on_call_tool": self.tools.on_call_tool}
        for table in (self.resources, self.prompts):
            if table is not None:
                handlers |= table.handlers()
        if (on_completion := completion_handler(self.resources, self.prompts)) is not None:
            handlers["on_completion"] = on_completion
        return handlers

    def notification_options(self) -> NotificationOptions:
        """Which list changes the server may announce: resources', when there is a hub to announce them."""
        hub = self.resources.hub if self.resources is not None else None
        return NotificationOptions(resources_changed=hub is not None)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Any]:
        """The hub (if any) and then the server's own lifespan, entered once for all connections."""
        async with AsyncExitStack() as stack:
            if self.resources is not None and self.resources.hub is not None:
                await stack.enter_async_context(self.resources.hub.running())
            yield {} if self.lifespan is None else await stack.enter_async_context(self.lifespan())


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


class DeskServer(Server[Any]):
    """The SDK server, announcing the list changes its `Service` can send on every transport.

    A transport that builds its initialization options itself (the SDK's HTTP session manager) calls
    `create_initialization_options()` without arguments; here that still carries the derived options.
    """

    def __init__(self, name: str, *, notification_options: NotificationOptions, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.notification_options = notification_options

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or self.notification_options, experimental_capabilities, extensions
        )


def build_server(name: str, service: Service) -> DeskServer:
    """The SDK `Server` for `service`, with deskmcp's middleware in place of the default tracing."""

    @asynccontextmanager
    async def lifespan(_server: Server[Any]) -> AsyncIterator[Any]:
        async with service.running() as state:
            yield state

    server = DeskServer(
        f"deskmcp-{name}",
        version=VERSION,
        instructions=service.instructions,
        lifespan=lifespan,
        notification_options=service.notification_options(),
        **service.handlers(),
    )
    server.middleware = [errors_at_the_boundary]
    if (before_request := service.before_request) is not None:

        async def before(ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
            if ctx.request_id is not None and ctx.method != "initialize":
                await before_request(ctx)
            return await call_next(ctx)

        server.middleware.append(before)
    for method, (params_type, handler) in service.notification_handlers.items():
        server.add_notification_handler(method, params_type, handler)
    return server


# --- signals: every transport ------------------------------------------------------------------------------


def _install_signal_handlers(drain: Callable[[], None], stop: Callable[[], None]) -> None:
    """First SIGTERM/SIGINT: `drain()` (take nothing new, finish what is in flight). Second: `stop()` now.

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
            drain()
        else:
            stop()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            loop.add_signal_handler(signum, on_signal)
        except (NotImplementedError, RuntimeError):
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(on_signal))


# --- stdio ----------------------------------------------------------------------------------------------


async def serve_stdio(name: str, service: Service, *, max_line_bytes: int, grace_seconds: float) -> None:
    """Serve `service` on stdin/stdout until end of input or a signal."""
    server = build_server(name, service)
    options = server.create_initialization_options()
    # Start-up made ~100,000 long-lived objects (modules, schemas); frozen, the first full collection a large
    # request triggers scans only what requests allocated (measured: a ~40 ms pause otherwise).
    gc.freeze()
    claimed = claim_stdio()
    wire = Wire(claimed.read_fd, claimed.write_fd, max_line_bytes=max_line_bytes, grace_seconds=grace_seconds)
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with anyio.create_task_group() as group:
            _install_signal_handlers(wire.stop_reading, group.cancel_scope.cancel)
            wire.start()
            group.start_soon(wire.pump_in, read_send)
            group.start_soon(wire.pump_out, write_receive)
            await server.run(read_receive, write_send, options, raise_exceptions=False)
    finally:
        wire.finish()
        claimed.release()


# --- Streamable HTTP ------------------------------------------------------------------------------------


async def serve_http(name: str, service: Service, config: HttpConfig) -> None:
    """Serve `service` to many clients over Streamable HTTP (`deskmcp.shared.http`) until a signal."""
    from deskmcp.shared.http import http_app, uvicorn_server

    server = build_server(name, service)
    app, manager = http_app(server, config)
    hub = service.resources.hub if service.resources is not None else None

    def end_streams() -> None:
        manager.end_notification_streams()
        if hub is not None:
            hub.end_listen_streams()

    def announce(url: str) -> None:
        print(f"deskmcp {name}: serving MCP (Streamable HTTP) at {url}", file=sys.stderr, flush=True)
        if config.token is None:
            logger.warning("no DESKMCP_HTTP_TOKEN: any program on this machine can use the server")

    web = uvicorn_server(app, config, announce=announce, on_stop=end_streams)
    gc.freeze()  # as for stdio: start-up's long-lived objects are never scanned again
    _install_signal_handlers(lambda: setattr(web, "should_exit", True), lambda: setattr(web, "force_exit", True))
    await web.serve()
