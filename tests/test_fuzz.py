"""A seeded fuzz of framing and dispatch: no line a client can send stops a server, in either protocol era.

Each example is a small batch of lines: random bytes, random JSON, JSON-RPC messages with odd values in every
field (lone surrogates, huge and fractional numbers, nesting past the parser's limit, long strings), real methods
with wrong params, unasked responses, notifications, and calls of the server's real tools with arguments shaped
by (and around) their schemas. The batch is written at once to one long-lived server, followed by `tools/list`.
The server must answer that, must not exit, and everything on its stdout must be strict UTF-8 JSON-RPC whose
reply ids are ids the client sent (or null).

Deterministic (`derandomize`): CI runs the same messages every time: `FUZZ_EXAMPLES` batches of 3 to 8 lines per
server and era (about 650 lines and 15 MB). A failing batch is reported as generated; to shrink it to a minimal
one (slower: a server that died is restarted for every attempt), run with DESKMCP_FUZZ_SHRINK=1.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostpipes import HANDSHAKE, PipeServer, modern_meta
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from server_cases import SERVERS, ServerCase, server_ids

FUZZ_EXAMPLES = 150
HEALTH_TIMEOUT = 30.0
ERAS = ("handshake", "modern")

# --- values -----------------------------------------------------------------------------------------------

LONE_SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80", "a\ud83d", "\ude00z", "\ud83d\ude00"])
ODD_NUMBERS = st.sampled_from(
    [0, -1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**100, 10**4299, 1.5, -0.0, 10.0, 1e308, 5e-324]
)
SHORT_TEXT = st.text(st.characters(exclude_categories=()), max_size=24)  # surrogates and controls included
TEXT = st.one_of(SHORT_TEXT, SHORT_TEXT, LONE_SURROGATES)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ODD_NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXT, inner, max_size=4), max_leaves=12
)
# Placeholders for values spliced into the line as text: nesting (json.dumps would recurse) past the parser's
# limit or just inside it, and long strings.
DEEP, LONG = "@deep@", "@long@"
DEPTHS = st.sampled_from([50, 499, 990, 3_000, 50_000])
LONG_SIZES = st.sampled_from([100, 5_000, 60_000, 250_000])
ANY_VALUE = st.one_of(*[JSON_VALUES] * 5, st.sampled_from([DEEP, LONG]))

REQUESTS = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
    "sampling/createMessage",
    "roots/list",
    "elicitation/create",
    "tasks/get",
]
NOTIFICATIONS = [
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/message",
    "notifications/resources/updated",
]
PARAM_KEYS = [
    "name",
    "arguments",
    "uri",
    "cursor",
    "level",
    "protocolVersion",
    "capabilities",
    "clientInfo",
    "requestId",
    "progressToken",
    "progress",
    "ref",
    "argument",
    "reason",
]
PATHS = st.sampled_from(["note.txt", ".", "sub", "sub/new.txt", "..", "../outside", "/", "/etc/passwd", "file:///"])
EXPRESSIONS = st.sampled_from(["2**64", "1/3", "sqrt(2) * x", "2.5", "10!", "1/0", "9**9**9", "0.1 + 0.2"])
IDS = st.one_of(st.integers(), ODD_NUMBERS, SHORT_TEXT, LONE_SURROGATES, JSON_VALUES, st.just(LONG))


def schema_values(schema: Any) -> st.SearchStrategy[Any]:
    """Values of the type `schema` asks for, or now and then anything at all."""
    return st.one_of(_typed(schema), _typed(schema), ANY_VALUE)


def _typed(schema: Any, fuzz: bool = True) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict):
        return JSON_VALUES
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of(*(_typed(branch, fuzz) for branch in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "string":
        return st.one_of(PATHS, EXPRESSIONS, SHORT_TEXT, LONE_SURROGATES) if fuzz else st.one_of(PATHS, EXPRESSIONS)
    if kind == "integer":
        return st.one_of(st.integers(0, 50), st.integers(0, 50), ODD_NUMBERS) if fuzz else st.integers(0, 50)
    if kind == "number":
        return st.one_of(st.integers(-3, 50), st.floats())
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = schema_values(schema.get("items")) if fuzz else _typed(schema.get("items"), fuzz=False)
        return st.lists(items, min_size=1, max_size=3)
    if kind == "object":
        return fuzzed_arguments(schema) if fuzz else plausible_arguments(schema)
    return JSON_VALUES


def plausible_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The required properties and some optional ones, each of its declared type: mostly a call that works."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    typed = {name: _typed(sub, fuzz=False) for name, sub in properties.items()}
    return st.fixed_dictionaries(
        {name: typed[name] for name in properties if name in required},
        optional={name: typed[name] for name in properties if name not in required},
    )


def fuzzed_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the declared properties, values of any type now and then, extra keys (unknown or near misses)."""
    properties = schema.get("properties", {})
    near_misses = [variant for name in properties for variant in (name.lower(), name.upper(), f"{name}_")]
    declared = st.fixed_dictionaries({}, optional={name: schema_values(sub) for name, sub in properties.items()})
    extra_keys = st.sampled_from(near_misses) | SHORT_TEXT if near_misses else SHORT_TEXT
    extras = st.dictionaries(extra_keys, JSON_VALUES, max_size=2)
    return st.builds(lambda known, more: {**more, **known}, declared, st.one_of(st.just({}), st.just({}), extras))


# --- lines --------------------------------------------------------------------------------------------------


@st.composite
def tool_call(draw: st.DrawFn, tools: list[dict[str, Any]]) -> dict[str, Any]:
    tool = draw(st.sampled_from(tools))
    params: dict[str, Any] = {"name": tool["name"]}
    schema = tool["inputSchema"]
    params["arguments"] = draw(
        st.one_of(*[plausible_arguments(schema)] * 4, *[fuzzed_arguments(schema)] * 3, ANY_VALUE)
    )
    return {
        "jsonrpc": "2.0",
        "id": draw(st.one_of(st.integers(), SHORT_TEXT, IDS)),
        "method": "tools/call",
        "params": params,
    }


@st.composite
def message(draw: st.DrawFn, modern: bool) -> dict[str, Any]:
    """A JSON-RPC-shaped object, each member usually right and sometimes anything at all."""
    kind = draw(st.sampled_from(["request", "request", "notification", "response", "loose"]))
    out: dict[str, Any] = {"jsonrpc": draw(st.one_of(st.just("2.0"), st.just("2.0"), st.just("2.0"), ANY_VALUE))}
    if kind in ("request", "response", "loose") and draw(st.integers(0, 7)):
        out["id"] = draw(IDS)
    if kind == "request":
        out["method"] = draw(st.one_of(st.sampled_from(REQUESTS), st.sampled_from(REQUESTS), TEXT, ANY_VALUE))
    elif kind == "notification":
        out["method"] = draw(st.one_of(st.sampled_from(NOTIFICATIONS), st.sampled_from(NOTIFICATIONS), TEXT))
    elif kind == "response":
        out[draw(st.sampled_from(["result", "error"]))] = draw(ANY_VALUE)
    else:
        out.update(draw(st.dictionaries(st.sampled_from(["method", "params", "result", "error", "id"]), ANY_VALUE)))
    if kind in ("request", "notification") and draw(st.integers(0, 5)):
        keys = st.one_of(st.sampled_from(PARAM_KEYS), SHORT_TEXT)
        params: Any = draw(st.dictionaries(keys, ANY_VALUE, max_size=4)) if draw(st.integers(0, 5)) else draw(ANY_VALUE)
        if modern and isinstance(params, dict) and draw(st.integers(0, 3)):
            params["_meta"] = draw(st.one_of(st.just(modern_meta()), st.just(modern_meta()), modern_meta_fuzzed()))
        out["params"] = params
    return out


@st.composite
def modern_meta_fuzzed(draw: st.DrawFn) -> Any:
    meta: dict[str, Any] = modern_meta()
    key = draw(st.sampled_from([*meta, "progressToken"]))
    meta[key] = draw(ANY_VALUE)
    return meta if draw(st.integers(0, 4)) else draw(ANY_VALUE)


@dataclass(frozen=True)
class Line:
    """One line to send. Big parts are placeholders (`DEEP`, `LONG`) that `render` expands, so a failing
    example's report stays short."""

    value: Any = None
    raw: bytes | None = None
    ascii: bool = True  # False: lone surrogates are written raw, as invalid UTF-8
    depth: int = 0
    arrays: bool = True  # nest arrays, or objects
    long: int = 0

    def render(self) -> bytes:
        if self.raw is not None:
            return self.raw.replace(b"\n", b" ") + b"\n"
        text = json.dumps(self.value, ensure_ascii=self.ascii)
        d = self.depth
        nested = "[" * d + "]" * d if self.arrays else '{"a":' * d + "1" + "}" * d
        text = text.replace(f'"{DEEP}"', nested).replace(f'"{LONG}"', json.dumps("x" * self.long))
        return text.encode("utf-8", "surrogatepass") + b"\n"


@st.composite
def line(draw: st.DrawFn, tools: list[dict[str, Any]], modern: bool) -> Line:
    kind = draw(st.sampled_from(["message", "message", "message", "tool", "tool", "tool", "tool", "json", "bytes"]))
    if kind == "bytes":
        return Line(raw=draw(st.binary(max_size=300)))
    value = {
        "message": lambda: draw(message(modern)),
        "tool": lambda: draw(tool_call(tools)),
        "json": lambda: draw(ANY_VALUE),
    }[kind]()
    if modern and kind == "tool" and draw(st.integers(0, 4)):
        value["params"]["_meta"] = modern_meta()
    placeholders = DEEP in str(value) or LONG in str(value)
    sizes = {"depth": draw(DEPTHS), "arrays": draw(st.booleans()), "long": draw(LONG_SIZES)} if placeholders else {}
    return Line(value, ascii=draw(st.integers(0, 9)) > 0, **sizes)


# --- the servers --------------------------------------------------------------------------------------------


class FuzzTarget:
    """One long-lived server per case and era, restarted only if a failing example killed it (so shrinking works)."""

    def __init__(self, case: ServerCase, folder: Path, era: str) -> None:
        self.case, self.folder, self.modern = case, folder, era == "modern"
        self.health_ids = (f"health-{n}" for n in itertools.count())
        self.sent_ids: set[Any] = set()
        self.server = self._start()
        self.tools: list[dict[str, Any]] = self.health()["result"]["tools"]

    def _start(self) -> PipeServer:
        (self.folder / "sub").mkdir(exist_ok=True)
        (self.folder / "note.txt").write_text("hello\nworld\n")
        # Debug logging in the handshake era, so the log lines that name what a client sent are fuzzed too.
        env = {**self.case.env(self.folder), "DESKMCP_LOG_LEVEL": "warning" if self.modern else "debug"}
        server = PipeServer(self.case.command(self.folder), env=env)
        if not self.modern:
            server.initialize(HANDSHAKE)
        self.checked = len(server.raw_stdout)  # what start-up wrote is not the fuzz's to check
        return server

    def ensure_running(self) -> None:
        if self.server.process.poll() is not None:
            self.server = self._start()

    def health(self) -> dict[str, Any]:
        """`tools/list`; in the modern era also without the envelope once the fuzz's own `initialize` (a valid
        one) has moved the connection to the handshake era, as it may."""
        reply = self._list_tools(self.modern)
        if self.modern and reply.get("error", {}).get("code") == -32600 and "handshake" in str(reply):
            reply = self._list_tools(modern=False)
        return reply

    def _list_tools(self, modern: bool) -> dict[str, Any]:
        health_id = next(self.health_ids)
        message = {"jsonrpc": "2.0", "id": health_id, "method": "tools/list"}
        if modern:
            message["params"] = {"_meta": modern_meta()}
        self.server.send(message)
        return self.server.response(health_id, timeout=HEALTH_TIMEOUT)

    def run(self, lines: list[Line]) -> None:
        self.ensure_running()
        data = [item.render() for item in lines]
        for raw in data:
            self._remember_id(raw)
        try:
            self.server.send_raw(b"".join(data))
            reply = self.health()
        except BaseException:
            self.server.kill()  # hung or dead: the next example starts a fresh one
            raise
        assert "result" in reply, reply
        assert self.server.process.poll() is None
        self._check_stdout()
        self.server.unclaimed.clear()
        self.server.notifications.clear()

    def _remember_id(self, raw: bytes) -> None:
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            return
        request_id = obj.get("id") if isinstance(obj, dict) else None
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            self.sent_ids.add(request_id)

    def _check_stdout(self) -> None:
        """Every new line is strict UTF-8 JSON-RPC; every reply's id is null, one the client sent, or ours."""
        written = bytes(self.server.raw_stdout)
        new, self.checked = written[self.checked :], len(written)
        for raw in new.splitlines():
            message = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
            assert message["jsonrpc"] == "2.0", message
            if "method" in message:
                continue
            reply_id = message["id"]
            if not (reply_id is None or reply_id in self.sent_ids or str(reply_id).startswith("health-")):
                raise AssertionError(f"reply to an id never sent: {message!r}")
            if "error" in message:
                assert isinstance(message["error"]["code"], int) and message["error"]["code"] != 0, message


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"the server wrote {name}, which is not JSON")


@pytest.fixture(
    scope="module",
    params=[(case, era) for case in SERVERS for era in ERAS],
    ids=[f"{name}-{era}" for name in server_ids() for era in ERAS],
)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    case, era = request.param
    fuzz_target = FuzzTarget(case, tmp_path_factory.mktemp(f"fuzz-{case.name}-{era}"), era)
    yield fuzz_target
    fuzz_target.server.kill()


def test_no_batch_of_lines_stops_the_server(target: FuzzTarget) -> None:
    batches = st.lists(line(target.tools, target.modern), min_size=3, max_size=8)

    @settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink] if os.environ.get("DESKMCP_FUZZ_SHRINK") else [Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batches)
    def survives(lines: list[Line]) -> None:
        target.run(lines)

    survives()
    assert target.server.close(timeout=30) == 0, target.server.stderr
