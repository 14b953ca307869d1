"""The shared layer's pieces, called directly: framing, classification, schemas, settings, tool registration."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated, Any, Literal

import anyio
import mcp.types as types
import pytest
from deskmcp.shared import stdio
from deskmcp.shared.app import Service, build_server
from deskmcp.shared.replies import to_json, to_json_or_explain, without_code_zero
from deskmcp.shared.schema import annotations_of, portable
from deskmcp.shared.settings import Secret, Setting, SettingsError, describe_settings, load_settings, whole_number
from deskmcp.shared.stdio import (
    EndOfInput,
    Oversize,
    classify,
    reader_thread,
    split_lines,
)
from deskmcp.shared.tools import StructuredResult, StructuredText, ToolContext, ToolRegistry, tool
from mcp import Client, MCPError
from pydantic import BaseModel, ConfigDict, Field

# --- split_lines --------------------------------------------------------------------------------------------


def feed(chunks: list[bytes], limit: int = 10) -> list:
    buffer, skipped, frames = bytearray(), 0, []
    for chunk in chunks:
        out, skipped = split_lines(buffer, chunk, limit, skipped)
        frames += out
        assert len(buffer) <= limit
    return frames


def test_lines_split_across_chunks_are_joined():
    assert feed([b"ab", b"c\nde", b"f\n"]) == [b"abc", b"def"]


def test_a_line_at_the_limit_passes_and_one_over_is_skipped_with_its_size():
    assert feed([b"0123456789\n"]) == [b"0123456789"]
    assert feed([b"0123456789A\nok\n"]) == [Oversize(11), b"ok"]


def test_an_oversize_line_spread_over_many_chunks_is_counted_not_kept():
    assert feed([b"x" * 7, b"x" * 7, b"x" * 7, b"\nnext\n"]) == [Oversize(21), b"next"]
    assert feed([b"x" * 25 + b"\n", b"ok\n"]) == [Oversize(25), b"ok"]


# --- classify -----------------------------------------------------------------------------------------------


def test_classify_returns_a_typed_message_for_valid_json_rpc():
    message = classify(b'{"jsonrpc":"2.0","id":"a","method":"tools/list"}')
    assert isinstance(message, types.JSONRPCRequest) and message.id == "a"


def test_classify_ignores_blank_lines_and_answers_everything_else():
    assert classify(b"   ") is None
    assert classify(b"nope")["error"]["code"] == -32700
    assert classify(b'{"jsonrpc":"2.0","id":3}')["id"] == 3


def test_a_response_from_the_client_is_a_valid_message():
    assert isinstance(classify(b'{"jsonrpc":"2.0","id":1,"result":{"roots":[]}}'), types.JSONRPCResponse)


def test_a_number_past_pythons_digit_limit_is_a_parse_error_not_a_crash():
    reply = classify(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1' + b"0" * 5000 + b"}}")
    assert reply == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: a number has too many digits"},
    }


def test_the_reader_hands_over_classified_messages_and_error_replies_in_order_then_the_end():
    read_fd, write_fd = os.pipe()
    lines = [
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
        b"  ",
        b"{oops",
        b"x" * 200,
        b'{"jsonrpc":"2.0","method":"n"}',
    ]
    os.write(write_fd, b"\n".join(lines) + b'\n{"jsonrpc":"2.0","id":2,"method":"ping"}')
    os.close(write_fd)
    batches: list[list] = []
    reader_thread(read_fd, 100, batches.append)
    os.close(read_fd)
    request, parse_error, oversize, notification, last, end = [item for batch in batches for item in batch]
    assert isinstance(request, types.JSONRPCRequest) and request.id == 1
    assert parse_error["error"]["code"] == -32700
    assert oversize["error"] == {
        "code": -32600,
        "message": "Invalid Request: line of 200 bytes is over the 100-byte limit",
    }
    assert isinstance(notification, types.JSONRPCNotification)
    assert isinstance(last, types.JSONRPCRequest) and last.id == 2
    assert end is EndOfInput


def test_a_fault_while_classifying_costs_one_line_not_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    def fragile(raw: bytes) -> Any:
        if b"boom" in raw:
            raise MemoryError("simulated")
        return real(raw)

    real = stdio.classify
    monkeypatch.setattr(stdio, "classify", fragile)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'{"jsonrpc":"2.0","id":1,"method":"boom"}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n')
    os.close(write_fd)
    batches: list[list] = []
    reader_thread(read_fd, 1000, batches.append)
    os.close(read_fd)
    fault, request, end = [item for batch in batches for item in batch]
    assert fault["error"]["code"] == -32603 and fault["id"] is None
    assert isinstance(request, types.JSONRPCRequest) and request.id == 2
    assert end is EndOfInput


# --- replies: what every transport writes ------------------------------------------------------------------


def test_a_lone_surrogate_is_written_as_a_json_escape_and_other_text_as_utf8():
    reply = types.JSONRPCResponse(jsonrpc="2.0", id="id\ud800", result={"text": "é\udfff", "n": 1})
    text = to_json(reply)
    assert text == '{"jsonrpc":"2.0","id":"id\\ud800","result":{"text":"\\u00e9\\udfff","n":1}}'
    assert json.loads(text) == {"jsonrpc": "2.0", "id": "id\ud800", "result": {"text": "é\udfff", "n": 1}}
    plain = to_json(types.JSONRPCResponse(jsonrpc="2.0", id=1, result={"text": "é"}))
    assert plain == '{"jsonrpc":"2.0","id":1,"result":{"text":"é"}}'
    assert to_json(stdio.error_message("\ud800", -32600, "no")).startswith('{"jsonrpc":"2.0","id":"\\ud800"')


def test_a_reply_that_cannot_be_serialised_becomes_internal_error_for_its_id():
    reply = types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"value": object()})
    assert json.loads(to_json_or_explain(reply)) == {  # type: ignore[arg-type]
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32603, "message": "Internal error: the reply could not be serialised; see the server log"},
    }
    note = types.JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": object()})
    assert to_json_or_explain(note) is None


def test_error_code_zero_becomes_internal_error_and_other_codes_stay():
    zero = types.JSONRPCError(jsonrpc="2.0", id=1, error=types.ErrorData(code=0, message="boom"))
    assert without_code_zero(zero).error.code == -32603  # type: ignore[union-attr]
    kept = types.JSONRPCError(jsonrpc="2.0", id=1, error=types.ErrorData(code=-32602, message="bad"))
    assert without_code_zero(kept).error.code == -32602  # type: ignore[union-attr]


# --- portable schemas ---------------------------------------------------------------------------------------


class Edit(BaseModel):
    oldText: str
    newText: str


def test_portable_inlines_refs_drops_titles_null_branches_and_boolean_schemas():
    @tool
    def edit(path: str, edits: list[Edit], dryRun: bool = False, note: str | None = None) -> str:
        """Edit."""
        return ""

    schema = edit.definition().input_schema
    assert "$defs" not in schema and "$ref" not in str(schema) and "title" not in str(schema)
    assert schema["properties"]["edits"]["items"]["properties"]["oldText"] == {"type": "string"}
    assert schema["properties"]["note"] == {"type": "string"}
    assert "additionalProperties" not in str(schema)


def test_portable_keeps_typed_additional_properties():
    assert portable({"type": "object", "additionalProperties": {"type": "number"}}) == {
        "type": "object",
        "additionalProperties": {"type": "number"},
    }


# --- tools --------------------------------------------------------------------------------------------------


class Total(StructuredResult):
    total: int


@tool
async def add(a: int, b: Annotated[int, Field(description="second")] = 0) -> Total:
    """Add."""
    return Total(total=a + b)


@tool
def pick(choice: Literal["x", "y"], ctx: ToolContext) -> str:
    """Pick."""
    return choice


def test_a_tool_definition_comes_from_the_signature_and_docstring():
    definition = add.definition()
    assert definition.description == "Add."
    assert definition.input_schema["required"] == ["a"]
    assert definition.input_schema["properties"]["b"]["description"] == "second"
    assert definition.output_schema == {
        "type": "object",
        "properties": {"total": {"type": "integer"}},
        "required": ["total"],
    }


@tool(title="Shout It")
def shout(text: str) -> StructuredText:
    """Shout."""
    return StructuredText(content=text.upper(), notes=["(that was loud)"])


@pytest.mark.anyio
async def test_structured_text_is_the_text_plus_the_reference_servers_structured_shape():
    definition = shout.definition()
    assert definition.title == "Shout It" and add.definition().title is None
    assert definition.output_schema == {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"content": {"type": "string"}},
        "required": ["content"],
        "additionalProperties": False,
    }
    result = await ToolRegistry([shout]).call(shout, {"text": "hi"}, None)  # type: ignore[arg-type]
    assert [block.text for block in result.content] == ["HI", "(that was loud)"]  # type: ignore[union-attr]
    assert result.structured_content == {"content": "HI"}  # the notes stay out: the schema has no room for them


def test_an_optional_argument_has_the_same_flat_schema_and_takes_10_0_on_every_python():
    """Python 3.10's get_type_hints wrapped `x: int | None = None` in another Optional: a nested anyOf that
    clients saw and that hid the integer from the 10.0 -> 10 rule."""

    def f(head: Annotated[int | None, Field(description="first lines")] = None) -> str:
        """Doc."""
        return str(head)

    assert annotations_of(f)["head"].__origin__ == int | None  # Annotated[int | None, ...], not Optional[...]
    spec = tool(f)
    assert spec.definition().input_schema["properties"]["head"] == {"type": "integer", "description": "first lines"}
    assert spec.normalise({"head": 2.0})[0] == {"head": 2}


def test_the_context_parameter_is_not_part_of_the_schema():
    assert list(pick.definition().input_schema["properties"]) == ["choice"]
    assert pick.context_parameter == "ctx" and pick.in_thread


def test_an_optional_context_parameter_is_recognised_too():
    @tool
    def look(path: str, ctx: ToolContext | None = None) -> str:
        """Look."""
        return path

    assert look.context_parameter == "ctx"
    assert list(look.definition().input_schema["properties"]) == ["path"]


def test_a_tool_without_a_docstring_is_refused_at_definition():
    def nameless(x: int) -> str:
        return ""

    with pytest.raises(ValueError, match="docstring"):
        tool(nameless)


def test_two_tools_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two tools"):
        ToolRegistry([add, add])


@pytest.mark.anyio
async def test_strict_validation_refuses_strings_and_booleans_for_numbers():
    registry = ToolRegistry([add])
    result = await registry.call(add, {"a": "5"}, None)  # type: ignore[arg-type]
    assert result.is_error and "a: Input should be a valid integer (got string)" in result.content[0].text
    result = await registry.call(add, {"a": True}, None)  # type: ignore[arg-type]
    assert result.is_error and "a: Input should be a valid integer (got boolean)" in result.content[0].text


# --- arguments as clients send them -------------------------------------------------------------------------


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    oldText: str
    count: int = 1


@tool
def change(
    path: str,
    edits: list[Change],
    dryRun: bool = False,
    limit: int | None = None,
    weights: dict[str, int] | None = None,
    base: Literal[10, 16] = 10,
    value: int | float = 0,
    ids: list[int] | None = None,
) -> str:
    """Report what arrived (JSON keeps 2 and 2.0 apart)."""
    return json.dumps(
        {"edits": [[e.oldText, e.count] for e in edits], "dryRun": dryRun, "limit": limit, "weights": weights}
        | {"base": base, "value": value, "ids": ids}
    )


async def call_change(arguments: dict[str, Any]) -> types.CallToolResult:
    return await ToolRegistry([change]).call(change, arguments, None)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_unknown_arguments_are_ignored_at_every_depth_and_logged_at_debug(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="deskmcp.shared.tools")
    result = await call_change(
        {"path": "p", "encoding": "utf-8", "edits": [{"oldText": "a", "replaceAll": True}], "weights": {"w": 1}}
    )
    assert not result.is_error, result.content[0].text
    assert json.loads(result.content[0].text)["edits"] == [["a", 1]]
    assert "change: ignoring unknown argument(s) encoding, edits.0.replaceAll" in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        ({"dry_run": True}, "- dry_run: unknown argument; did you mean 'dryRun'?"),
        ({"dryrun": True}, "- dryrun: unknown argument; did you mean 'dryRun'?"),
        ({"DryRun": True}, "- DryRun: unknown argument; did you mean 'dryRun'?"),
        ({"dry-run": True}, "- dry-run: unknown argument; did you mean 'dryRun'?"),
        ({"edits": [{"oldText": "a"}, {"oldText": "b", "Count": 2}]}, "- edits.1.Count: unknown argument; did you"),
    ],
)
async def test_a_near_miss_of_a_known_argument_is_refused_not_ignored(arguments: dict[str, Any], line: str):
    """Ignoring `dry_run: true` would write for real: the opposite of what the model asked."""
    result = await call_change({"path": "p", "edits": [], **arguments})
    assert result.is_error
    assert line in result.content[0].text
    assert "(a near miss of an argument is refused, not ignored)" in result.content[0].text


@pytest.mark.anyio
async def test_a_refusal_lists_near_misses_problems_and_then_what_was_ignored():
    result = await call_change({"Path": "p", "edits": [{"old": "a"}], "x": 1})
    assert result.content[0].text.splitlines() == [
        "Invalid arguments for tool 'change':",
        "- Path: unknown argument; did you mean 'path'? (a near miss of an argument is refused, not ignored)",
        "- path: required argument is missing",
        "- edits.0.oldText: required argument is missing",
        "- edits.0.old: unknown argument, ignored",
        "- x: unknown argument, ignored",
    ]


@pytest.mark.anyio
async def test_integral_numbers_are_accepted_for_integers_everywhere():
    result = await call_change(
        {
            "path": "p",
            "edits": [{"oldText": "a", "count": 2.0}],
            "limit": 1e1,
            "weights": {"w": 3.0},
            "base": 16.0,
            "ids": [1.0, 2],
            "value": 2.0,
        }
    )
    assert not result.is_error, result.content[0].text
    received = json.loads(result.content[0].text)
    assert received["edits"] == [["a", 2]] and type(received["edits"][0][1]) is int
    assert received["limit"] == 10 and type(received["limit"]) is int
    assert received["weights"] == {"w": 3} and type(received["weights"]["w"]) is int
    assert received["base"] == 16 and type(received["base"]) is int
    assert received["ids"] == [1, 2] and all(type(i) is int for i in received["ids"])
    assert type(received["value"]) is float  # a union that takes any number keeps what was sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        ({"limit": 1.5}, "- limit: expected a whole number, got 1.5"),
        ({"edits": [{"oldText": "a", "count": 0.5}]}, "- edits.0.count: expected a whole number, got 0.5"),
        ({"ids": [1, 2.5]}, "- ids.1: expected a whole number, got 2.5"),
        ({"weights": {"w": -0.25}}, "- weights.w: expected a whole number, got -0.25"),
        ({"limit": "10"}, "- limit: Input should be a valid integer (got string)"),
        ({"limit": True}, "- limit: Input should be a valid integer (got boolean)"),
    ],
)
async def test_a_fractional_number_string_or_boolean_for_an_integer_is_refused(arguments: dict[str, Any], line: str):
    result = await call_change({"path": "p", "edits": [], **arguments})
    assert result.is_error
    assert line in result.content[0].text.splitlines()


@pytest.mark.anyio
async def test_a_withheld_tool_is_not_listed_and_a_call_says_why():
    registry = ToolRegistry([add, pick], withheld={"add": "started with --read-only"})

    async def call(name: str) -> types.CallToolResult:
        return await registry.on_call_tool(None, types.CallToolRequestParams(name=name, arguments={"a": 1}))  # type: ignore[arg-type]

    assert [listed.name for listed in (await registry.on_list_tools(None, None)).tools] == ["pick"]  # type: ignore[arg-type]
    refused = await call("add")
    assert refused.is_error and refused.content[0].text == "add is not available: started with --read-only"
    with pytest.raises(MCPError, match=r"this server has: pick$"):
        await call("sub")
    with pytest.raises(ValueError, match=r"cannot withhold \['ad'\]: no such tools"):
        ToolRegistry([add], withheld={"ad": "a typo must not leave the real tool callable"})


# --- the service --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_before_request_is_awaited_before_each_request_is_handled_but_not_initialize():
    seen: list[str] = []

    @tool(in_thread=False)
    def note() -> str:
        """Note."""
        seen.append("the tool ran")
        return "noted"

    async def before(ctx: Any) -> None:
        await anyio.sleep(0.01)  # the request waits for this, not only for the hook to start
        seen.append(ctx.method)

    server = build_server("demo", Service(tools=ToolRegistry([note]), before_request=before))
    async with Client(server, mode="legacy") as client:
        assert (await client.call_tool("note", {})).content[0].text == "noted"
    assert seen[seen.index("tools/call") + 1] == "the tool ran"
    assert "initialize" not in seen and not any(method.startswith("notifications/") for method in seen)


# --- settings -----------------------------------------------------------------------------------------------

SETTINGS = (
    Setting("TOKEN", "API token", secret=True, required=True, example="<token>"),
    Setting("COUNT", "how many", parser=int, default=3),
)


def test_a_value_comes_from_the_variable_or_its_file_with_one_newline_stripped(tmp_path):
    token_file = tmp_path / "t"
    token_file.write_text("from-file\n\n")
    values = load_settings("demo", SETTINGS, {"DESKMCP_DEMO_TOKEN_FILE": str(token_file)})
    assert values["TOKEN"].reveal() == "from-file\n"
    assert values["COUNT"] == 3
    values = load_settings("demo", SETTINGS, {"DESKMCP_DEMO_TOKEN": "direct", "DESKMCP_DEMO_COUNT": "5"})
    assert values["TOKEN"].reveal() == "direct" and values["COUNT"] == 5


def test_missing_required_settings_are_reported_with_the_env_snippet():
    with pytest.raises(SettingsError) as caught:
        load_settings("demo", SETTINGS, {})
    message = str(caught.value)
    assert "DESKMCP_DEMO_TOKEN is required but not set" in message
    assert "(API token)" in message
    assert '"env": {\n    "DESKMCP_DEMO_TOKEN": "<token>"' in message


def test_every_problem_is_reported_at_once_without_echoing_a_secret():
    with pytest.raises(SettingsError) as caught:
        load_settings(
            "demo",
            (*SETTINGS, Setting("PIN", "a pin", parser=int, secret=True)),
            {"DESKMCP_DEMO_COUNT": "x", "DESKMCP_DEMO_PIN": "hunter2", "DESKMCP_DEMO_TOKEN": "t"},
        )
    message = str(caught.value)
    assert "  DESKMCP_DEMO_COUNT: invalid literal" in message
    assert "DESKMCP_DEMO_PIN" in message and "hunter2" not in message


def test_a_bad_value_read_from_a_file_names_the_file(tmp_path):
    count_file = tmp_path / "count"
    count_file.write_text("many\n")
    with pytest.raises(SettingsError) as caught:
        load_settings("demo", SETTINGS, {"DESKMCP_DEMO_COUNT_FILE": str(count_file), "DESKMCP_DEMO_TOKEN": "t"})
    assert f"  DESKMCP_DEMO_COUNT: file {str(count_file)!r} (DESKMCP_DEMO_COUNT_FILE): invalid literal" in str(
        caught.value
    )


def test_a_whole_number_without_an_upper_bound():
    parse = whole_number(1)
    assert [parse(raw) for raw in ("1", " 8192\n", "1_000_000", "9" * 1000)] == [1, 8192, 1_000_000, int("9" * 1000)]
    for raw in ("0", "-3", "", "lots", "2.5", "\u0663", "\u00b2", "9" * 1001):  # Arabic-Indic 3, superscript 2
        with pytest.raises(ValueError) as caught:
            parse(raw)
        assert str(caught.value) == f"expected a whole number of at least 1, got {raw!r}"


def test_a_secret_is_masked_in_str_repr_format_and_describe():
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]} {dict(k=secret)}"
    text = describe_settings("demo", SETTINGS, {"TOKEN": secret, "COUNT": 3})
    assert "DESKMCP_DEMO_TOKEN = ***" in text and "hunter2" not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


def test_check_cancelled_raises_in_a_worker_thread_without_an_event_loop():
    import threading

    from deskmcp.shared.tools import ToolCancelled

    context = ToolContext(request=None)  # type: ignore[arg-type]
    context.check_cancelled()  # not cancelled: nothing happens
    context.cancelled.set()
    raised: list[BaseException] = []

    def work() -> None:
        try:
            context.check_cancelled()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(raised) == 1 and isinstance(raised[0], ToolCancelled)
