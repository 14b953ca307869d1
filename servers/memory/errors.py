"""The memory server's expected failures: each message names the offending item and says what to do next.

The registration translates these at one boundary (an `isError` tool result, or a resource error); anything else
that escapes the domain is a bug.
"""

from __future__ import annotations


class MemoryServerError(Exception):
    """Base of the memory server's expected failures; `str()` is the message the model or user reads."""


class InvalidInput(MemoryServerError):
    """An argument is malformed: empty, too long, the wrong type, or a cursor from another query."""


class NotFound(MemoryServerError):
    """A named entity, memory file or folder does not exist."""


class Conflict(MemoryServerError):
    """The request clashes with what is stored: a name or path that is already taken."""


class StoreUnavailable(MemoryServerError):
    """The store cannot do its job now (locked, read-only, damaged, disk full); nothing was written."""
