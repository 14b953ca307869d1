"""Newline-delimited JSON-RPC on the process's stdin/stdout, in front of the SDK session.

The SDK's own stdio transport drops malformed lines without a word and loses queued requests at end of
input, so deskmcp frames the wire itself. Contract:

1. stdout carries protocol messages only. While serving, fd 1 points at stderr and fd 0 at the null
   device; the wire lives on private duplicates, so a stray `print()` or a child process cannot corrupt it.
2. Every line is answered or is a valid notification: not UTF-8 or not JSON -> -32700 (id null); JSON that is
   not a JSON-RPC message -> -32600 (id echoed when it is a valid id); a line over the size limit -> -32600,
   skipped as it streams in, so memory stays bounded whatever the client sends.
3. End of input (or SIGTERM/SIGINT, via `Wire.stop_reading`): nothing more is read, and every request read
   before it is answered before the SDK session is closed, within a grace period.
4. Reading (splitting and classifying lines) and writing happen in two daemon threads, so a slow client
   never blocks the event loop.
5. Every reply is one line of valid JSON, whatever it holds (`replies.to_json_or_explain`, as over HTTP):
   text the client sent back to it, lone surrogates included, round-trips exactly; a reply that cannot be
   serialised at all becomes -32603 for its id. No message can make the writer raise and end the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio
import mcp.types as types
from deskmcp.shared.replies import INTERNAL_ERROR, error_message, to_json_or_explain, without_code_zero
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

logger = logging.getLogger(__name__)

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
READ_CHUNK: Final = 64 * 1024
# Requests whose response is a long-lived stream, not a unit of work to finish before exit.
STREAMING_METHODS: Final = frozenset({"subscriptions/listen"})


# --- the file descriptors -------------------------------------------------------------------------------


def _private_duplicate(fd: int) -> int:
    """A duplicate of `fd` above the standard range, not inherited by child processes."""
    if sys.platform == "win32":  # no F_DUPFD there; os.dup is non-inheritable by default
        duplicate = os.dup(fd)
        if duplicate <= 2:
            os.close(duplicate)
            msg = f"duplicate of fd {fd} landed in the standard range"
            raise OSError(msg)
        return duplicate
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _rebind_windows_handle(fd: int) -> None:
    """On Windows, point the Win32 std handle at the CRT fd too, as the SDK does; elsewhere nothing."""
    if sys.platform == "win32":
        from mcp.os.win32.utilities import rebind_std_handle_to_fd

        rebind_std_handle_to_fd(fd)


@dataclass(slots=True)
class ClaimedStdio:
    """The wire's private descriptors and how to give fd 0/1 back."""

    read_fd: int
    write_fd: int
    stdout: Any

    def release(self) -> None:
        sys.stdout.flush()
        sys.stdout = self.stdout
        for fd, private in ((0, self.read_fd), (1, self.write_fd)):
            try:
                os.dup2(private, fd)
                _rebind_windows_handle(fd)
            except OSError:
                logger.debug("could not restore fd %d", fd)


def claim_stdio() -> ClaimedStdio:
    """Move the wire to private descriptors and point fd 0 at the null device and fd 1 at stderr.

    `sys.stdout` is pointed at stderr too: its buffer would otherwise hold a handler's `print()` until exit,
    after fd 1 is the wire again.
    """
    sys.stdout.flush()
    original_stdout, sys.stdout = sys.stdout, sys.stderr
    read_fd, write_fd = _private_duplicate(0), _private_duplicate(1)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null_fd, 0)
        os.dup2(2, 1)
    finally:
        os.close(null_fd)
    _rebind_windows_handle(0)
    _rebind_windows_handle(1)
    return ClaimedStdio(read_fd, write_fd, original_stdout)


# --- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Oversize:
    """A line longer than the limit was skipped; `size` is how much of it was seen."""

    size: int


Frame = bytes | Oversize


def split_lines(buffer: bytearray, chunk: bytes, limit: int, skipped: int) -> tuple[list[Frame], int]:
    """Append `chunk` and cut off complete lines; returns the frames and the new `skipped` count.

    `buffer` holds at most `limit` bytes of an incomplete line. Past that the line's bytes are dropped as they
    arrive and only counted in `skipped` (0 when no oversize line is in progress), so memory stays bounded.
    """
    frames: list[Frame] = []
    start = 0
    while (end := chunk.find(b"\n", start)) >= 0:
        size = skipped + len(buffer) + end - start
        if skipped or size > limit:
            frames.append(Oversize(size))
        else:
            buffer += chunk[start:end]
            frames.append(bytes(buffer))
        buffer.clear()
        skipped, start = 0, end + 1
    rest = len(chunk) - start
    if skipped or len(buffer) + rest > limit:
        skipped += len(buffer) + rest
        buffer.clear()
    else:
        buffer += chunk[start:]
    return frames, skipped


# --- classifying a line ---------------------------------------------------------------------------------


def _valid_id(value: Any) -> bool:
    return (isinstance(value, str) or isinstance(value, int)) and not isinstance(value, bool)


def _shape_problem(obj: dict[str, Any]) -> str | None:
    """Why `obj` is not a JSON-RPC 2.0 message, or None."""
    if obj.get("jsonrpc") != "2.0":
        return 'the "jsonrpc" member must be exactly "2.0"'
    if "id" in obj and not _valid_id(obj["id"]):
        return '"id" must be a string or an integer'
    if "method" in obj:
        if not isinstance(obj["method"], str):
            return '"method" must be a string'
        if "params" in obj and not isinstance(obj["params"], dict):
            return '"params" must be an object'
        return None
    if "id" in obj and ("result" in obj) != ("error" in obj):
        return None
    return 'a message needs "method" (request or notification) or "result"/"error" with "id" (response)'


def classify(raw: bytes) -> types.JSONRPCMessage | dict[str, Any] | None:
    """The message on one line, an error reply to send back instead, or None for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error_message(None, PARSE_ERROR, f"Parse error: line is not valid UTF-8 (byte {exc.start})")
    text = text.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return error_message(None, PARSE_ERROR, f"Parse error: {exc.msg}")
    except RecursionError:
        return error_message(None, PARSE_ERROR, "Parse error: nested too deeply")
    except ValueError:  # an integer past Python's digit limit (sys.get_int_max_str_digits)
        return error_message(None, PARSE_ERROR, "Parse error: a number has too many digits")
    if not isinstance(obj, dict):
        kind = "an array (batches are not part of MCP)" if isinstance(obj, list) else type(obj).__name__
        return error_message(None, INVALID_REQUEST, f"Invalid Request: expected a JSON object, got {kind}")
    echo_id = obj.get("id") if _valid_id(obj.get("id")) else None
    problem = _shape_problem(obj)
    if problem:
        return error_message(echo_id, INVALID_REQUEST, f"Invalid Request: {problem}")
    try:
        return types.jsonrpc_message_adapter.validate_python(obj, by_name=False)
    except ValidationError:
        return error_message(echo_id, INVALID_REQUEST, "Invalid Request: not a valid JSON-RPC message")


EndOfInput: Final = None
# What the reader hands the loop: a message for the SDK, an error reply to send back, or the end of input.
Inbound = types.JSONRPCMessage | dict[str, Any] | None


def _classify_all(frames: list[Frame], limit: int) -> list[Inbound]:
    """The messages and error replies for `frames`, in order; blank lines give nothing."""
    inbound: list[Inbound] = []
    for frame in frames:
        if isinstance(frame, Oversize):
            reason = f"line of {frame.size} bytes is over the {limit}-byte limit"
            inbound.append(error_message(None, INVALID_REQUEST, f"Invalid Request: {reason}"))
        elif (message := _classify_guarded(frame)) is not None:
            inbound.append(message)
    return inbound


def _classify_guarded(raw: bytes) -> Inbound:
    """`classify`, but a fault in it costs one line an error reply instead of killing the reader thread."""
    try:
        return classify(raw)
    except Exception:
        logger.exception("could not classify a line of %d bytes", len(raw))
        return error_message(None, INTERNAL_ERROR, "Internal error: the line could not be read; see the server log")


def reader_thread(fd: int, limit: int, deliver: Callable[[list[Inbound]], None]) -> None:
    """Read `fd` to its end, handing each chunk's classified lines to `deliver` (which may block: backpressure).

    Classifying here keeps decoding and validation off the event loop. It still pauses while a big line's
    `json.loads` runs (about 2 ms per MB): one C call that holds the GIL whichever thread makes it.
    """
    buffer = bytearray()
    skipped = 0
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except OSError as exc:
            logger.warning("stdin read failed: %s", exc)
            chunk = b""
        if not chunk:
            deliver([*_classify_all([Oversize(skipped)] if skipped else [bytes(buffer)], limit), EndOfInput])
            return
        frames, skipped = split_lines(buffer, chunk, limit, skipped)
        if inbound := _classify_all(frames, limit):
            deliver(inbound)


# --- the wire -------------------------------------------------------------------------------------------


class Wire:
    """Pumps lines from stdin into the SDK's read stream and messages from its write stream to stdout."""

    def __init__(self, read_fd: int, write_fd: int, *, max_line_bytes: int, grace_seconds: float) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.max_line_bytes, self.grace_seconds = max_line_bytes, grace_seconds
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="deskmcp-stdout", daemon=True)
        self._pending: Counter[Any] = Counter()  # ids of requests the SDK has not answered yet
        self._all_answered = asyncio.Event()
        self._stop = asyncio.Event()
        self._inbox: asyncio.Queue[list[Inbound]] = asyncio.Queue(maxsize=4)

    def stop_reading(self) -> None:
        """Stop taking requests (signal or broken pipe); what was read is still answered."""
        self._stop.set()

    # writing

    def send(self, payload: dict[str, Any] | SessionMessage) -> None:
        message = without_code_zero(payload.message if isinstance(payload, SessionMessage) else payload)
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            self._settle(message.id)
        if (text := to_json_or_explain(message)) is not None:
            self._outbox.put(text.encode("utf-8") + b"\n")

    def _write_loop(self) -> None:
        while (data := self._outbox.get()) is not None:
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self.write_fd, view) :]
            except OSError as exc:  # the client went away: nothing more can be delivered
                logger.warning("stdout write failed (%s); stopping", exc)
                self._loop.call_soon_threadsafe(self.stop_reading)
                return

    def _settle(self, request_id: Any) -> None:
        request_id = coerce_request_id(request_id)  # the SDK's correlation: "7" and 7 are one request
        if self._pending[request_id] > 1:
            self._pending[request_id] -= 1
        else:
            self._pending.pop(request_id, None)
        if not self._pending:
            self._all_answered.set()

    def _track(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCRequest) and message.method not in STREAMING_METHODS:
            self._pending[coerce_request_id(message.id)] += 1
            self._all_answered.clear()
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            cancelled = (message.params or {}).get("requestId")
            if _valid_id(cancelled) and coerce_request_id(cancelled) in self._pending:  # never answered now
                self._settle(cancelled)

    # reading

    def start(self) -> None:
        """Start the reader and writer threads; call from the event loop that serves."""
        self._loop = asyncio.get_running_loop()
        self._writer.start()
        threading.Thread(
            target=reader_thread,
            args=(self.read_fd, self.max_line_bytes, self._deliver),
            name="deskmcp-stdin",
            daemon=True,
        ).start()

    def _deliver(self, inbound: list[Inbound]) -> None:
        """Hand messages to the loop, blocking the reader while the loop is behind (bounded memory)."""
        if not self._stop.is_set():
            asyncio.run_coroutine_threadsafe(self._inbox.put(inbound), self._loop).result()

    async def pump_in(self, read_stream_writer: Any) -> None:
        """Feed the SDK until end of input or `stop_reading`, then wait for the answers and close it."""
        async with read_stream_writer:
            await self._feed(read_stream_writer)
            await self._drain()

    async def _feed(self, read_stream_writer: Any) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                take = asyncio.ensure_future(self._inbox.get())
                await asyncio.wait({take, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not take.done():
                    take.cancel()
                    return
                for message in take.result():
                    if message is EndOfInput:
                        return
                    if isinstance(message, dict):
                        self.send(message)
                    else:
                        self._track(message)
                        await read_stream_writer.send(SessionMessage(message))
                    if self._stop.is_set():
                        return
        finally:
            stop.cancel()

    async def _drain(self) -> None:
        if self._pending:
            logger.info("input closed; answering %d request(s) still in flight", sum(self._pending.values()))
            with anyio.move_on_after(self.grace_seconds) as scope:
                await self._all_answered.wait()
            if scope.cancelled_caught:
                logger.warning(
                    "%d request(s) still running after %.1fs; closing", len(self._pending), self.grace_seconds
                )

    async def pump_out(self, write_stream_reader: Any) -> None:
        """Write every message the SDK sends, then let the writer thread finish the queue."""
        async with write_stream_reader:
            async for session_message in write_stream_reader:
                self.send(session_message)

    def finish(self) -> None:
        """Flush what is queued for stdout (bounded by the grace period) and stop the writer."""
        self._outbox.put(None)
        if self._writer.is_alive():
            self._writer.join(timeout=self.grace_seconds)
