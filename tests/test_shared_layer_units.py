"""The shared resource, subscription and prompt layer, called directly (over pipes: test_shared_layer_pipes)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import anyio
import mcp.types as types
import notes_server
import pytest
from deskmcp.shared.app import Config, build_server
from deskmcp.shared.completion import MAX_COMPLETIONS, complete
from deskmcp.shared.errors import DomainError, InvalidArgument, NotFound
from deskmcp.shared.prompts import Message, PromptTable, prompt
from deskmcp.shared.protocol import protocol_error
from deskmcp.shared.resources import Contents, Listed, ResourceTable, resource, template, template_matcher
from deskmcp.shared.subscriptions import SubscriptionHub, Watcher
from hostpipes import HANDSHAKE, MODERN
from mcp import ClientSession
from mcp.server.connection import Connection
from mcp.server.runner import serve_dual_era_loop
from mcp.server.session import ServerSession
from mcp.shared.memory import create_client_server_memory_streams
from pydantic import Field

pytestmark = pytest.mark.anyio

# --- templates ----------------------------------------------------------------------------------------------


def test_a_template_matches_whole_uris_and_decodes_its_variables():
    one = template_matcher("memory://entities/{name}")
    assert one("memory://entities/Ada%20Lovelace") == {"name": "Ada Lovelace"}
    assert one("memory://entities/a%2Fb") == {"name": "a/b"}
    assert one("memory://entities/a/b") is None  # {name} is one segment
    assert one("memory://entities/") is None  # and never empty
    assert one("memory://entities/x?y") is None
    assert one("xmemory://entities/x") is None
    rest = template_matcher("file:///{+path}")
    assert rest("file:///home/me/a%20b.txt") == {"path": "home/me/a b.txt"}
    two = template_matcher("db://{table}/rows/{id}")
    assert two("db://users/rows/7") == {"table": "users", "id": "7"}
    assert template_matcher("a.b://{x}")("aXb://1") is None  # literal parts are literal


@pytest.mark.parametrize("bad", ["x://{/path}", "x://{a,b}", "x://{?q}", "x://{open"])
def test_template_expressions_beyond_the_subset_are_refused_at_registration(bad: str):
    with pytest.raises(ValueError, match="only"):
        template_matcher(bad)


def test_a_template_function_must_take_the_template_variables():
    with pytest.raises(ValueError, match="must take the variables"):
        template("x://{name}")(lambda other: "")
    with pytest.raises(ValueError, match="no variable 'nope'"):
        template("x://{name}", complete={"nope": lambda value: []})(lambda name: "")


# --- the resource table -------------------------------------------------------------------------------------


def table_with_everything(threads: list[int] | None = None) -> ResourceTable:
    @resource("demo://readme", mime_type="text/markdown")
    def readme() -> str:
        """The readme."""
        if threads is not None:
            threads.append(threading.get_ident())
        return "# hi"

    @resource("demo://raw")
    def raw() -> bytes:
        return b"\x00\x01"

    @template("demo://items/{name}", complete={"name": lambda value: [f"{value}{i}" for i in range(150)]})
    def item(name: str, uri: str) -> Contents:
        """One item."""
        if name == "gone":
            raise NotFound(f"no item {name}")
        return Contents(data=uri.encode(), mime_type="application/x-item") if name == "blob" else Contents(text=name)

    pages = {None: ([Listed("demo://items/a", "a")], "p2"), "p2": ([Listed("demo://items/b", "b", size=3)], None)}

    def lister(cursor: str | None) -> tuple[list[Listed], str | None]:
        if cursor not in pages:
            raise InvalidArgument("invalid cursor")
        return pages[cursor]

    return ResourceTable([readme, raw], [item], lister=lister)


async def test_the_listing_gives_static_resources_first_then_the_listers_pages():
    table = table_with_everything()
    ctx: Any = SimpleNamespace(protocol_version=HANDSHAKE)
    first = await table.on_list_resources(ctx, types.PaginatedRequestParams())
    assert [r.uri for r in first.resources] == ["demo://readme", "demo://raw", "demo://items/a"]
    assert first.resources[0].description == "The readme." and first.resources[0].mime_type == "text/markdown"
    second = await table.on_list_resources(ctx, types.PaginatedRequestParams(cursor=first.next_cursor))
    assert [(r.uri, r.size) for r in second.resources] == [("demo://items/b", 3)] and second.next_cursor is None
    with pytest.raises(InvalidArgument):
        await table.on_list_resources(ctx, types.PaginatedRequestParams(cursor="forged"))
    with pytest.raises(InvalidArgument, match="invalid cursor"):  # no lister: no cursor is valid
        await ResourceTable([]).on_list_resources(ctx, types.PaginatedRequestParams(cursor="1"))


async def test_reads_are_text_or_blob_with_the_declared_or_returned_type_off_the_event_loop():
    threads: list[int] = []
    table = table_with_everything(threads)
    readme = (await table.read("demo://readme")).contents[0]
    assert isinstance(readme, types.TextResourceContents)
    assert (readme.text, readme.mime_type) == ("# hi", "text/markdown")
    assert threads and threads[0] != threading.get_ident()  # a sync read runs in a worker thread
    raw = (await table.read("demo://raw")).contents[0]
    assert isinstance(raw, types.BlobResourceContents)
    assert (raw.blob, raw.mime_type) == ("AAE=", "application/octet-stream")
    text = (await table.read("demo://items/x%20y")).contents[0]
    assert (text.uri, text.text, text.mime_type) == ("demo://items/x%20y", "x y", "text/plain")
    blob = (await table.read("demo://items/blob")).contents[0]
    assert (blob.blob, blob.mime_type) == ("ZGVtbzovL2l0ZW1zL2Jsb2I=", "application/x-item")  # the URI, base64
    with pytest.raises(NotFound, match="no item gone"):
        await table.read("demo://items/gone")
    with pytest.raises(NotFound, match="no resource 'demo://nothing'"):
        await table.read("demo://nothing")


async def test_template_completion_is_capped_with_the_total_and_names_a_wrong_argument():
    table = table_with_everything()
    done = await complete(table.completer("demo://items/{name}", "name"), "v")
    assert len(done.completion.values) == MAX_COMPLETIONS == 100
    assert (done.completion.total, done.completion.has_more, done.completion.values[0]) == (150, True, "v0")
    with pytest.raises(InvalidArgument, match="has the variables name; got 'id'"):
        table.completer("demo://items/{name}", "id")
    with pytest.raises(InvalidArgument, match="no resource template"):
        table.completer("demo://other/{x}", "x")
    assert table.completes and not ResourceTable([]).completes


async def test_any_argument_name_reaches_the_function_sync_or_async():
    """Even `in_thread`, the name of the flag that says where a function runs."""

    @template("demo://flags/{in_thread}")
    def flag(in_thread: str) -> str:
        return f"read {in_thread}"

    @template("demo://async/{in_thread}")
    async def async_flag(in_thread: str) -> str:
        return f"async {in_thread}"

    @prompt
    def flagged(in_thread: str) -> str:
        """A prompt whose argument is named in_thread."""
        return f"asked {in_thread}"

    table = ResourceTable(templates=[flag, async_flag])
    assert (await table.read("demo://flags/yes")).contents[0].text == "read yes"
    assert (await table.read("demo://async/yes")).contents[0].text == "async yes"
    assert (await PromptTable([flagged]).get("flagged", {"in_thread": "no"})).messages[0].content.text == "asked no"


def test_two_resources_with_one_uri_are_refused():
    spec = resource("demo://a")(lambda: "")
    with pytest.raises(ValueError, match="two resources"):
        ResourceTable([spec, spec])


# --- prompts ------------------------------------------------------------------------------------------------


def cities(prefix: str) -> list[str]:
    return [city for city in ("Paris", "Perth", "Oslo") if city.startswith(prefix)]


@prompt(title="Plan a trip", complete={"city": cities})
def plan(
    city: Annotated[str, Field(description="where to")],
    days: Annotated[int, Field(ge=1, le=30)] = 3,
    pace: Literal["slow", "fast"] = "slow",
) -> list[Message]:
    """Plan a trip to a city."""
    return [Message("user", f"{days} {pace} days in {city}"), Message("assistant", "Day 1:")]


async def test_a_prompt_lists_its_arguments_with_descriptions_and_which_are_required():
    listing = await PromptTable([plan]).on_list_prompts(None, types.PaginatedRequestParams())  # type: ignore[arg-type]
    (only,) = listing.prompts
    assert (only.name, only.title, only.description) == ("plan", "Plan a trip", "Plan a trip to a city.")
    assert [(a.name, a.description, a.required) for a in only.arguments] == [
        ("city", "where to", True),
        ("days", None, False),
        ("pace", None, False),
    ]


async def test_prompt_arguments_arrive_as_strings_and_are_converted_and_checked():
    table = PromptTable([plan])
    result = await table.get("plan", {"city": "Oslo", "days": "2", "pace": "fast"})
    messages = [(m.role, m.content.text) for m in result.messages]
    assert messages == [("user", "2 fast days in Oslo"), ("assistant", "Day 1:")]
    assert result.description == "Plan a trip to a city."
    with pytest.raises(InvalidArgument) as caught:
        await table.get("plan", {"days": "40", "pace": "medium", "budget": "low"})
    assert str(caught.value).splitlines() == [
        "Invalid arguments for prompt 'plan':",
        "- city: required argument is missing",
        "- days: Input should be less than or equal to 30",
        "- pace: Input should be 'slow' or 'fast'",
        "- budget: unknown argument; this prompt takes: city, days, pace",
    ]
    with pytest.raises(InvalidArgument, match="Unknown prompt 'nope'; this server has: plan"):
        await table.get("nope", {})


async def test_prompt_arguments_complete_from_literal_choices_and_completers():
    table = PromptTable([plan])
    assert (await complete(table.completer("plan", "pace"), "f")).completion.values == ["fast"]
    assert (await complete(table.completer("plan", "city"), "P")).completion.values == ["Paris", "Perth"]
    assert (await complete(table.completer("plan", "days"), "")).completion.values == []
    with pytest.raises(InvalidArgument, match="takes city, days, pace; got 'weather'"):
        table.completer("plan", "weather")


def test_a_prompt_needs_a_docstring_and_known_completers():
    with pytest.raises(ValueError, match="needs a docstring"):
        prompt(lambda: "")
    with pytest.raises(ValueError, match="no argument 'x'"):

        @prompt(complete={"x": lambda value: []})
        def bare() -> str:
            """Bare."""
            return ""


# --- errors at the boundary ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "error", "uri", "code"),
    [
        (HANDSHAKE, NotFound("gone"), "x://a", -32002),
        (MODERN, NotFound("gone"), "x://a", -32602),
        (HANDSHAKE, NotFound("no such prompt"), None, -32602),  # not about a resource
        (HANDSHAKE, InvalidArgument("bad"), "x://a", -32602),
        (MODERN, DomainError("busy"), None, -32603),
    ],
)
def test_domain_errors_get_the_eras_json_rpc_codes(protocol: str, error: Exception, uri: str | None, code: int):
    translated = protocol_error(SimpleNamespace(protocol_version=protocol), error, uri)
    assert (translated.error.code, translated.error.message) == (code, str(error))
    assert translated.error.data == ({"uri": uri} if uri else None)


# --- the subscription hub -----------------------------------------------------------------------------------


class Outbox:
    """A connection's standalone channel that records what is sent on it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.arrived = anyio.Event()

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: Any = None) -> None:
        self.sent.append((method, dict(params or {}).get("uri")))
        self.arrived.set()

    async def send_raw_request(self, method: str, params: Any, opts: Any = None) -> dict[str, Any]:
        raise NotImplementedError

    async def wait(self, count: int) -> list[tuple[str, Any]]:
        with anyio.fail_after(5):
            while len(self.sent) < count:
                self.arrived = anyio.Event()
                await self.arrived.wait()
        return self.sent


def client() -> tuple[Connection, Outbox]:
    outbox = Outbox()
    return Connection(outbox, protocol_version=HANDSHAKE), outbox


def request_on(connection: Connection) -> ServerSession:
    """The per-request session the SDK builds for each request of a connection."""
    return ServerSession(None, connection)  # type: ignore[arg-type]


async def test_two_clients_subscribed_to_one_uri_both_hear_and_a_closed_one_is_released():
    hub = SubscriptionHub(update_interval=0)
    (first, first_box), (second, second_box) = client(), client()
    async with hub.running():
        await hub.subscribe("x://a", request_on(first))
        await hub.subscribe("x://a", request_on(first))  # a second request of the same client: one subscription
        await hub.subscribe("x://a", request_on(second))
        await hub.subscribe("x://b", request_on(second))
        assert (hub.subscribers("x://a"), hub.subscribers("x://b")) == (2, 1)
        hub.updated("x://a")
        assert await first_box.wait(1) == [("notifications/resources/updated", "x://a")]
        assert await second_box.wait(1) == [("notifications/resources/updated", "x://a")]
        hub.updated("x://b")
        assert (await second_box.wait(2))[-1] == ("notifications/resources/updated", "x://b")
        await first.exit_stack.aclose()  # the client left: its subscriptions go with it
        assert (hub.subscribers("x://a"), hub.subscribers("x://b")) == (1, 1)
        await hub.unsubscribe("x://a", request_on(second))
        assert hub.subscribers("x://a") == 0
        hub.updated("x://a")
        await anyio.sleep(0.05)
    assert len(first_box.sent) == 1 and len(second_box.sent) == 2


async def test_only_clients_that_listed_hear_list_changes_and_a_burst_is_one():
    hub = SubscriptionHub(list_changed_delay=0.05)
    (lister, lister_box), (other, other_box) = client(), client()
    async with hub.running():
        await hub.subscribe("x://a", request_on(other))
        hub.want_list_changes(request_on(lister))
        for _ in range(5):
            hub.list_changed()
        assert await lister_box.wait(1) == [("notifications/resources/list_changed", None)]
        await anyio.sleep(0.15)
    assert len(lister_box.sent) == 1 and other_box.sent == []


async def test_updated_from_a_foreign_thread_is_delivered_and_rate_limited():
    hub = SubscriptionHub(update_interval=0.2)
    connection, box = client()
    async with hub.running():
        await hub.subscribe("x://a", request_on(connection))
        burst = threading.Thread(target=lambda: [hub.updated("x://a") for _ in range(20)])
        burst.start()
        burst.join()
        sent = await box.wait(2)  # the first at once, then one more for the rest of the burst
        await anyio.sleep(0.35)
    assert sent == [("notifications/resources/updated", "x://a")] * 2 and len(box.sent) == 2


def test_updated_before_or_after_running_does_nothing_and_never_blocks():
    hub = SubscriptionHub()
    hub.updated("x://a")
    hub.list_changed()

    async def main() -> None:
        async with hub.running():
            pass

    anyio.run(main)
    thread = threading.Thread(target=hub.updated, args=("x://a",))
    thread.start()
    thread.join(1)
    assert not thread.is_alive()


class Limited(Watcher):
    """Watches at most two URIs; records what it was asked to follow."""

    def __init__(self) -> None:
        self.followed: list[set[str]] = []
        self.lists: list[bool] = []

    def check(self, uri: str) -> str:
        if uri.startswith("bad:"):
            raise InvalidArgument(f"{uri} is bad")
        return uri.upper()

    async def follow(self, subscribed: Mapping[str, Any]) -> None:
        self.followed.append(set(subscribed.values()))
        if len(subscribed) > 2:
            raise DomainError("over the limit of 2")

    def follow_lists(self, wanted: bool) -> None:
        self.lists.append(wanted)


async def test_a_watcher_refuses_uris_and_changes_and_the_hub_undoes_a_refused_one():
    watcher = Limited()
    hub = SubscriptionHub(watcher)
    connection, _ = client()
    async with hub.running():
        with pytest.raises(InvalidArgument, match="bad:x is bad"):
            await hub.subscribe("bad:x", request_on(connection))
        await hub.subscribe("x://a", request_on(connection))
        await hub.subscribe("x://b", request_on(connection))
        with pytest.raises(DomainError, match="over the limit"):
            await hub.subscribe("x://c", request_on(connection))
        assert watcher.followed == [{"X://A"}, {"X://A", "X://B"}, {"X://A", "X://B", "X://C"}, {"X://A", "X://B"}]
        assert (hub.subscribers("x://b"), hub.subscribers("x://c")) == (1, 0)
        hub.want_list_changes(request_on(connection))
        await connection.exit_stack.aclose()
    assert watcher.followed[-1] == set() and watcher.lists == [True, False]


async def test_each_client_has_its_own_limit():
    hub = SubscriptionHub(max_subscriptions=2)
    (one, _), (two, _) = client(), client()
    await hub.subscribe("x://a", request_on(one))
    await hub.subscribe("x://b", request_on(one))
    with pytest.raises(DomainError, match="2 resources are subscribed already"):
        await hub.subscribe("x://c", request_on(one))
    await hub.subscribe("x://c", request_on(two))


# --- two clients of one server, as over HTTP ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # resources/subscribe
async def test_two_sdk_clients_of_one_server_get_only_their_own_notifications():
    service = notes_server.create(Config(argparse.Namespace(), {}))
    server = build_server("notes", service)
    assert service.resources is not None and service.resources.hub is not None
    hub = service.resources.hub
    heard: dict[str, list[str]] = {"one": [], "two": []}

    async with AsyncExitStack() as stack:
        state = await stack.enter_async_context(service.running())
        group = await stack.enter_async_context(anyio.create_task_group())
        sessions: dict[str, ClientSession] = {}
        for name in heard:
            client_streams, server_streams = await stack.enter_async_context(create_client_server_memory_streams())
            group.start_soon(lambda s=server_streams: serve_dual_era_loop(server, *s, lifespan_state=state))

            async def handler(message: Any, name: str = name) -> None:
                if isinstance(message, types.ResourceUpdatedNotification):
                    heard[name].append(message.params.uri)

            session = ClientSession(*client_streams, message_handler=handler)
            sessions[name] = await stack.enter_async_context(session)
            await sessions[name].initialize()
        welcome, other = notes_server.note_uri("welcome"), notes_server.note_uri("other")
        await sessions["one"].subscribe_resource(welcome)
        await sessions["two"].subscribe_resource(other)
        assert hub.subscribers(welcome) == hub.subscribers(other) == 1
        await sessions["one"].call_tool("write_note", {"name": "other", "text": "2"})
        await sessions["two"].call_tool("write_note", {"name": "welcome", "text": "1"})
        with anyio.fail_after(5):
            while not (heard["one"] and heard["two"]):
                await anyio.sleep(0.01)
        assert heard == {"one": [welcome], "two": [other]}
        group.cancel_scope.cancel()
    assert hub.subscribers(welcome) == hub.subscribers(other) == 0  # both connections ended: released
