"""The shared resource, subscription and prompt layer over pipes, both eras: `tests/notes_server.py` as a host runs it.

The notes server registers static resources (text and blob), a template with completion and two prompts
through the shared tables, and a poller thread tells its hub what changed, as the memory server will.
"""

from __future__ import annotations

import base64
import json
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import mcp.types as types
import pytest
from hostpipes import ROOT, Era, next_event, pipe_server, run_inspector, sdk_client, sdk_session
from mcp import MCPError
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning
from notes_server import LOGO, note_uri

NOTES = [sys.executable, str(ROOT / "tests" / "notes_server.py")]
WELCOME = note_uri("welcome")
SUMMARIZE_ERROR = [
    "Invalid arguments for prompt 'summarize':",
    "- name: required argument is missing",
    "- style: Input should be 'brief' or 'detailed'",
    "- words: Input should be a valid integer, unable to parse string as an integer",
    "- colour: unknown argument; this prompt takes: name, style, words",
]


@pytest.fixture(scope="module", params=["handshake", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> Any:
    with pipe_server(NOTES) as pipe:
        modern = request.param != "handshake"
        if modern:
            capabilities = pipe.result("server/discover", modern=True)["capabilities"]
            listen = {"listChanged": True}
            resources = {"listChanged": True, "subscribe": True}
        else:
            capabilities = pipe.initialize()["capabilities"]
            listen = {"listChanged": False}
            resources = {"listChanged": True, "subscribe": True}
        assert capabilities == {"completions": {}, "prompts": listen, "resources": resources, "tools": listen}
        yield Era(pipe, modern)


def test_prompts_are_listed_and_got_with_their_arguments_checked(era: Era) -> None:
    listed = era.result("prompts/list")["prompts"]
    assert [(p["name"], [(a["name"], a["required"]) for a in p["arguments"]]) for p in listed] == [
        ("summarize", [("name", True), ("style", False), ("words", False)]),
        ("hello", []),
    ]
    got = era.result("prompts/get", {"name": "summarize", "arguments": {"name": "welcome", "words": "7"}})
    assert [(m["role"], m["content"]["text"]) for m in got["messages"]] == [
        ("user", "Summarize this note (brief, at most 7 words):\n\nHello from the notes server."),
        ("assistant", "Here is the summary:"),
    ]
    wrong = {"style": "long", "words": "many", "colour": "red"}
    reply = era.request("prompts/get", {"name": "summarize", "arguments": wrong})
    assert reply["error"]["code"] == -32602 and reply["error"]["message"].splitlines() == SUMMARIZE_ERROR
    not_text = era.request("prompts/get", {"name": "summarize", "arguments": {"name": 5}})
    assert not_text["error"] == {
        "code": -32602,
        "message": "Invalid params for prompts/get: params.arguments.name: Input should be a valid string",
    }
    unknown = era.request("prompts/get", {"name": "nope"})
    assert unknown["error"] == {"code": -32602, "message": "Unknown prompt 'nope'; this server has: summarize, hello"}
    missing_note = era.request("prompts/get", {"name": "summarize", "arguments": {"name": "x"}})
    assert missing_note["error"]["code"] == -32602 and "no note named 'x'" in missing_note["error"]["message"]


def test_resources_read_as_text_or_blob_and_an_unknown_uri_gets_the_eras_code(era: Era) -> None:
    listed = era.result("resources/list")
    assert [r["uri"] for r in listed["resources"]] == ["notes://index", "notes://logo"] and "nextCursor" not in listed
    templates = era.result("resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["notes://notes/{name}"]
    index = era.result("resources/read", {"uri": "notes://index"})["contents"]
    assert index == [{"uri": "notes://index", "mimeType": "text/plain", "text": "welcome"}]
    logo = era.result("resources/read", {"uri": "notes://logo"})["contents"][0]
    assert (logo["mimeType"], base64.b64decode(logo["blob"])) == ("image/png", LOGO)
    note = era.result("resources/read", {"uri": WELCOME})["contents"][0]
    assert note["text"] == "Hello from the notes server."
    not_found = -32602 if era.modern else -32002
    for uri in ("notes://nothing", note_uri("no such note")):
        reply = era.request("resources/read", {"uri": uri})
        assert (reply["error"]["code"], reply["error"]["data"]) == (not_found, {"uri": uri})
    cursor = era.request("resources/list", {"cursor": "forged"})
    assert cursor["error"]["code"] == -32602 and "invalid cursor" in cursor["error"]["message"]


def test_template_and_prompt_arguments_complete(era: Era) -> None:
    def values(ref: dict[str, str], name: str, value: str) -> list[str]:
        params = {"ref": ref, "argument": {"name": name, "value": value}}
        return era.result("completion/complete", params)["completion"]["values"]

    assert values({"type": "ref/resource", "uri": "notes://notes/{name}"}, "name", "wel") == ["welcome"]
    assert values({"type": "ref/prompt", "name": "summarize"}, "style", "d") == ["detailed"]
    assert values({"type": "ref/prompt", "name": "summarize"}, "name", "") == ["welcome"]
    reply = era.request(
        "completion/complete", {"ref": {"type": "ref/prompt", "name": "hello"}, "argument": {"name": "x", "value": ""}}
    )
    assert reply["error"]["code"] == -32602 and "takes no arguments; got 'x'" in reply["error"]["message"]


def test_handshake_subscription_hears_a_change_the_poller_thread_noticed() -> None:
    with pipe_server(NOTES) as pipe:
        pipe.initialize()
        refused = pipe.request("resources/subscribe", {"uri": "notes://nothing"})
        assert (refused["error"]["code"], refused["error"]["data"]) == (-32002, {"uri": "notes://nothing"})
        assert pipe.result("resources/subscribe", {"uri": WELCOME}) == {}
        pipe.call_tool("write_note", {"name": "welcome", "text": "changed"})
        assert pipe.wait_notification("notifications/resources/updated")["params"] == {"uri": WELCOME}
        pipe.result("resources/list")  # a client that has listed is told when the list changes
        pipe.call_tool("write_note", {"name": "fresh", "text": "new"})
        assert "params" not in pipe.wait_notification("notifications/resources/list_changed")
        assert pipe.result("resources/unsubscribe", {"uri": WELCOME}) == {}
        pipe.call_tool("write_note", {"name": "welcome", "text": "again"})
        pipe.call_tool("write_note", {"name": "fresh2", "text": "newer"})
        pipe.wait_notification("notifications/resources/list_changed")  # later than the update would have been
        assert not [n for n in pipe.notifications if n["method"] == "notifications/resources/updated"]
        assert pipe.close() == 0


@pytest.mark.anyio
async def test_modern_listen_streams_hear_updates_and_list_changes_from_the_poller() -> None:
    async with sdk_client(NOTES) as client:
        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == ["summarize", "hello"]
        got = await client.get_prompt("summarize", {"name": "welcome", "style": "detailed"})
        assert "(detailed, at most 50 words)" in got.messages[0].content.text
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("summarize", {})
        assert caught.value.error.code == -32602 and "name: required argument is missing" in caught.value.error.message
        with pytest.raises(MCPError) as caught:
            await client.read_resource("notes://nothing")
        assert caught.value.error.code == -32602
        async with (
            client.listen(resource_subscriptions=[WELCOME]) as updates,
            client.listen(resources_list_changed=True) as lists,
        ):
            await client.call_tool("write_note", {"name": "welcome", "text": "changed"})
            assert (await next_event(updates, ResourceUpdated)).uri == WELCOME
            await client.call_tool("write_note", {"name": "fresh", "text": "new"})
            assert isinstance(await next_event(lists, ResourcesListChanged), ResourcesListChanged)
        with pytest.raises(MCPError) as caught:
            async with client.listen(resource_subscriptions=["notes://nothing"]):
                pass
        assert caught.value.error.code == -32602 and "no resource 'notes://nothing'" in caught.value.error.message


@pytest.mark.anyio
async def test_the_sdk_client_gets_prompts_and_completions_in_the_handshake_era() -> None:
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            heard.append(message.params.uri)

    async with sdk_session(NOTES, message_handler=on_message) as session:
        got = await session.get_prompt("hello")
        assert [m.content.text for m in got.messages] == ["Say hello."]
        done = await session.complete(types.PromptReference(name="summarize"), {"name": "style", "value": ""})
        assert done.completion.values == ["brief", "detailed"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await session.subscribe_resource(WELCOME)
        await session.call_tool("write_note", {"name": "welcome", "text": "changed"})
        with anyio.fail_after(5):
            while not heard:
                await anyio.sleep(0.01)
        assert heard == [WELCOME]


def test_inspector_lists_and_gets_prompts_in_both_eras() -> None:
    """Six Inspector runs, three at a time (each costs a Node start and a server start)."""
    get = ("--method", "prompts/get", "--prompt-name", "summarize", "--prompt-args")
    calls = {}
    for era in ("legacy", "modern"):
        calls[f"list-{era}"] = ("--protocol-era", era, "--method", "prompts/list")
        calls[f"get-{era}"] = ("--protocol-era", era, *get, "name=welcome", "style=detailed")
        calls[f"refused-{era}"] = ("--protocol-era", era, *get, "x=1")
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(run_inspector, NOTES, *options) for name, options in calls.items()}
        done = {name: future.result() for name, future in futures.items()}
    for era in ("legacy", "modern"):
        listed, got, refused = done[f"list-{era}"], done[f"get-{era}"], done[f"refused-{era}"]
        assert listed.returncode == got.returncode == 0, listed.stderr + got.stderr
        assert [p["name"] for p in json.loads(listed.stdout)["result"]["prompts"]] == ["summarize", "hello"]
        text = json.loads(got.stdout)["result"]["messages"][0]["content"]["text"]
        assert text.startswith("Summarize this note (detailed, at most 50 words)")
        assert refused.returncode != 0 and "name: required argument is missing" in refused.stdout + refused.stderr
