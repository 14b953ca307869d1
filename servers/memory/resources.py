"""The memory server's resources and their subscriptions, registered in the shared resource table and hub.

- `memory://knowledge-graph` (application/json): the reference server's resource, the graph as its JSON, bounded
  as `read_graph` is: a graph bigger than about 20,000 tokens is its first page, and the JSON says so with the
  members a cut `read_graph` reply has (`totalEntities`, `totalRelations`, `nextCursor`, `note`), which the
  reference's readers ignore; the read_graph tool continues from `nextCursor`. The text is always whole JSON.
- `memory://status` (application/json): the store's path, schema and SQLite versions, this project's counts.
- `memory://entities/{name}` (application/json): one entity as `open_nodes` gives it, bounded the same way; the
  name is percent-encoded in the URI and completes from the store.

Only the first two are listed: entities are reached through the template, since a listing of 100,000 entities is
pages a host would fetch whole. So the list never changes and no list change is ever announced.

Subscriptions (both eras, through the shared hub): `ResourceWatcher` keeps a fingerprint of each subscribed
resource, taken when it is subscribed: the project's change counter for the graph (any change to it, on any
page), a digest of the text for the others. After every commit, this process's (the store's `on_commit`) or
another's (`data_version`, polled every 0.5 s while anything is subscribed), the watch thread compares them
and calls `hub.updated(uri)` for each that changed: a write to another project or to the /memories files leaves
the graph and its entities alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from deskmcp.servers.memory import api, graph
from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store
from deskmcp.servers.memory.watch import ChangeWatcher
from deskmcp.shared.resources import ResourceTable, resource, template, template_matcher
from deskmcp.shared.subscriptions import SubscriptionHub, Watcher

GRAPH_URI: Final = "memory://knowledge-graph"
STATUS_URI: Final = "memory://status"
ENTITY_TEMPLATE: Final = "memory://entities/{name}"
JSON: Final = "application/json"
_entity_name = template_matcher(ENTITY_TEMPLATE)


def entity_uri(name: str) -> str:
    return "memory://entities/" + quote(name, safe="")


class ResourceWatcher(Watcher):
    """Announces changes of subscribed resources: fingerprints compared on the watch thread after each commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._prints: dict[str, Any] = {}  # subscribed URI -> its fingerprint when last compared
        self._lock = threading.Lock()
        self.hub = SubscriptionHub(self)
        self.changes = ChangeWatcher(store, self.compare, active=lambda: bool(self._prints))

    def fingerprint(self, uri: str) -> Any:
        """What changes when the resource does; None while it cannot be read (an entity not there yet)."""
        try:
            if uri == GRAPH_URI:
                return self.store.changes()
            if uri == STATUS_URI:
                return hash(api.status_resource(self.store))
            found = _entity_name(uri)
            return None if found is None else hash(api.entity_resource(self.store, found["name"]))
        except MemoryServerError:
            return None

    def check(self, uri: str) -> Any:
        """Every URI the table serves may be subscribed (an entity before it exists too): its fingerprint now."""
        return self.fingerprint(uri)

    async def follow(self, subscribed: Mapping[str, Any]) -> None:
        with self._lock:
            new = subscribed.keys() - self._prints.keys()
            self._prints = {uri: self._prints.get(uri, taken) for uri, taken in subscribed.items()}
        if new:
            self.changes.touched()  # a write between the fingerprint and now is announced, not missed

    def compare(self) -> None:
        """On the watch thread: announce each subscribed resource whose fingerprint moved."""
        with self._lock:
            prints = dict(self._prints)
        for uri, before in prints.items():
            now = self.fingerprint(uri)
            if now == before:
                continue
            with self._lock:
                if uri in self._prints:
                    self._prints[uri] = now
            self.hub.updated(uri)


def memory_resources(store: Store) -> tuple[ResourceTable, ResourceWatcher]:
    """The resource table and the watcher whose `changes` thread runs while the server does."""
    watcher = ResourceWatcher(store)

    @resource(GRAPH_URI, name="knowledge-graph", title="Knowledge Graph", mime_type=JSON)
    def knowledge_graph() -> str:
        """The full knowledge graph with all entities and relations. A graph of more than about 20,000 tokens comes
        as its first page, with totalEntities, nextCursor and a note; the read_graph tool continues from there."""
        return api.graph_resource(store)

    @resource(STATUS_URI, name="status", title="Memory Store Status", mime_type=JSON)
    def status() -> str:
        """Where the memory store is, its schema and SQLite versions, and how many entities, observations,
        relations and memory files this project holds."""
        return api.status_resource(store)

    def names(typed: str) -> list[str]:
        return graph.names_starting(store, typed)

    @template(ENTITY_TEMPLATE, name="entity", title="Entity", mime_type=JSON, complete={"name": names})
    def entity(name: str) -> str:
        """One entity by its exact name (percent-encoded), with its observations and every relation to or from it,
        as open_nodes gives it. The name completes from the store."""
        return api.entity_resource(store, name)

    return ResourceTable([knowledge_graph, status], [entity], hub=watcher.hub), watcher
