"""The errors a server's domain code raises: expected failures, in words a client can act on.

Nothing here imports `mcp`, so domain modules depend on this and on nothing of the protocol. Each is
translated in one place: a tool call turns any `DomainError` into an `isError` result the model reads
(`tools.ToolRegistry`); resources, subscriptions, prompts and completion get the JSON-RPC error for the
subclass and the connection's protocol era (`protocol.protocol_error`, applied by the server's middleware).
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure; the message says what went wrong and what to do next.

    As a JSON-RPC error (outside a tool call): -32603 with this message, for a request that was right but
    could not be served now (a file that cannot be read, a limit on subscriptions).
    """


class NotFound(DomainError, LookupError):
    """What the request names does not exist: a resource, an entity.

    For a request about a resource (one that names a `uri`): -32002 in the handshake era, -32602 in
    2026-07-28 (SEP-2164); otherwise -32602.
    """


class InvalidArgument(DomainError, ValueError):
    """An argument of the request is malformed or refused (a bad URI or cursor, a value over a limit): -32602."""
