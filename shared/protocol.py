"""What differs between the protocol eras, and the one boundary where domain errors become JSON-RPC errors.

The handshake era (`initialize`, 2024-11-05 to 2025-11-25) and 2026-07-28 (`server/discover`, a `_meta`
envelope on every request) share most methods but not every error code: a resource that does not exist is
-32002 in the first and -32602 in the second (SEP-2164). `errors_at_the_boundary` is the server middleware
that applies `protocol_error` to whatever a resource, subscription, prompt or completion handler raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import mcp.types as types
from deskmcp.shared.errors import DomainError, InvalidArgument, NotFound
from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND: Final = -32002  # handshake era; 2026-07-28 answers -32602 (SEP-2164)

Context = ServerRequestContext[Any, Any]


def is_modern(ctx: Any) -> bool:
    """Whether the request came on a 2026-07-28 connection (no subscribe, no server-to-client requests)."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def offers_roots(ctx: Context) -> bool:
    """Whether the client can be asked for its roots: handshake era, and it declared the capability."""
    if ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and capabilities.roots is not None


def connection_of(session: ServerSession) -> Connection | None:
    """The connection a request came on: the same object for every request of one client until it leaves.

    SDK 2.3 builds a `ServerSession` per request and keeps its `Connection` private; this is the one place
    deskmcp reaches it (per-client state keys on it and is released by its `exit_stack`).
    """
    connection = getattr(session, "_connection", None)
    return connection if isinstance(connection, Connection) else None


def protocol_error(ctx: Any, exc: Exception, uri: str | None = None) -> MCPError:
    """The JSON-RPC error for a domain failure, as the connection's protocol era expects it.

    `uri` is the resource the request names (it goes into the error's data); a `NotFound` about one is the
    era's resource-not-found code. Anything that is not an `InvalidArgument` or a `NotFound` is -32603.
    """
    data = {"uri": uri} if uri is not None else None
    if isinstance(exc, NotFound):
        code = RESOURCE_NOT_FOUND if uri is not None and not is_modern(ctx) else types.INVALID_PARAMS
        return MCPError(code, str(exc), data)
    if isinstance(exc, InvalidArgument):
        return MCPError(types.INVALID_PARAMS, str(exc), data)
    return MCPError(types.INTERNAL_ERROR, str(exc), data)


def _named_uri(params: Mapping[str, Any] | None) -> str | None:
    uri = (params or {}).get("uri")
    return uri if isinstance(uri, str) else None


def describe_params_error(method: str, error: ValidationError) -> str:
    """Which fields of a request's params are wrong and how, without echoing their values."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(params)'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    ]
    return f"Invalid params for {method}: " + "; ".join(problems)


async def errors_at_the_boundary(ctx: Context, call_next: Any) -> Any:
    """Server middleware: a domain error becomes its JSON-RPC error, malformed params say which field, and
    anything unexpected is -32603 with a short message (traceback to stderr), never the SDK's code 0.

    Tool calls never get here with a domain error: the tool registry makes those `isError` results.
    """
    try:
        return await call_next(ctx)
    except MCPError:
        raise
    except ValidationError as exc:  # the SDK's params check ran inside this middleware
        raise MCPError(types.INVALID_PARAMS, describe_params_error(ctx.method, exc)) from None
    except DomainError as exc:
        raise protocol_error(ctx, exc, _named_uri(ctx.params)) from None
    except Exception as exc:
        logger.exception("handler for %s failed", ctx.method)
        raise MCPError(code=types.INTERNAL_ERROR, message=f"Internal error while handling {ctx.method}") from exc
