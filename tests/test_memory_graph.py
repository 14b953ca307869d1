"""The memory server's graph tools as plain functions: the reference's shapes, partial success, rename and merge,
save/search_memory, timestamps, search quality, and errors that name the offending item."""

from __future__ import annotations

import json
import time

import pytest
from deskmcp.servers.memory import api, graph, inputs
from deskmcp.servers.memory.errors import Conflict, InvalidInput, NotFound
from memory_helpers import entity, new_store, reference_text, relation


@pytest.fixture
def store(tmp_path):
    store = new_store(tmp_path)
    yield store
    store.close()


def names_of(reply: api.Reply) -> list[str]:
    return [item["name"] for item in reply.structured["entities"]]


# --- the reference's shapes -----------------------------------------------------------------------------------


def test_create_entities_returns_what_was_made_in_the_reference_shapes(store):
    made = [entity("Alice", "person", "likes tea"), entity("Acme", "company")]
    reply = api.create_entities(store, made)
    assert reply.structured == {"entities": made}
    assert reply.text == reference_text(made)
    assert reply.note is None


def test_create_entities_skips_existing_and_repeated_names_and_says_so(store):
    api.create_entities(store, [entity("Alice", "person", "likes tea")])
    reply = api.create_entities(
        store, [entity("Alice", "robot", "new"), entity("Bob", "person"), entity("Bob", "person", "twin")]
    )
    assert reply.structured == {"entities": [entity("Bob", "person")]}
    assert reply.text == reference_text([entity("Bob", "person")])
    assert "'Alice'" in reply.note and "'Bob'" in reply.note and "add_observations" in reply.note
    alice = api.open_nodes(store, ["Alice"]).structured["entities"][0]
    assert alice == entity("Alice", "person", "likes tea")  # untouched


def test_create_entities_drops_repeated_observations(store):
    reply = api.create_entities(store, [entity("A", "t", "x", "y", "x")])
    assert reply.structured["entities"][0]["observations"] == ["x", "y"]


def test_create_relations_needs_both_ends_and_makes_nothing_otherwise(store):
    api.create_entities(store, [entity("Alice"), entity("Bob")])
    with pytest.raises(NotFound) as caught:
        api.create_relations(store, [relation("Alice", "Bob"), relation("Alice", "Carol"), relation("Dan", "Bob")])
    assert (
        "'Carol'" in str(caught.value) and "'Dan'" in str(caught.value) and "no relation was made" in str(caught.value)
    )
    assert api.read_graph(store).structured["relations"] == []


def test_create_relations_skips_existing_ones(store):
    api.create_entities(store, [entity("Alice"), entity("Bob")])
    first = api.create_relations(store, [relation("Alice", "Bob"), relation("Alice", "Bob")])
    assert first.structured == {"relations": [relation("Alice", "Bob")]}
    assert first.text == reference_text([relation("Alice", "Bob")])
    again = api.create_relations(store, [relation("Alice", "Bob"), relation("Bob", "Alice")])
    assert again.structured == {"relations": [relation("Bob", "Alice")]}
    assert "'Alice' knows 'Bob'" in again.note


def test_add_observations_reports_per_item_and_refuses_unknown_entities_whole(store):
    api.create_entities(store, [entity("Alice", "person", "likes tea")])
    reply = api.add_observations(store, [{"entityName": "Alice", "contents": ["likes tea", "plays go", "plays go"]}])
    expected = [{"entityName": "Alice", "addedObservations": ["plays go"]}]
    assert reply.structured == {"results": expected}
    assert reply.text == reference_text(expected)
    with pytest.raises(NotFound) as caught:
        api.add_observations(
            store, [{"entityName": "Alice", "contents": ["new"]}, {"entityName": "alice", "contents": ["x"]}]
        )
    assert "'alice' -> 'Alice'" in str(caught.value)  # a suggestion that differs only by case
    assert "new" not in api.open_nodes(store, ["Alice"]).structured["entities"][0]["observations"]


def test_unknown_names_suggest_the_names_that_differ_only_by_ascii_case(tmp_path):
    store, other = new_store(tmp_path), new_store(tmp_path, "other")
    names = ['Say "Hi" NEAR me', 'say "hi" near ME', "o'Neil AND *", "Émile Zola", "ALICE smith", "alice Smith x"]
    api.create_entities(store, [entity(name) for name in names])
    api.create_entities(other, [entity("alice smith")])

    def hints(name: str) -> str:
        with pytest.raises(NotFound) as caught:
            api.open_nodes(store, [name])
        return str(caught.value)

    both = """'SAY "HI" near me' -> 'Say "Hi" NEAR me'; 'SAY "HI" near me' -> 'say "hi" near ME'"""
    assert both in hints('SAY "HI" near me')  # every twin, in name order; FTS syntax is just text
    assert '"O\'NEIL and *" -> "o\'Neil AND *"' in hints("O'NEIL and *")
    assert "'alice smith' -> 'ALICE smith'?" in hints("alice smith")  # not 'alice Smith x', nor the other project's
    assert "did you mean" not in hints("émile zola")  # NOCASE folds ASCII letters only
    assert "did you mean" not in hints("Smith")
    store.close()
    other.close()


@pytest.mark.parametrize(
    ("function", "argument", "message"),
    [
        (api.delete_entities, ["Ghost"], "Entities deleted successfully"),
        (
            api.delete_observations,
            [{"entityName": "Ghost", "observations": ["x"]}],
            "Observations deleted successfully",
        ),
        (api.delete_relations, [relation("Ghost", "Other")], "Relations deleted successfully"),
    ],
)
def test_deletes_are_idempotent_in_the_reference_shape_and_note_what_was_not_there(store, function, argument, message):
    reply = function(store, argument)
    assert reply.text == message
    assert reply.structured == {"success": True, "message": message}
    assert "Ghost" in reply.note


def test_the_notes_of_skipped_items_quote_each_name_once(store):
    api.create_entities(store, [entity("A", "t", "x"), entity("'quoted")])
    created = api.create_entities(store, [entity("'quoted")])
    assert created.note.startswith('Skipped 1 that already exist (or repeat a name in this call): "\'quoted". Use')
    deleted = api.delete_entities(store, ["'quoted", "'ghost"])
    assert deleted.note == 'Not found, so nothing to delete: "\'ghost".'
    unknown = api.delete_observations(
        store, [{"entityName": "Ghost", "observations": ["x"]}, {"entityName": "A", "observations": ["y"]}]
    )
    assert unknown.note == "Not found, so nothing to delete: entity 'Ghost', 'y' on 'A'."
    relations = api.delete_relations(store, [relation("A", "'quoted")])
    assert relations.note == "Not found, so nothing to delete: 'A' knows \"'quoted\"."


def test_delete_entities_takes_their_relations_and_observations(store):
    api.create_entities(store, [entity("A", "t", "a1"), entity("B", "t", "b1"), entity("C")])
    api.create_relations(store, [relation("A", "B"), relation("B", "C"), relation("C", "A")])
    reply = api.delete_entities(store, ["B"])
    assert reply.note is None
    graph_now = api.read_graph(store).structured
    assert names_of(api.read_graph(store)) == ["A", "C"]
    assert graph_now["relations"] == [relation("C", "A")]
    assert api.search_memory(store, "b1").structured["total"] == 0


def test_delete_observations_and_relations(store):
    api.create_entities(store, [entity("A", "t", "keep", "drop"), entity("B")])
    api.create_relations(store, [relation("A", "B"), relation("A", "B", "likes")])
    api.delete_observations(store, [{"entityName": "A", "observations": ["drop", "never there"]}])
    api.delete_relations(store, [relation("A", "B", "likes")])
    everything = api.read_graph(store).structured
    assert everything["entities"][0]["observations"] == ["keep"]
    assert everything["relations"] == [relation("A", "B")]


def test_open_nodes_includes_relations_with_either_end_and_lists_unknown_names(store):
    api.create_entities(store, [entity("A"), entity("B"), entity("C")])
    api.create_relations(store, [relation("A", "B"), relation("C", "A"), relation("B", "C")])
    reply = api.open_nodes(store, ["A", "Nobody"])
    assert names_of(reply) == ["A"]
    assert reply.structured["relations"] == [relation("A", "B"), relation("C", "A")]
    assert reply.structured["notFound"] == ["Nobody"]
    assert json.loads(reply.text) == reply.structured
    with pytest.raises(NotFound, match="'Nobody'"):
        api.open_nodes(store, ["Nobody"])


def test_a_small_graph_reads_back_exactly_as_the_reference_writes_it(store):
    api.create_entities(store, [entity("A", "t", 'ä ö \u2028 "quoted" \\ \n tab\t'), entity("B")])
    api.create_relations(store, [relation("A", "B")])
    reply = api.read_graph(store)
    expected = {
        "entities": [entity("A", "t", 'ä ö \u2028 "quoted" \\ \n tab\t'), entity("B")],
        "relations": [relation("A", "B")],
    }
    assert reply.structured == expected
    assert reply.text == reference_text(expected)


# --- hygiene: rename, merge, timestamps -----------------------------------------------------------------------


def test_rename_carries_relations_and_refuses_a_taken_name(store):
    api.create_entities(store, [entity("Bob", "person", "x"), entity("Acme"), entity("Robert")])
    api.create_relations(store, [relation("Bob", "Acme", "works_at")])
    reply = api.rename_entity(store, "Bob", "Bobby")
    assert reply.structured == {"oldName": "Bob", "newName": "Bobby", "relations": 1}
    assert api.open_nodes(store, ["Acme"]).structured["relations"] == [relation("Bobby", "Acme", "works_at")]
    assert api.search_nodes(store, "bobby").structured["entities"][0]["name"] == "Bobby"
    assert api.search_memory(store, "bobby").structured["total"] == 1  # the memory index follows the name
    with pytest.raises(Conflict, match="merge_entities"):
        api.rename_entity(store, "Bobby", "Robert")
    with pytest.raises(NotFound, match="'Bob'"):
        api.rename_entity(store, "Bob", "Zed")


def test_merge_moves_observations_and_relations_without_repeats(store):
    api.create_entities(
        store,
        [
            entity("Bob", "person", "likes tea", "born 1990"),
            entity("Robert", "person", "likes tea"),
            entity("Acme"),
            entity("Zoe"),
        ],
    )
    api.create_relations(
        store,
        [
            relation("Bob", "Acme", "works_at"),
            relation("Robert", "Acme", "works_at"),
            relation("Zoe", "Bob"),
            relation("Bob", "Robert", "is"),
        ],
    )
    reply = api.merge_entities(store, ["Bob"], "Robert")
    assert reply.structured == {
        "target": "Robert",
        "merged": ["Bob"],
        "addedObservations": 1,
        "movedRelations": 1,
        "droppedRelations": 2,  # the repeated works_at, and Bob-is-Robert which would link Robert to itself
    }
    robert = api.open_nodes(store, ["Robert"]).structured
    assert robert["entities"] == [entity("Robert", "person", "likes tea", "born 1990")]
    assert sorted(map(json.dumps, robert["relations"])) == sorted(
        map(json.dumps, [relation("Robert", "Acme", "works_at"), relation("Zoe", "Robert")])
    )
    with pytest.raises(NotFound):
        api.open_nodes(store, ["Bob"])
    with pytest.raises(InvalidInput, match="also listed"):
        api.merge_entities(store, ["Robert"], "Robert")
    with pytest.raises(NotFound, match="'Nobody'"):
        api.merge_entities(store, ["Nobody"], "Robert")


def test_every_entity_and_observation_has_timestamps(store):
    api.create_entities(store, [entity("A", "t", "first")])
    time.sleep(0.01)
    api.add_observations(store, [{"entityName": "A", "contents": ["second"]}])
    with store.read() as tx:
        (stored,) = graph.load_entities(tx, [graph.ids_by_name(tx, ["A"])["A"]]).values()
    first, second = stored.observations
    assert stored.created_at == first.created_at < second.created_at == stored.updated_at
    assert stored.created_at.endswith("Z") and "T" in stored.created_at


# --- save_memory / search_memory --------------------------------------------------------------------------------


def test_save_memory_and_search_memory(store):
    saved = api.save_memory(store, "The user prefers dark mode", tags=["ui", "preferences"]).structured
    assert saved["entity"] == graph.DEFAULT_MEMORY_ENTITY and saved["newEntity"] and not saved["alreadySaved"]
    again = api.save_memory(store, "The user prefers dark mode", tags=["settings"]).structured
    assert again["alreadySaved"] and again["tags"] == ["ui", "preferences", "settings"]
    api.save_memory(store, "Alice's birthday is in May", entity="Alice")
    found = api.search_memory(store, "dark").structured
    assert found["total"] == 1 and found["memories"][0]["text"] == "The user prefers dark mode"
    assert api.search_memory(store, "settings").structured["total"] == 1  # tags are searched
    assert api.search_memory(store, "alice").structured["memories"][0]["entity"] == "Alice"  # entity names too
    assert api.open_nodes(store, ["Alice"]).structured["entities"] == [
        entity("Alice", "memory", "Alice's birthday is in May")
    ]
    recent = api.search_memory(store, "", limit=1).structured
    assert recent["total"] == 2 and recent["memories"][0]["entity"] == "Alice" and "raise limit" in recent["note"]


# --- search ---------------------------------------------------------------------------------------------------


@pytest.fixture
def people(store):
    api.create_entities(
        store,
        [
            entity("Zoë Müller", "person", "drinks café au lait every morning", "lives in Zürich"),
            entity("John Smith", "person", "plays chess on Sundays"),
            entity("Chess Club", "organization", "meets weekly"),
            entity("Johnny", "dog", "a terrier"),
        ],
    )
    return store


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("zoe", "Zoë Müller"),  # accents folded
        ("MULLER", "Zoë Müller"),  # and case
        ("cafe zurich", None),  # two words in two observations: no single row holds both
        ("morning café", "Zoë Müller"),  # any order, one observation
        ("zoe coffee", "Zoë Müller"),  # falls back to any word
        ("john chess", "John Smith"),  # the name's row plus an observation row
        ("joh", {"John Smith", "Johnny"}),  # a prefix
        ("chess", "Chess Club"),  # the name ranks above an observation
        ("ohn", {"John Smith", "Johnny"}),  # the reference's substring test, last resort
        ("person", "Zoë Müller"),  # entity types
    ],
)
def test_search_finds_what_was_meant(people, query, first):
    reply = api.search_nodes(people, query)
    found = names_of(reply)
    if first is None:
        assert "Zoë Müller" in found
    elif isinstance(first, set):
        assert set(found) == first
    else:
        assert found and found[0] == first, found


def test_search_reports_when_it_fell_back_to_any_word(people):
    reply = api.search_nodes(people, "zoe coffee")
    assert "some of them" in reply.structured["note"]
    assert api.search_nodes(people, "xylophone").structured == {"entities": [], "relations": []}


def test_search_treats_fts_syntax_as_text(people):
    for query in ('"', "chess AND", "NEAR(a b)", "*", "john OR", "-chess", "(", "a:b", "'; DROP TABLE entities; --"):
        api.search_nodes(people, query)  # never an FTS syntax error
    assert names_of(api.search_nodes(people, '"chess"'))[0] == "Chess Club"


def test_a_nul_character_in_a_query_or_name_breaks_words_as_a_space_does(store):
    api.create_entities(store, [entity("Tab\x00Key", "t", "one\x00two")])
    api.save_memory(store, "red\x00green")
    assert names_of(api.search_nodes(store, "tab\x00key")) == ["Tab\x00Key"]  # an FTS5 syntax error before
    assert names_of(api.search_nodes(store, "one\x00tw")) == ["Tab\x00Key"]
    assert api.search_memory(store, "red\x00gr").structured["total"] == 1
    with pytest.raises(NotFound) as caught:
        api.open_nodes(store, ["TAB\x00KEY"])
    assert "did you mean: 'TAB\\x00KEY' -> 'Tab\\x00Key'?" in str(caught.value)


def test_empty_query_lists_by_recency_and_since_until_filter(people):
    time.sleep(0.01)
    api.add_observations(people, [{"entityName": "Johnny", "contents": ["barks"]}])
    assert names_of(api.search_nodes(people, ""))[0] == "Johnny"
    assert names_of(api.search_nodes(people, "", since="1m"))[0] == "Johnny"
    assert names_of(api.search_nodes(people, "", since="2099-01-01")) == []
    assert names_of(api.search_nodes(people, "", until="2000-01-01T00:00Z")) == []
    assert len(names_of(api.search_nodes(people, "", since="2000-01-01"))) == 4
    with pytest.raises(InvalidInput, match=r"since.*'yesterday'"):
        api.search_nodes(people, "", since="yesterday")


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: api.create_entities(s, [entity("", "t")]), r"entities\[0\].name is empty"),
        (lambda s: api.create_entities(s, [entity("ok", "t"), entity("   ", "t")]), r"entities\[1\].name is empty"),
        (lambda s: api.create_entities(s, [entity("x" * 501, "t")]), r"entities\[0\].name is 501 characters long"),
        (
            lambda s: api.create_entities(s, [entity("a", "t", "x" * 20_001)]),
            r"entities\[0\].observations\[0\] is 20,001",
        ),
        (
            lambda s: api.create_entities(s, [{"name": 5, "entityType": "t", "observations": []}]),
            "name must be a string, got a number",
        ),
        (lambda s: api.create_entities(s, [{"name": "a", "observations": []}]), "has no 'entityType'"),
        (lambda s: api.create_entities(s, "Alice"), "entities must be an array, got a string"),
        (lambda s: api.create_entities(s, [entity("a\ud800", "t")]), "unpaired surrogate"),
        (lambda s: api.create_entities(s, [entity(f"e{i}") for i in range(1001)]), "at most 1,000"),
        (
            lambda s: api.create_relations(s, [{"from": "a", "to": "b", "relationType": ""}]),
            r"relations\[0\].relationType is empty",
        ),
        (
            lambda s: api.add_observations(s, [{"entityName": "a", "contents": "text"}]),
            r"observations\[0\].contents must be an array",
        ),
        (lambda s: api.search_nodes(s, "x", limit=0), "limit must be from 1"),
        (lambda s: api.search_nodes(s, "x", limit="5"), "limit must be a whole number"),
        (lambda s: api.search_nodes(s, "q" * 1001), "query is 1,001 characters"),
        (lambda s: api.save_memory(s, "x", tags=["a\nb"]), "spans several lines"),
        (lambda s: api.merge_entities(s, [], "a"), "sources is empty"),
    ],
)
def test_bad_input_names_the_offending_item_and_writes_nothing(store, call, message):
    with pytest.raises(InvalidInput, match=message):
        call(store)
    assert api.read_graph(store).structured == {"entities": [], "relations": []}


def test_a_whole_number_float_is_taken_for_an_integer(store):
    assert inputs.limit(10.0) == 10
    api.create_entities(store, [entity("a"), entity("b")])
    assert api.read_graph(store, limit=1.0).structured["totalEntities"] == 2
