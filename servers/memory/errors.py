"""The memory server's expected failures: each message names the offending item and says what to do next.

They are the shared layer's domain errors (`deskmcp.shared.errors`, which imports nothing of the protocol), so the
one boundary translates them: an `isError` tool result, or for a resource or prompt the JSON-RPC error of the
connection's era (an unknown entity's resource is resource-not-found, a bad argument -32602). Anything else that
escapes the domain is a bug.
"""

from __future__ import annotations

from deskmcp.shared import errors


class MemoryServerError(errors.DomainError):
    """Base of the memory server's expected failures; `str()` is the message the model or user reads."""


class InvalidInput(MemoryServerError, errors.InvalidArgument):
    """An argument is malformed: empty, too long, the wrong type, or a cursor from another query."""


class NotFound(MemoryServerError, errors.NotFound):
    """A named entity, memory file or folder does not exist."""


class Conflict(MemoryServerError):
    """The request clashes with what is stored: a name or path that is already taken."""


class StoreUnavailable(MemoryServerError):
    """The store cannot do its job now (locked, read-only, damaged, disk full); nothing was written."""
