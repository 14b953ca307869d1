"""MCP over Streamable HTTP: the SDK's session manager behind deskmcp's checks, served by uvicorn.

`deskmcp <server> --transport http` serves the same transport-free core as stdio (`app.build_server`:
tools, resources, subscriptions, prompts, the error middleware) to many clients at once, in both protocol
eras. Each request passes, in order:

1. Host and Origin against the allow-lists (DNS-rebinding protection): anything else is 403.
2. The bearer token, when one is set (it must be unless the server listens on loopback only): 401 with
   `WWW-Authenticate: Bearer ...`, the token compared in constant time and never logged.
3. The SDK's `StreamableHTTPSessionManager`: a body over the limit is 413, a new session past the session
   limit 503, an unknown or expired session 404; a session idle past the timeout is closed.

Per-client state lives on the SDK's per-session `Connection` (subscriptions, client roots) or on the listen
stream (2026-07-28), and is released when that ends. Each session keeps its last SSE events in memory so a
client whose stream broke can resume it (`Last-Event-ID`); replies are written through `shared.replies`, as on
stdio. On SIGTERM/SIGINT the server stops accepting connections, ends the notification streams, lets requests
in flight finish within the grace period, then exits; a second signal exits at once.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import sys
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from deskmcp.shared.httpconfig import HttpConfig
from deskmcp.shared.logs import MASK
from deskmcp.shared.replies import to_json_or_explain, without_code_zero
from deskmcp.shared.settings import Secret
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.types import JSONRPCMessage
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

# --- the checks in front of the SDK ---------------------------------------------------------------------


class HostOriginGuard:
    """DNS-rebinding protection: a request whose Host or Origin is not allowed gets 403 and goes no further.

    The matching is the SDK's (`TransportSecurityMiddleware`: exact, or `name:*` for any port; no Origin
    passes, as non-browser clients send none); the refusal says which header and which setting allows it.
    """

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self.check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self.check.validate_request(Request(scope, receive))
            if refusal is not None:
                header = "Host" if refusal.status_code == 421 else "Origin"
                setting = "DESKMCP_HTTP_ALLOWED_HOSTS" if header == "Host" else "DESKMCP_HTTP_ALLOWED_ORIGINS"
                text = f"Forbidden: this {header} header is not allowed (DNS-rebinding protection); see {setting}"
                await PlainTextResponse(text, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class StaticToken:
    """The SDK's `TokenVerifier` for one shared secret, compared in constant time."""

    def __init__(self, token: Secret) -> None:
        self._expected = token.reveal().encode("utf-8")

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode("utf-8", "surrogateescape"), self._expected):
            return AccessToken(token=MASK, client_id="deskmcp-http-token", scopes=[])
        return None


# --- sessions -------------------------------------------------------------------------------------------


def approximate_size(message: JSONRPCMessage | None) -> int:
    """Roughly how many bytes `message` takes as JSON: strings by their length, without serialising it."""
    if (error := getattr(message, "error", None)) is not None:  # as large as what it repeats (a URI it was sent)
        payload: Any = (error.message, error.data)
    else:
        payload = getattr(message, "result", None) or getattr(message, "params", None)
    try:
        return 64 + _size(payload)
    except RecursionError:
        return sys.maxsize


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        return 2 + sum(len(str(key)) + 4 + _size(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return 2 + sum(1 + _size(item) for item in value)
    return 8


class SessionEvents(EventStore):
    """One session's latest stream events, so its client can resume a broken SSE stream (`Last-Event-ID`).

    Kept per session: the SDK names streams by request id and `_GET_stream`, the same in every session, so
    a store shared by sessions would replay one client's events to another. Bounded by `budget` bytes (by
    `approximate_size`): the oldest events go first, and an event larger than the whole budget is not kept.
    Event ids are random.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._events: OrderedDict[str, tuple[str, JSONRPCMessage | None, int]] = OrderedDict()
        self._bytes = 0

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        event_id = secrets.token_hex(12)
        size = approximate_size(message)
        if size <= self.budget:
            self._events[event_id] = (stream_id, message, size)
            self._bytes += size
        while self._bytes > self.budget:
            self._bytes -= self._events.popitem(last=False)[1][2]
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        if last_event_id not in self._events:
            return None
        stream_id = self._events[last_event_id][0]
        events = list(self._events.items())
        start = next(index for index, (event_id, _) in enumerate(events) if event_id == last_event_id) + 1
        for event_id, (stream, message, _) in events[start:]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


class SessionTransport(StreamableHTTPServerTransport):
    """The SDK's per-session transport, writing every message as `shared.replies` does for stdio: valid JSON
    (lone surrogates escaped; unserialisable -> -32603 for its id), never error code 0."""

    def _create_event_data(self, event_message: EventMessage) -> dict[str, Any]:
        data = to_json_or_explain(without_code_zero(event_message.message))
        if data is None:  # a notification that cannot be written: logged, and the stream goes on
            return {"comment": "a notification could not be serialised; see the server log"}
        event: dict[str, Any] = {"event": "message", "data": data}
        if event_message.event_id:
            event["id"] = event_message.event_id
        return event


class SessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager with deskmcp's transport, a resume buffer per session, and a way to end the
    sessions' notification streams at shutdown."""

    def __init__(self, app: Server[Any], *, resume_bytes: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.resume_bytes = resume_bytes
        self._transports: weakref.WeakSet[StreamableHTTPServerTransport] = weakref.WeakSet()

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None:
            # Same object and state, deskmcp's serialisation: the SDK builds the transport itself.
            transport.__class__ = SessionTransport
            transport._event_store = SessionEvents(self.resume_bytes)
            self._transports.add(transport)
        return transport

    def end_notification_streams(self) -> None:
        """Close every session's standalone GET stream (requests' own streams finish with their answers)."""
        for transport in list(self._transports):
            transport.close_standalone_sse_stream()


def http_app(server: Server[Any], config: HttpConfig) -> tuple[Starlette, SessionManager]:
    """The ASGI application serving `server` at `config.path`, and its session manager."""
    security = TransportSecuritySettings(
        allowed_hosts=list(config.allowed_hosts), allowed_origins=list(config.allowed_origins)
    )
    manager = SessionManager(
        server,
        resume_bytes=config.resume_bytes,
        security_settings=security,
        session_idle_timeout=config.idle_timeout,
        max_request_body_size=config.max_body_bytes,
        max_sessions=config.max_sessions,
    )
    endpoint: ASGIApp = StreamableHTTPASGIApp(manager)
    middleware = [Middleware(HostOriginGuard, security=security)]
    if config.token is not None:
        endpoint = RequireAuthMiddleware(endpoint, required_scopes=[])
        middleware.append(Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(StaticToken(config.token))))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    app = Starlette(routes=[Route(config.path, endpoint=endpoint)], middleware=middleware, lifespan=lifespan)
    return app, manager


# --- serving --------------------------------------------------------------------------------------------


def uvicorn_server(
    app: ASGIApp, config: HttpConfig, *, announce: Callable[[str], None], on_stop: Callable[[], None]
) -> Any:
    """A uvicorn server for `app`: `announce(url)` once listening, `on_stop()` as shutdown begins.

    Signals are left to the caller (`serve()` installs none); set `should_exit` to drain and stop,
    `force_exit` to stop now.
    """
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn with deskmcp's signal handling, start-up line and stream closing at shutdown."""

        def capture_signals(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()  # the caller installs deskmcp's handlers (first: drain, second: stop)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                announce(config.url(self.servers[0].sockets[0].getsockname()[1]))

        async def shutdown(self, sockets: Any = None) -> None:
            for listener in self.servers:
                listener.close()  # first, so a client reconnecting its stream finds the door shut
            on_stop()
            await super().shutdown(sockets)

    return Server(
        uvicorn.Config(
            app,
            host=config.host.strip("[]"),
            port=config.port,
            log_config=None,  # uvicorn's loggers go to deskmcp's stderr handler, secrets redacted
            lifespan="on",
            timeout_graceful_shutdown=config.grace_seconds,  # type: ignore[arg-type]
            server_header=False,
        )
    )
