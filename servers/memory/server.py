"""The memory server's MCP tools: one-line adapters over `api`, registered through today's `ToolRegistry`.

Input models give the schemas the reference's argument names; each adapter turns a `Reply` into the wire result
(the reference's text and `structuredContent`, and a second text block for a note). Output models only describe
`structuredContent` for `outputSchema`. Resources, prompts and subscriptions come with the shared layer.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import mcp.types as types
from deskmcp.servers.memory import api
from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store
from deskmcp.shared.tools import READ_ONLY, StructuredResult, ToolRegistry, ToolSpec, tool, writes
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _whole(value: Any) -> Any:
    """Clients send 10.0 for 10."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class _In(BaseModel):
    model_config = ConfigDict(strict=True, populate_by_name=False)  # unknown keys are ignored, as the reference


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
    BeforeValidator(_whole),
    Field(ge=1, le=1000, description="Most entities to return (default: as many as fit in about 20,000 tokens)"),
]
Cursor = Annotated[str | None, Field(description="nextCursor from the previous page, to continue")]
Since = Annotated[
    str | None, Field(description="Only what changed at or after this: an ISO date/time or an age (30m, 12h, 7d, 2w)")
]
Until = Annotated[str | None, Field(description="Only what changed before this: an ISO date/time or an age")]


class EntityOut(BaseModel):
    name: str
    entityType: str
    observations: list[str]


class RelationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    source: str = Field(alias="from")
    to: str
    relationType: str


class EntitiesOut(StructuredResult):
    entities: list[EntityOut]


class RelationsOut(StructuredResult):
    relations: list[RelationOut]


class AddedOut(BaseModel):
    entityName: str
    addedObservations: list[str]


class ResultsOut(StructuredResult):
    results: list[AddedOut]


class SuccessOut(StructuredResult):
    success: bool
    message: str


class GraphOut(StructuredResult):
    entities: list[EntityOut]
    relations: list[RelationOut]
    totalEntities: int | None = Field(None, description="entities in the whole result (when paged)")
    totalRelations: int | None = Field(None, description="relations in the whole graph (read_graph, when paged)")
    nextCursor: str | None = Field(None, description="pass as cursor for the next page; absent on the last")
    note: str | None = Field(None, description="what was left out and how to get it")
    notFound: list[str] | None = Field(None, description="names asked for that no entity has (open_nodes)")


class RenamedOut(StructuredResult):
    oldName: str
    newName: str
    relations: int = Field(description="relations that followed the entity")


class MergedOut(StructuredResult):
    target: str
    merged: list[str]
    addedObservations: int
    movedRelations: int
    droppedRelations: int = Field(description="repeats of the target's relations, or links between merged entities")


class SavedOut(StructuredResult):
    entity: str
    text: str
    tags: list[str]
    createdAt: str
    newEntity: bool
    alreadySaved: bool


class MemoryOut(BaseModel):
    entity: str
    text: str
    tags: list[str]
    createdAt: str


class MemoriesOut(StructuredResult):
    memories: list[MemoryOut]
    total: int
    note: str | None = None


def wire(reply: api.Reply) -> types.CallToolResult:
    content = [types.TextContent(type="text", text=reply.text)]
    if reply.note:
        content.append(types.TextContent(type="text", text=reply.note))
    return types.CallToolResult(content=content, structured_content=reply.structured)


def _spec(function: Any, output: type[StructuredResult] | None, annotations: types.ToolAnnotations) -> ToolSpec:
    spec = tool(function, annotations=annotations)
    return dataclasses.replace(spec, output_model=output)


def build_tools(store: Store) -> ToolRegistry:
    create = writes(destructive=False, idempotent=False)
    delete = writes(destructive=True, idempotent=True)

    def create_entities(entities: list[EntityIn]) -> types.CallToolResult:
        """Create multiple new entities in the knowledge graph. Names that already exist are skipped (the reply
        lists only what was created, with a note naming the rest)."""
        return wire(api.create_entities(store, [e.model_dump() for e in entities]))

    def create_relations(relations: list[RelationIn]) -> types.CallToolResult:
        """Create multiple new relations between entities in the knowledge graph. Relations should be in active
        voice. Both ends must exist; relations that already exist are skipped."""
        return wire(api.create_relations(store, [r.model_dump(by_alias=True) for r in relations]))

    def add_observations(observations: list[ObservationsIn]) -> types.CallToolResult:
        """Add new observations to existing entities in the knowledge graph"""
        return wire(api.add_observations(store, [o.model_dump() for o in observations]))

    def delete_entities(
        entityNames: Annotated[list[str], Field(description="An array of entity names to delete")],
    ) -> types.CallToolResult:
        """Delete multiple entities and their associated relations from the knowledge graph"""
        return wire(api.delete_entities(store, entityNames))

    def delete_observations(deletions: list[DeletionIn]) -> types.CallToolResult:
        """Delete specific observations from entities in the knowledge graph"""
        return wire(api.delete_observations(store, [d.model_dump() for d in deletions]))

    def delete_relations(
        relations: Annotated[list[RelationIn], Field(description="An array of relations to delete")],
    ) -> types.CallToolResult:
        """Delete multiple relations from the knowledge graph"""
        return wire(api.delete_relations(store, [r.model_dump(by_alias=True) for r in relations]))

    def read_graph(limit: Limit = None, cursor: Cursor = None) -> types.CallToolResult:
        """Read the entire knowledge graph, a page at a time: a large graph comes in pages of about 20,000 tokens
        with totalEntities and a nextCursor to pass back for the next page."""
        return wire(api.read_graph(store, limit, cursor))

    def search_nodes(
        query: Annotated[
            str, Field(description="The search query to match against entity names, types, and observation content")
        ],
        limit: Limit = None,
        cursor: Cursor = None,
        since: Since = None,
        until: Until = None,
    ) -> types.CallToolResult:
        """Search for nodes in the knowledge graph based on a query. Words match in any order, as prefixes, ignoring
        case and accents; best matches first. An empty query lists entities by most recent change."""
        return wire(api.search_nodes(store, query, limit, cursor, since, until))

    def open_nodes(
        names: Annotated[list[str], Field(description="An array of entity names to retrieve")],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> types.CallToolResult:
        """Open specific nodes in the knowledge graph by their names, with every relation to or from them"""
        return wire(api.open_nodes(store, names, limit, cursor))

    def rename_entity(
        oldName: Annotated[str, Field(description="The entity's current name")],
        newName: Annotated[str, Field(description="Its new name (not taken by another entity)")],
    ) -> types.CallToolResult:
        """Rename an entity; its observations and relations stay with it."""
        return wire(api.rename_entity(store, oldName, newName))

    def merge_entities(
        sources: Annotated[list[str], Field(description="Entities to fold into the target; they are deleted")],
        target: Annotated[str, Field(description="The entity that keeps everything")],
    ) -> types.CallToolResult:
        """Merge duplicate entities into one: the sources' observations (without repeats) and relations move to the
        target, then the sources are deleted."""
        return wire(api.merge_entities(store, sources, target))

    def save_memory(
        text: Annotated[str, Field(description="What to remember, as one self-contained statement")],
        entity: Annotated[
            str | None, Field(description="Who or what it is about (created if new; default 'Memories')")
        ] = None,
        tags: Annotated[list[str] | None, Field(description="Short labels to find it by")] = None,
    ) -> types.CallToolResult:
        """Remember one thing. Saving the same text again adds nothing."""
        return wire(api.save_memory(store, text, entity, tags))

    def search_memory(
        query: Annotated[str, Field(description="Words to look for in saved memories and their tags")],
        limit: Annotated[
            int | None, BeforeValidator(_whole), Field(ge=1, le=100, description="Most memories (10)")
        ] = None,
        since: Since = None,
    ) -> types.CallToolResult:
        """Find saved memories, best match first; an empty query lists the most recent."""
        return wire(api.search_memory(store, query, limit, since))

    def memory(
        command: Literal["view", "create", "str_replace", "insert", "delete", "rename"],
        path: Annotated[str | None, Field(description="A path under /memories")] = None,
        view_range: Annotated[list[int] | None, Field(description="view: [first line, last line or -1]")] = None,
        file_text: Annotated[str | None, Field(description="create: the file's content")] = None,
        old_str: Annotated[str | None, Field(description="str_replace: text occurring exactly once")] = None,
        new_str: Annotated[str | None, Field(description="str_replace: its replacement")] = None,
        insert_line: Annotated[
            int | None, BeforeValidator(_whole), Field(description="insert: after this line (0: at the top)")
        ] = None,
        insert_text: Annotated[str | None, Field(description="insert: the text to insert")] = None,
        old_path: Annotated[str | None, Field(description="rename: the file or folder to move")] = None,
        new_path: Annotated[str | None, Field(description="rename: where it goes (must not exist)")] = None,
    ) -> types.CallToolResult:
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
        return wire(api.memory(store, command, **arguments))

    return ToolRegistry(
        [
            _spec(create_entities, EntitiesOut, create),
            _spec(create_relations, RelationsOut, create),
            _spec(add_observations, ResultsOut, create),
            _spec(delete_entities, SuccessOut, delete),
            _spec(delete_observations, SuccessOut, delete),
            _spec(delete_relations, SuccessOut, delete),
            _spec(read_graph, GraphOut, READ_ONLY),
            _spec(search_nodes, GraphOut, READ_ONLY),
            _spec(open_nodes, GraphOut, READ_ONLY),
            _spec(rename_entity, RenamedOut, writes(destructive=True, idempotent=False)),
            _spec(merge_entities, MergedOut, writes(destructive=True, idempotent=False)),
            _spec(save_memory, SavedOut, writes(destructive=False, idempotent=True)),
            _spec(search_memory, MemoriesOut, READ_ONLY),
            _spec(memory, None, writes(destructive=True, idempotent=False)),
        ],
        anticipated=(MemoryServerError,),
    )
