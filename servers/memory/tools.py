"""The memory server's tools: the reference's nine with its names, titles, arguments and result shapes, and ours.

Each tool is a one-line adapter over `api`, whose `Reply` carries the reference's exact text and
`structuredContent`; a note of ours (names skipped, what a page left out) follows as a second text block, so the
first stays the reference's JSON. Output schemas are the reference's byte for byte (`additionalProperties: false`
included), the three graph reads' with our optional paging members added. The shared layer does the rest: unknown
arguments ignored (near misses refused), `10.0` taken for 10, strict types, and every `MemoryServerError` (a
`DomainError`) turned into an `isError` result with its message.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, ClassVar, Final, Literal

import mcp.types as types
from deskmcp.servers.memory import api
from deskmcp.servers.memory.store import Store
from deskmcp.shared.tools import READ_ONLY, StructuredResult, ToolRegistry, tool, writes
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

# --- arguments: the reference's names and descriptions ---------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(strict=True)


class EntityIn(_In):
    name: Annotated[str, Field(description="The name of the entity")]
    entityType: Annotated[str, Field(description="The type of the entity")]
    observations: Annotated[list[str], Field(description="An array of observation contents associated with the entity")]


class RelationIn(_In):
    source: Annotated[str, Field(alias="from", description="The name of the entity where the relation starts")]
    to: Annotated[str, Field(description="The name of the entity where the relation ends")]
    relationType: Annotated[str, Field(description="The type of the relation")]


class ObservationsIn(_In):
    entityName: Annotated[str, Field(description="The name of the entity to add the observations to")]
    contents: Annotated[list[str], Field(description="An array of observation contents to add")]


class DeletionIn(_In):
    entityName: Annotated[str, Field(description="The name of the entity containing the observations")]
    observations: Annotated[list[str], Field(description="An array of observations to delete")]


Limit = Annotated[
    int | None,
    Field(ge=1, le=1000, description="Most entities to return (default: as many as fit in about 20,000 tokens)"),
]
Cursor = Annotated[str | None, Field(description="nextCursor from the previous page, to continue")]
Since = Annotated[
    str | None, Field(description="Only what changed at or after this: an ISO date/time or an age (30m, 12h, 7d, 2w)")
]
Until = Annotated[str | None, Field(description="Only what changed before this: an ISO date/time or an age")]

# --- output schemas: the reference's, as its zod schemas come out on the wire ----------------------------------

STRING: Final = {"type": "string"}
INTEGER: Final = {"type": "integer"}
BOOLEAN: Final = {"type": "boolean"}


def _array(items: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    return {"type": "array", "items": items, **({"description": description} if description else {})}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"$schema": "http://json-schema.org/draft-07/schema#", **_object(properties, required)}


def _described(kind: dict[str, Any], description: str) -> dict[str, Any]:
    return {**kind, "description": description}


ENTITY: Final = _object(
    {
        "name": _described(STRING, "The name of the entity"),
        "entityType": _described(STRING, "The type of the entity"),
        "observations": _array(STRING, "An array of observation contents associated with the entity"),
    }
)
RELATION: Final = _object(
    {
        "from": _described(STRING, "The name of the entity where the relation starts"),
        "to": _described(STRING, "The name of the entity where the relation ends"),
        "relationType": _described(STRING, "The type of the relation"),
    }
)
ENTITIES_SCHEMA: Final = _schema({"entities": _array(ENTITY)})
RELATIONS_SCHEMA: Final = _schema({"relations": _array(RELATION)})
RESULTS_SCHEMA: Final = _schema(
    {"results": _array(_object({"entityName": STRING, "addedObservations": _array(STRING)}))}
)
SUCCESS_SCHEMA: Final = _schema({"success": BOOLEAN, "message": STRING})
GRAPH_SCHEMA: Final = _schema(
    {
        "entities": _array(ENTITY),
        "relations": _array(RELATION),
        # deskmcp's additions, present only when a result is paged or cut
        "totalEntities": _described(INTEGER, "Entities in the whole result (when paged)"),
        "totalRelations": _described(INTEGER, "Relations in the whole graph (read_graph, when paged)"),
        "nextCursor": _described(STRING, "Pass as cursor for the next page; absent on the last"),
        "note": _described(STRING, "What was left out and how to get it"),
        "notFound": _array(STRING, "Names asked for that no entity has (open_nodes)"),
    },
    required=["entities", "relations"],
)
RENAMED_SCHEMA: Final = _schema(
    {"oldName": STRING, "newName": STRING, "relations": _described(INTEGER, "Relations that followed the entity")}
)
MERGED_SCHEMA: Final = _schema(
    {
        "target": STRING,
        "merged": _array(STRING),
        "addedObservations": INTEGER,
        "movedRelations": INTEGER,
        "droppedRelations": _described(INTEGER, "Repeats of the target's relations, or links between merged entities"),
    }
)
SAVED_SCHEMA: Final = _schema(
    {
        "entity": STRING,
        "text": STRING,
        "tags": _array(STRING),
        "createdAt": STRING,
        "newEntity": BOOLEAN,
        "alreadySaved": BOOLEAN,
    }
)
MEMORIES_SCHEMA: Final = _schema(
    {
        "memories": _array(_object({"entity": STRING, "text": STRING, "tags": _array(STRING), "createdAt": STRING})),
        "total": INTEGER,
        "note": _described(STRING, "Why the result is partial, and how to get more"),
    },
    required=["memories", "total"],
)


class Replied(StructuredResult):
    """An `api.Reply` as the tool result: its text, its note as a second block, its data as `structuredContent`
    (already in the reference's shape, so it is passed on as it is), under the subclass's `SCHEMA`."""

    SCHEMA: ClassVar[dict[str, Any]] = {}
    _reply: api.Reply = PrivateAttr()

    @classmethod
    def of(cls, reply: api.Reply) -> Replied:
        result = cls()
        result._reply = reply
        return result

    def content_blocks(self) -> list[types.ContentBlock]:
        texts = (self._reply.text, self._reply.note) if self._reply.note else (self._reply.text,)
        return [types.TextContent(type="text", text=text) for text in texts]

    def structured_content(self) -> dict[str, Any]:
        return self._reply.structured or {}

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return copy.deepcopy(cls.SCHEMA)


class Entities(Replied):
    SCHEMA = ENTITIES_SCHEMA


class Relations(Replied):
    SCHEMA = RELATIONS_SCHEMA


class Results(Replied):
    SCHEMA = RESULTS_SCHEMA


class Success(Replied):
    SCHEMA = SUCCESS_SCHEMA


class Graph(Replied):
    SCHEMA = GRAPH_SCHEMA


class Renamed(Replied):
    SCHEMA = RENAMED_SCHEMA


class Merged(Replied):
    SCHEMA = MERGED_SCHEMA


class Saved(Replied):
    SCHEMA = SAVED_SCHEMA


class Memories(Replied):
    SCHEMA = MEMORIES_SCHEMA


# --- the tools -------------------------------------------------------------------------------------------------

CREATES: Final = writes(destructive=False, idempotent=False)
DELETES: Final = writes(destructive=True, idempotent=True)
CHANGES: Final = writes(destructive=True, idempotent=False)


def build_tools(store: Store) -> ToolRegistry:
    @tool(title="Create Entities", annotations=CREATES)
    def create_entities(entities: list[EntityIn]) -> Entities:
        """Create multiple new entities in the knowledge graph. Names that already exist are skipped (the reply
        lists only what was created, with a note naming the rest)."""
        return Entities.of(api.create_entities(store, [e.model_dump() for e in entities]))

    @tool(title="Create Relations", annotations=CREATES)
    def create_relations(relations: list[RelationIn]) -> Relations:
        """Create multiple new relations between entities in the knowledge graph. Relations should be in active
        voice. Both ends must exist; relations that already exist are skipped."""
        return Relations.of(api.create_relations(store, [r.model_dump(by_alias=True) for r in relations]))

    @tool(title="Add Observations", annotations=CREATES)
    def add_observations(observations: list[ObservationsIn]) -> Results:
        """Add new observations to existing entities in the knowledge graph"""
        return Results.of(api.add_observations(store, [o.model_dump() for o in observations]))

    @tool(title="Delete Entities", annotations=DELETES)
    def delete_entities(
        entityNames: Annotated[list[str], Field(description="An array of entity names to delete")],
    ) -> Success:
        """Delete multiple entities and their associated relations from the knowledge graph"""
        return Success.of(api.delete_entities(store, entityNames))

    @tool(title="Delete Observations", annotations=DELETES)
    def delete_observations(deletions: list[DeletionIn]) -> Success:
        """Delete specific observations from entities in the knowledge graph"""
        return Success.of(api.delete_observations(store, [d.model_dump() for d in deletions]))

    @tool(title="Delete Relations", annotations=DELETES)
    def delete_relations(
        relations: Annotated[list[RelationIn], Field(description="An array of relations to delete")],
    ) -> Success:
        """Delete multiple relations from the knowledge graph"""
        return Success.of(api.delete_relations(store, [r.model_dump(by_alias=True) for r in relations]))

    @tool(title="Read Graph", annotations=READ_ONLY)
    def read_graph(limit: Limit = None, cursor: Cursor = None) -> Graph:
        """Read the entire knowledge graph, a page at a time: a large graph comes in pages of about 20,000 tokens
        with totalEntities and a nextCursor to pass back for the next page."""
        return Graph.of(api.read_graph(store, limit, cursor))

    @tool(title="Search Nodes", annotations=READ_ONLY)
    def search_nodes(
        query: Annotated[
            str, Field(description="The search query to match against entity names, types, and observation content")
        ],
        limit: Limit = None,
        cursor: Cursor = None,
        since: Since = None,
        until: Until = None,
    ) -> Graph:
        """Search for nodes in the knowledge graph based on a query. Words match in any order, as prefixes, ignoring
        case and accents; best matches first. An empty query lists entities by most recent change."""
        return Graph.of(api.search_nodes(store, query, limit, cursor, since, until))

    @tool(title="Open Nodes", annotations=READ_ONLY)
    def open_nodes(
        names: Annotated[list[str], Field(description="An array of entity names to retrieve")],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Graph:
        """Open specific nodes in the knowledge graph by their names, with every relation to or from them"""
        return Graph.of(api.open_nodes(store, names, limit, cursor))

    @tool(title="Rename Entity", annotations=CHANGES)
    def rename_entity(
        oldName: Annotated[str, Field(description="The entity's current name")],
        newName: Annotated[str, Field(description="Its new name (not taken by another entity)")],
    ) -> Renamed:
        """Rename an entity; its observations and relations stay with it."""
        return Renamed.of(api.rename_entity(store, oldName, newName))

    @tool(title="Merge Entities", annotations=CHANGES)
    def merge_entities(
        sources: Annotated[list[str], Field(description="Entities to fold into the target; they are deleted")],
        target: Annotated[str, Field(description="The entity that keeps everything")],
    ) -> Merged:
        """Merge duplicate entities into one: the sources' observations (without repeats) and relations move to the
        target, then the sources are deleted."""
        return Merged.of(api.merge_entities(store, sources, target))

    @tool(title="Save Memory", annotations=writes(destructive=False, idempotent=True))
    def save_memory(
        text: Annotated[str, Field(description="What to remember, as one self-contained statement")],
        entity: Annotated[
            str | None, Field(description="Who or what it is about (created if new; default 'Memories')")
        ] = None,
        tags: Annotated[list[str] | None, Field(description="Short labels to find it by")] = None,
    ) -> Saved:
        """Remember one thing. Saving the same text again adds nothing."""
        return Saved.of(api.save_memory(store, text, entity, tags))

    @tool(title="Search Memory", annotations=READ_ONLY)
    def search_memory(
        query: Annotated[str, Field(description="Words to look for in saved memories and their tags")],
        limit: Annotated[int | None, Field(ge=1, le=100, description="Most memories (10)")] = None,
        since: Since = None,
    ) -> Memories:
        """Find saved memories, best match first; an empty query lists the most recent."""
        return Memories.of(api.search_memory(store, query, limit, since))

    @tool(title="Memory Files", annotations=CHANGES)
    def memory(
        command: Literal["view", "create", "str_replace", "insert", "delete", "rename"],
        path: Annotated[str | None, Field(description="A path under /memories")] = None,
        view_range: Annotated[list[int] | None, Field(description="view: [first line, last line or -1]")] = None,
        file_text: Annotated[str | None, Field(description="create: the file's content")] = None,
        old_str: Annotated[str | None, Field(description="str_replace: text occurring exactly once")] = None,
        new_str: Annotated[str | None, Field(description="str_replace: its replacement")] = None,
        insert_line: Annotated[int | None, Field(description="insert: after this line (0: at the top)")] = None,
        insert_text: Annotated[str | None, Field(description="insert: the text to insert")] = None,
        old_path: Annotated[str | None, Field(description="rename: the file or folder to move")] = None,
        new_path: Annotated[str | None, Field(description="rename: where it goes (must not exist)")] = None,
    ) -> str:
        """Files of notes under /memories, with the commands of Claude's memory tool: view (a folder, or a file
        with line numbers), create, str_replace, insert, delete, rename."""
        arguments = {
            "path": path,
            "view_range": view_range,
            "file_text": file_text,
            "old_str": old_str,
            "new_str": new_str,
            "insert_line": insert_line,
            "insert_text": insert_text,
            "old_path": old_path,
            "new_path": new_path,
        }
        return api.memory(store, command, **arguments).text

    return ToolRegistry(
        [
            create_entities,
            create_relations,
            add_observations,
            delete_entities,
            delete_observations,
            delete_relations,
            read_graph,
            search_nodes,
            open_nodes,
            rename_entity,
            merge_entities,
            save_memory,
            search_memory,
            memory,
        ]
    )
