"""The memory server's resources, subscriptions and prompts as hosts use them: raw pipes and the official SDK client
in both eras, and the MCP Inspector CLI. Subscribers hear this server's writes and another process's on the same
store, and nothing from another project's."""

from __future__ import annotations

import json
import queue
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import hostpipes
import mcp.types as types
import pytest
from deskmcp.servers.memory import schema
from deskmcp.servers.memory.resources import entity_uri
from hostpipes import PipeServer, deskmcp_command, host_env, pipe_server, run_inspector, sdk_client, sdk_session
from mcp import MCPError
from mcp.client.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning
from memory_helpers import entity, relation, store_env

MEMORY = deskmcp_command("memory")
GRAPH = "memory://knowledge-graph"
STATUS = "memory://status"
TEMPLATE = "memory://entities/{name}"
ODD_NAME = "Ann / Bo? 50% #1"  # a slash, a query mark, a percent sign and a hash: percent-encoded in the URI
UPDATED = "notifications/resources/updated"


class Era(hostpipes.Era):
    """One memory server spoken to in one protocol era."""

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.pipe.call_tool(name, arguments, modern=self.modern)
        assert not result.get("isError"), result
        return result

    def read(self, uri: str) -> dict[str, Any]:
        (contents,) = self.result("resources/read", {"uri": uri})["contents"]
        assert (contents["uri"], contents["mimeType"]) == (uri, "application/json")
        return json.loads(contents["text"])


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "2026-07-28"])
def test_resources_templates_completion_and_prompts_in_both_eras(tmp_path: Path, modern: bool) -> None:
    with pipe_server(MEMORY, env=store_env(tmp_path / "m.db")) as pipe:
        era = Era(pipe, modern)
        capabilities = (pipe.result("server/discover", modern=True) if modern else pipe.initialize())["capabilities"]
        assert capabilities["resources"] == {"listChanged": True, "subscribe": True}
        assert "prompts" in capabilities and "completions" in capabilities
        listed = era.result("resources/list")
        assert [(r["uri"], r["name"], r["mimeType"]) for r in listed["resources"]] == [
            (GRAPH, "knowledge-graph", "application/json"),
            (STATUS, "status", "application/json"),
        ]
        assert listed["resources"][0]["title"] == "Knowledge Graph"  # the reference's resource, as it names it
        assert [t["uriTemplate"] for t in era.result("resources/templates/list")["resourceTemplates"]] == [TEMPLATE]

        assert era.read(GRAPH) == {"entities": [], "relations": []}
        era.call("create_entities", {"entities": [entity(ODD_NAME, "person", "likes tea"), entity("Acme", "org")]})
        era.call("create_relations", {"relations": [relation(ODD_NAME, "Acme", "works_at")]})
        assert era.read(GRAPH) == era.call("read_graph", {})["structuredContent"]
        assert era.read(entity_uri(ODD_NAME)) == {
            "entities": [entity(ODD_NAME, "person", "likes tea")],
            "relations": [relation(ODD_NAME, "Acme", "works_at")],
        }
        status = era.read(STATUS)
        assert status["path"] == str(tmp_path / "m.db") and status["schemaVersion"] == schema.LATEST
        assert (status["project"], status["entities"], status["observations"], status["relations"]) == (
            "default",
            2,
            1,
            1,
        )

        not_found = -32602 if modern else -32002
        for uri in (entity_uri("Nobody"), "memory://nothing"):
            reply = era.request("resources/read", {"uri": uri})
            assert (reply["error"]["code"], reply["error"]["data"]) == (not_found, {"uri": uri}), reply
        assert (
            "no entity named 'Nobody'"
            in era.request("resources/read", {"uri": entity_uri("Nobody")})["error"]["message"]
        )

        def complete(ref: dict[str, str], name: str, value: str) -> list[str]:
            params = {"ref": ref, "argument": {"name": name, "value": value}}
            return era.result("completion/complete", params)["completion"]["values"]

        assert complete({"type": "ref/resource", "uri": TEMPLATE}, "name", "an") == [ODD_NAME]
        assert complete({"type": "ref/resource", "uri": TEMPLATE}, "name", "") == ["Acme", ODD_NAME]
        assert complete({"type": "ref/prompt", "name": "recall"}, "topic", "A") == ["Acme", ODD_NAME]
        assert complete({"type": "ref/resource", "uri": TEMPLATE}, "name", "100%") == []  # % is not a wildcard

        prompts = era.result("prompts/list")["prompts"]
        assert [(p["name"], [(a["name"], a["required"]) for a in p["arguments"]]) for p in prompts] == [
            ("use_memory", []),
            ("recall", [("topic", True)]),
        ]
        guide = era.result("prompts/get", {"name": "use_memory"})["messages"][0]["content"]["text"]
        assert "project 'default': 2 entities, 1 observation, 1 relation, 0 memory files" in guide
        assert "search_nodes" in guide and "add_observations" in guide
        recalled = era.result("prompts/get", {"name": "recall", "arguments": {"topic": "tea"}})["messages"]
        assert [m["role"] for m in recalled] == ["user"]
        assert "```json" in recalled[0]["content"]["text"] and '"likes tea"' in recalled[0]["content"]["text"]
        nothing = era.result("prompts/get", {"name": "recall", "arguments": {"topic": "zebra"}})["messages"]
        assert "nothing on it yet" in nothing[0]["content"]["text"]
        missing = era.request("prompts/get", {"name": "recall", "arguments": {}})
        assert (
            missing["error"]["code"] == -32602 and "topic: required argument is missing" in missing["error"]["message"]
        )
        assert pipe.close() == 0
    assert "Traceback" not in pipe.stderr


def test_a_big_graph_resource_is_its_first_page_and_stays_json(tmp_path: Path) -> None:
    with pipe_server(MEMORY, env=store_env(tmp_path / "m.db")) as pipe:
        era = Era(pipe, modern=False)
        pipe.initialize()
        era.call("create_entities", {"entities": [entity(f"e{i:02}", "t", f"{i} " + "w" * 2000) for i in range(60)]})
        era.call("create_entities", {"entities": [entity("big", "t", *[f"{i} " + "v" * 2000 for i in range(60)])]})
        first = era.read(GRAPH)  # 240,000 characters of graph: cut, and whole JSON all the same
        assert 0 < len(first["entities"]) < 61 and first["totalEntities"] == 61 and first["totalRelations"] == 0
        assert f'call the read_graph tool with cursor "{first["nextCursor"]}"' in first["note"]
        names = [e["name"] for e in first["entities"]]
        cursor = first["nextCursor"]
        while cursor:  # the cursor continues with the read_graph tool
            page = era.call("read_graph", {"cursor": cursor})["structuredContent"]
            names += [e["name"] for e in page["entities"] if not names or e["name"] != names[-1]]
            cursor = page.get("nextCursor")
        assert names == [f"e{i:02}" for i in range(60)] + ["big"]

        one = era.read(entity_uri("big"))  # one entity bigger than the budget: cut inside it
        seen = one["entities"][0]["observations"]
        assert 0 < len(seen) < 60 and one["totalEntities"] == 1
        assert f'call the open_nodes tool with names ["big"] and cursor "{one["nextCursor"]}"' in one["note"]
        cursor = one["nextCursor"]
        while cursor:  # the cursor continues with the open_nodes tool
            page = era.call("open_nodes", {"names": ["big"], "cursor": cursor})["structuredContent"]
            seen += page["entities"][0]["observations"]
            cursor = page.get("nextCursor")
        assert seen == [f"{i} " + "v" * 2000 for i in range(60)]
        assert pipe.close() == 0


def updates(pipe: PipeServer, wait: float) -> list[str]:
    """The URIs of `resources/updated` notifications that arrive within `wait` seconds (and any already read)."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = pipe.next_message(left)
        except queue.Empty:
            break
        if "method" in message and "id" not in message:
            pipe.notifications.append(message)
    heard = [n["params"]["uri"] for n in pipe.notifications if n["method"] == UPDATED]
    pipe.notifications = [n for n in pipe.notifications if n["method"] != UPDATED]
    return heard


def heard_all(pipe: PipeServer, expected: set[str], timeout: float = 10) -> set[str]:
    """Wait until every URI in `expected` was announced; returns everything announced meanwhile."""
    heard: set[str] = set()
    deadline = time.monotonic() + timeout
    while not expected <= heard and time.monotonic() < deadline:
        heard |= set(updates(pipe, 0.1))
    assert expected <= heard, f"waited for {expected}, heard {heard}"
    return heard


def test_handshake_subscribers_hear_this_servers_writes_and_another_processs(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    alice = entity_uri("Alice")
    with (
        pipe_server(MEMORY, env=store_env(path)) as pipe,
        pipe_server(MEMORY, env=store_env(path)) as other,
        pipe_server(MEMORY, env=store_env(path, project="elsewhere")) as elsewhere,
    ):
        for server in (pipe, other, elsewhere):
            server.initialize()
        for uri in (GRAPH, STATUS, alice):  # Alice does not exist yet: she may be subscribed to all the same
            assert pipe.result("resources/subscribe", {"uri": uri}) == {}
        refused = pipe.request("resources/subscribe", {"uri": "memory://nothing"})
        assert (refused["error"]["code"], refused["error"]["data"]) == (-32002, {"uri": "memory://nothing"})

        pipe.call_tool("create_entities", {"entities": [entity("Alice", "person")]})  # this server's own write
        heard_all(pipe, {GRAPH, STATUS, alice})
        other.call_tool("add_observations", {"observations": [{"entityName": "Alice", "contents": ["sings"]}]})
        assert heard_all(pipe, {GRAPH, STATUS, alice}) == {GRAPH, STATUS, alice}  # another process's write
        other.call_tool("create_entities", {"entities": [entity("Bob")]})
        time.sleep(0.3)  # past the hub's 0.25 s between announcements of one URI
        heard = heard_all(pipe, {GRAPH, STATUS})
        assert alice not in heard | set(updates(pipe, 0.6))  # Bob is not Alice

        elsewhere.call_tool("create_entities", {"entities": [entity("Carol")]})  # another project
        pipe.call_tool("memory", {"command": "create", "path": "/memories/a.md", "file_text": "x"})  # a file
        time.sleep(1.0)  # two polls of data_version
        assert not {GRAPH, alice} & set(updates(pipe, 0.2))  # neither touched this project's graph

        assert pipe.result("resources/unsubscribe", {"uri": GRAPH}) == {}
        other.call_tool("create_relations", {"relations": [relation("Bob", "Alice")]})
        assert GRAPH not in heard_all(pipe, {alice})  # Alice's relations changed; the graph is no longer followed
        assert pipe.close() == 0
    assert "Traceback" not in pipe.stderr + other.stderr + elsewhere.stderr


async def next_update(subscription: Any, timeout: float = 10) -> str:
    with anyio.fail_after(timeout):
        async for event in subscription:
            if isinstance(event, ResourceUpdated):
                return event.uri
    raise AssertionError("the listen stream ended")


@pytest.mark.anyio
async def test_a_modern_listen_stream_hears_another_process_and_the_sdk_reads_and_completes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    env = host_env(store_env(path))
    async with sdk_client(MEMORY, env) as client:
        assert client.session.protocol_version == "2026-07-28"
        await client.call_tool("create_entities", {"entities": [entity("Alice", "person", "likes tea")]})
        read = await client.read_resource(entity_uri("Alice"))
        assert json.loads(read.contents[0].text)["entities"] == [entity("Alice", "person", "likes tea")]
        names = await client.complete(types.ResourceTemplateReference(uri=TEMPLATE), {"name": "name", "value": "al"})
        assert names.completion.values == ["Alice"]
        got = await client.get_prompt("recall", {"topic": "Alice"})
        assert '"likes tea"' in got.messages[0].content.text
        with pytest.raises(MCPError) as caught:
            await client.read_resource(entity_uri("Nobody"))
        assert caught.value.error.code == -32602
        async with client.listen(resource_subscriptions=[GRAPH, entity_uri("Alice")]) as stream:
            with pipe_server(MEMORY, env=store_env(path)) as other:
                other.initialize()
                other.call_tool("add_observations", {"observations": [{"entityName": "Alice", "contents": ["sings"]}]})
                assert {await next_update(stream), await next_update(stream)} == {GRAPH, entity_uri("Alice")}
                assert other.close() == 0
            await anyio.sleep(0.3)
            await client.call_tool("create_entities", {"entities": [entity("Bob")]})  # this client's own write
            assert await next_update(stream) == GRAPH
        read = await client.read_resource(entity_uri("Alice"), cache_mode="bypass")
        assert json.loads(read.contents[0].text)["entities"][0]["observations"] == ["likes tea", "sings"]


@pytest.mark.anyio
async def test_the_sdk_session_subscribes_reads_and_gets_prompts_in_the_handshake_era(tmp_path: Path) -> None:
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            heard.append(message.params.uri)

    async with sdk_session(MEMORY, host_env(store_env(tmp_path / "m.db")), message_handler=on_message) as session:
        listed = await session.list_resources()
        assert [str(r.uri) for r in listed.resources] == [GRAPH, STATUS]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await session.subscribe_resource(GRAPH)
        await session.call_tool("save_memory", {"text": "prefers dark mode", "tags": ["ui"]})
        with anyio.fail_after(10):
            while not heard:
                await anyio.sleep(0.01)
        assert heard == [GRAPH]
        graph = json.loads((await session.read_resource(GRAPH)).contents[0].text)
        assert graph["entities"] == [entity("Memories", "memory", "prefers dark mode")]
        guide = await session.get_prompt("use_memory")
        assert "1 entity, 1 observation" in guide.messages[0].content.text
        done = await session.complete(types.PromptReference(name="recall"), {"name": "topic", "value": "mem"})
        assert done.completion.values == ["Memories"]


def test_the_inspector_reads_resources_and_gets_prompts_in_both_eras(tmp_path: Path) -> None:
    """Ten Inspector runs, three at a time (each costs a Node start and a server start)."""
    env = store_env(tmp_path / "m.db")
    with pipe_server(MEMORY, env=env) as pipe:
        pipe.initialize()
        pipe.call_tool("create_entities", {"entities": [entity("Zürich", "city", "on a lake")]})
        assert pipe.close() == 0
    calls = {}
    for era in ("legacy", "modern"):
        calls[f"list-{era}"] = ("--protocol-era", era, "--method", "resources/list")
        calls[f"templates-{era}"] = ("--protocol-era", era, "--method", "resources/templates/list")
        calls[f"read-{era}"] = ("--protocol-era", era, "--method", "resources/read", "--uri", entity_uri("Zürich"))
        calls[f"prompts-{era}"] = ("--protocol-era", era, "--method", "prompts/list")
        recall = ("--method", "prompts/get", "--prompt-name", "recall", "--prompt-args", "topic=zurich")
        calls[f"recall-{era}"] = ("--protocol-era", era, *recall)
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(run_inspector, MEMORY, *options, env=env) for name, options in calls.items()}
        done = {name: future.result() for name, future in futures.items()}
    for name, completed in done.items():
        assert completed.returncode == 0, (name, completed.stdout, completed.stderr)
    for era in ("legacy", "modern"):
        result = {name.split("-")[0]: json.loads(done[name].stdout)["result"] for name in done if name.endswith(era)}
        assert [r["uri"] for r in result["list"]["resources"]] == [GRAPH, STATUS]
        assert [t["uriTemplate"] for t in result["templates"]["resourceTemplates"]] == [TEMPLATE]
        assert json.loads(result["read"]["contents"][0]["text"])["entities"] == [entity("Zürich", "city", "on a lake")]
        assert [p["name"] for p in result["prompts"]["prompts"]] == ["use_memory", "recall"]
        assert '"on a lake"' in result["recall"]["messages"][0]["content"]["text"]  # accents folded: zurich finds it


def test_bad_resource_prompt_and_completion_input_is_a_clear_error_and_the_server_keeps_serving(tmp_path: Path) -> None:
    lone = "\ud800"
    with pipe_server(MEMORY, env=store_env(tmp_path / "m.db")) as pipe:
        pipe.initialize()
        template = {"type": "ref/resource", "uri": TEMPLATE}
        bad = [
            ("resources/read", {"uri": entity_uri("x" * 600)}, "is 600 characters long; the limit is 500"),
            ("resources/read", {"uri": f"memory://entities/a{lone}"}, "unpaired surrogate"),
            ("resources/subscribe", {"uri": "memory://entities/a/b"}, "no resource 'memory://entities/a/b'"),
            ("completion/complete", {"ref": template, "argument": {"name": "name", "value": lone}}, "surrogate"),
            ("completion/complete", {"ref": template, "argument": {"name": "nom", "value": ""}}, "got 'nom'"),
            ("prompts/get", {"name": "recall", "arguments": {"topic": "q" * 1001}}, "the limit is 1,000"),
            ("prompts/get", {"name": "use_memory", "arguments": {"topic": "x"}}, "topic: unknown argument"),
        ]
        for method, params, message in bad:
            reply = pipe.request(method, params)
            assert reply["error"]["code"] in (-32602, -32002) and message in reply["error"]["message"], reply
        assert pipe.result("resources/read", {"uri": GRAPH})["contents"][0]["text"]
        assert pipe.close() == 0
    assert "Traceback" not in pipe.stderr
