"""Bounded reads: pages within the text budget, cursors bound to their query, every entity and relation once."""

from __future__ import annotations

import json
import time

import pytest
from deskmcp.servers.memory import api
from deskmcp.servers.memory.errors import InvalidInput
from deskmcp.servers.memory.pages import DEFAULT_BUDGET, encode_cursor, query_key
from deskmcp.servers.memory.store import now
from memory_helpers import entity, new_store, reference_text, relation


@pytest.fixture
def store(tmp_path):
    store = new_store(tmp_path)
    yield store
    store.close()


def fill_graph(store, count: int, observations: int = 3) -> None:
    for start in range(0, count, 500):
        batch = [
            entity(
                f"entity {i:05}",
                "thing",
                *(f"fact {j} about entity number {i} " + "x" * 40 for j in range(observations)),
            )
            for i in range(start, min(count, start + 500))
        ]
        api.create_entities(store, batch)
    for start in range(0, count, 500):
        api.create_relations(
            store,
            [
                relation(f"entity {i:05}", f"entity {(i * 7 + 3) % count:05}")
                for i in range(start, min(count, start + 500))
            ],
        )


def every_page(call, **arguments):
    """Follow nextCursor to the end; every page must be the reference's JSON text of its structured content."""
    pages, cursor = [], None
    while True:
        reply = call(**arguments, cursor=cursor) if cursor else call(**arguments)
        assert reply.text == reference_text(reply.structured)
        pages.append(reply.structured)
        cursor = reply.structured.get("nextCursor")
        if cursor is None:
            return pages
        assert len(pages) < 1000


def test_a_graph_that_fits_is_the_reference_shape_exactly(store):
    fill_graph(store, 20)
    reply = api.read_graph(store)
    assert set(reply.structured) == {"entities", "relations"}
    assert len(reply.structured["entities"]) == 20 and len(reply.structured["relations"]) == 20


def test_a_large_graph_comes_in_pages_within_the_budget_each_entity_and_relation_once(store):
    fill_graph(store, 1500)
    pages = every_page(lambda **kw: api.read_graph(store, **kw))
    assert len(pages) > 2
    for page in pages[:-1]:
        assert len(api.graph.dumps(page)) <= DEFAULT_BUDGET
        assert page["totalEntities"] == 1500 and page["totalRelations"] == 1500
        assert "call read_graph again" in page["note"] and page["nextCursor"] in page["note"]
    names = [item["name"] for page in pages for item in page["entities"]]
    assert names == [f"entity {i:05}" for i in range(1500)]
    relations = [json.dumps(item, sort_keys=True) for page in pages for item in page["relations"]]
    assert len(relations) == len(set(relations)) == 1500


def test_limit_and_totals(store):
    fill_graph(store, 30)
    first = api.read_graph(store, limit=7).structured
    assert len(first["entities"]) == 7 and first["totalEntities"] == 30 and "nextCursor" in first
    last = api.read_graph(store, limit=30).structured
    assert len(last["entities"]) == 30 and "nextCursor" not in last and last["totalEntities"] == 30
    pages = every_page(lambda **kw: api.read_graph(store, limit=8, **kw))
    assert [len(page["entities"]) for page in pages] == [8, 8, 8, 6]


def test_an_entity_bigger_than_the_budget_continues_on_the_next_page(store):
    api.create_entities(
        store, [entity("small"), entity("Hub", "person", *(f"observation {i:04} " + "y" * 80 for i in range(1000)))]
    )
    later = [f"observation {i:04} " + "y" * 80 for i in range(1000, 2000)]
    api.add_observations(store, [{"entityName": "Hub", "contents": later}])
    api.create_entities(store, [entity("after")])
    api.create_relations(store, [relation("Hub", "small"), relation("after", "Hub")])
    pages = every_page(lambda **kw: api.read_graph(store, **kw))
    hub_parts = [item for page in pages for item in page["entities"] if item["name"] == "Hub"]
    assert len(hub_parts) > 2
    assert [o for part in hub_parts for o in part["observations"]] == [
        f"observation {i:04} " + "y" * 80 for i in range(2000)
    ]
    assert any("'Hub' continues on the next page" in page.get("note", "") for page in pages)
    assert sum(len(page["relations"]) for page in pages) == 2


@pytest.mark.parametrize("budget", [1, 200, 1000])
def test_every_page_makes_progress_however_small_the_budget(store, budget):
    fill_graph(store, 12, observations=2)
    pages = every_page(lambda **kw: api.read_graph(store, **kw, budget=budget))
    observations = [o for page in pages for item in page["entities"] for o in item["observations"]]
    assert len(observations) == 24
    assert len({item["name"] for page in pages for item in page["entities"]}) == 12


def test_search_pages_keep_their_mode_and_list_each_relation_once(store):
    fill_graph(store, 800)
    pages = every_page(lambda **kw: api.search_nodes(store, "fact about", **kw, budget=20_000))
    assert len(pages) > 3
    names = [item["name"] for page in pages for item in page["entities"]]
    assert len(names) == len(set(names)) == 800 == pages[0]["totalEntities"]
    relations = [json.dumps(item, sort_keys=True) for page in pages for item in page["relations"]]
    assert len(relations) == len(set(relations)) == 800


def test_recency_pages_hold_each_entity_once_and_each_relation_with_its_end_listed_first(store):
    fill_graph(store, 300)
    time.sleep(0.01)
    since = now()
    touched = [f"entity {i:05}" for i in range(0, 300, 7)]
    api.add_observations(store, [{"entityName": name, "contents": ["touched"]} for name in touched])
    near_touched = [i for i in range(300) if i % 7 == 0 or (i * 7 + 3) % 300 % 7 == 0]  # fill_graph's relations
    for window, entities, relations in (({}, 300, 300), ({"since": since}, len(touched), len(near_touched))):
        pages = every_page(lambda window=window, **kw: api.search_nodes(store, "", **kw, **window, budget=3000))
        names = [item["name"] for page in pages for item in page["entities"]]
        assert names[: len(touched)] == touched[::-1]  # the latest change first (then the newest entity)
        assert len(names) == len(set(names)) == entities == pages[0]["totalEntities"]
        place = {name: index for index, name in enumerate(names)}
        listed = []
        for page in pages:
            shown = {item["name"] for item in page["entities"]}
            for item in page["relations"]:
                assert min((end for end in (item["from"], item["to"]) if end in place), key=place.get) in shown
                listed.append(json.dumps(item, sort_keys=True))
        assert len(listed) == len(set(listed)) == relations


def test_open_nodes_pages(store):
    fill_graph(store, 50)
    wanted = [f"entity {i:05}" for i in range(49, -1, -1)]
    pages = every_page(lambda **kw: api.open_nodes(store, wanted, limit=20, **kw))
    assert [item["name"] for page in pages for item in page["entities"]] == wanted[::-1]  # oldest first


def test_page_text_is_the_reference_json_whatever_the_strings(store):
    odd = 'ä \u2028 "q" \\ \t \x01 😀'
    api.create_entities(store, [entity(f"{odd} {i}", odd, *[f"{odd} {j}" for j in range(i % 3)]) for i in range(40)])
    api.create_relations(store, [relation(f"{odd} {i}", f"{odd} {i * 7 % 40}", odd) for i in range(40)])
    for call in (
        lambda **kw: api.read_graph(store, **kw, budget=2000),
        lambda **kw: api.search_nodes(store, "q", **kw, budget=2000),
        lambda **kw: api.open_nodes(store, [f"{odd} 2", "nobody"], **kw, budget=150),
    ):
        assert len(every_page(call)) > 1


def test_a_cursor_only_works_for_the_query_it_came_from(store):
    fill_graph(store, 30)
    graph_cursor = api.read_graph(store, limit=5).structured["nextCursor"]
    search_cursor = api.search_nodes(store, "fact", limit=5).structured["nextCursor"]
    with pytest.raises(InvalidInput, match="different query"):
        api.search_nodes(store, "fact", cursor=graph_cursor)
    with pytest.raises(InvalidInput, match="different query"):
        api.search_nodes(store, "entity", cursor=search_cursor)
    with pytest.raises(InvalidInput, match="different query"):
        api.search_nodes(store, "fact", since="2000-01-01", cursor=search_cursor)
    with pytest.raises(InvalidInput, match="different query"):
        api.open_nodes(store, ["entity 00001"], cursor=search_cursor)
    other_project = new_store(store.path.parent, "other")
    with pytest.raises(InvalidInput, match="different query"):
        api.read_graph(other_project, cursor=graph_cursor)
    other_project.close()
    forged = encode_cursor(query_key("read_graph", store.project), {"id": 2**63, "part": 0})  # past SQLite's integers
    for bad in ("", "not a cursor", graph_cursor[:-3], "e30", "A" * 5000, graph_cursor + "x", forged):
        with pytest.raises(InvalidInput, match="not one this server gave"):
            api.read_graph(store, cursor=bad)
    with pytest.raises(InvalidInput, match="cursor must be a string"):
        api.read_graph(store, cursor=5)
    assert api.search_nodes(store, "fact", limit=5, cursor=search_cursor).structured["entities"]


def test_projects_share_a_file_and_nothing_else(tmp_path):
    work, home = new_store(tmp_path, "work"), new_store(tmp_path, "home")
    api.create_entities(work, [entity("Alice", "colleague", "reviews code")])
    api.create_entities(home, [entity("Alice", "neighbour", "has a cat")])
    api.create_relations(home, [relation("Alice", "Alice", "is")])
    api.memory(work, "create", path="/memories/plan.md", file_text="ship it")
    assert api.open_nodes(work, ["Alice"]).structured == {
        "entities": [entity("Alice", "colleague", "reviews code")],
        "relations": [],
    }
    assert api.search_nodes(home, "code").structured["entities"] == []
    assert api.search_nodes(home, "").structured["entities"] == [entity("Alice", "neighbour", "has a cat")]
    assert api.search_memory(home, "reviews").structured["total"] == 0
    with pytest.raises(api.notes.NotFound):
        api.memory(home, "view", path="/memories/plan.md")
    api.delete_entities(home, ["Alice"])
    assert api.read_graph(work).structured["entities"] == [entity("Alice", "colleague", "reviews code")]
    assert api.store_info(work)["projects"] == ["home", "work"]
    work.close()
    home.close()
