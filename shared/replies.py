"""What every reply is on the wire, whatever the transport: valid JSON, and never JSON-RPC error code 0.

stdio writes `to_json_or_explain(message)` as a line, Streamable HTTP as an SSE event's data; both first
pass the message through `without_code_zero`. Text the client sent (an id, an argument a reply repeats) comes
back exactly, lone surrogates included; a reply that cannot be serialised at all becomes -32603 for its id.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import mcp.types as types
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

logger = logging.getLogger(__name__)

INTERNAL_ERROR: Final = -32603

Outbound = types.JSONRPCMessage | dict[str, Any]


def error_message(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def without_code_zero(message: Outbound) -> Outbound:
    """`message`, with an error code 0 (the SDK's catch-all; JSON-RPC has none) made -32603."""
    if isinstance(message, types.JSONRPCError) and message.error.code == 0:
        message.error.code = INTERNAL_ERROR
    return message


def to_json(message: Outbound) -> str:
    """`message` as compact JSON text: UTF-8-encodable, or, if it holds a lone surrogate, ASCII with `\\u` escapes.

    A lone surrogate ("\\ud800") arrives as a legal JSON escape in any string a client sends (an id, a method
    name, an argument a reply repeats), and a file name that is not UTF-8 holds one too, but it has no UTF-8
    encoding. Written back as the same escape it stays valid JSON and round-trips exactly, which an id must:
    the client matches the reply to its request by it. Replacing it (U+FFFD) would hand back an id the client
    never sent.
    """
    if isinstance(message, BaseModel):
        try:
            return message.model_dump_json(by_alias=True, exclude_unset=True)
        except PydanticSerializationError:  # most likely a lone surrogate: escape it below
            message = message.model_dump(mode="json", by_alias=True, exclude_unset=True)
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":"), allow_nan=False)
    return text


def to_json_or_explain(message: Outbound) -> str | None:
    """`to_json(message)`; if that fails, a -32603 reply for the same id, or None (logged) if it has none."""
    try:
        return to_json(message)
    except Exception:
        logger.exception("could not serialise a %s", type(message).__name__)
    if isinstance(message, dict):
        request_id = message.get("id")
    elif isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
        request_id = message.id
    else:  # a notification or a request of ours: there is nothing to answer
        return None
    reply = error_message(
        request_id, INTERNAL_ERROR, "Internal error: the reply could not be serialised; see the server log"
    )
    return to_json(reply)
