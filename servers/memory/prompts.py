"""The memory server's prompts: how to use this memory well, and what it holds about a topic.

`use_memory` is the guide a host can put in front of a conversation (the tools' own descriptions say what each
does; this says when and how to use them together). `recall` fills a message with the best matches for a topic,
bounded to about 5,000 tokens so a prompt never floods the context; its topic completes from entity names.
"""

from __future__ import annotations

from typing import Annotated, Final

from deskmcp.servers.memory import api, graph
from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store
from deskmcp.shared.prompts import PromptTable, prompt
from pydantic import Field

RECALL_BUDGET: Final = 20_000  # characters, about 5,000 tokens

GUIDE: Final = """\
You have a persistent memory: a knowledge graph kept by the deskmcp memory server ({holds}). It outlives this \
conversation, and other conversations and apps may read and write it too.

Look before you answer. When the user mentions people, projects, preferences or earlier decisions, search memory \
first:
- search_nodes with a few words (any order; prefixes match; case and accents do not matter; since/until narrow by \
when things changed). An empty query lists what changed most recently.
- open_nodes with exact names shows entities with every relation to or from them.
- Results come in pages of about 20,000 tokens. Follow nextCursor only when you need more; pass limit for fewer.

Record what will matter later, not the conversation itself:
- One entity per person, organisation, project, place or idea, named as the user names it ("Alice Chen", not "the \
user's manager"), with a short lower-case entityType (person, project, place). Search before creating: \
create_entities skips names that already exist.
- Observations are short facts that stand on their own, one per item ("Prefers email to calls", "Moved to Lisbon \
in March 2026"). Add them to an existing entity with add_observations.
- Relations link two entities in active voice: {{"from": "Alice Chen", "to": "Acme", "relationType": "works_at"}}.
- Keep it true: delete_observations for what is no longer so, rename_entity for a better name, merge_entities \
when two entities turn out to be one (their observations and relations move to the one kept).
- For a quick note, save_memory(text, entity?, tags?) and later search_memory(query) are enough.
- Longer notes you keep up to date as documents belong in the memory tool's files under /memories (view, \
create, str_replace, insert, delete, rename).

Never store passwords, keys or other secrets, or anything the user asked you not to keep. When the user asks what \
you remember, search and tell them; when they ask you to forget something, delete it and say so."""


def _holds(store: Store) -> str:
    try:
        info = store.info()
    except MemoryServerError as exc:
        return f"it cannot be read right now: {exc}"
    counts = ((info.entities, "entity", "entities"), (info.observations, "observation", "observations"))
    counts += ((info.relations, "relation", "relations"), (info.notes, "memory file", "memory files"))
    return f"project {info.project!r}: " + ", ".join(f"{n:,} {one if n == 1 else many}" for n, one, many in counts)


def memory_prompts(store: Store) -> PromptTable:
    def names(typed: str) -> list[str]:
        return graph.names_starting(store, typed)

    @prompt(title="Use This Memory Well")
    def use_memory() -> str:
        """How to use this memory well: when to look things up, what to record and how, and how to keep it true."""
        return GUIDE.format(holds=_holds(store))

    @prompt(title="Recall a Topic", complete={"topic": names})
    def recall(
        topic: Annotated[str, Field(description="What to recall: an entity's name or a few words")],
    ) -> str:
        """What memory holds about a topic: the best-matching entities with their observations and relations,
        ready for the model to answer from."""
        reply = api.search_nodes(store, topic, budget=RECALL_BUDGET)
        if not reply.structured or not reply.structured["entities"]:
            return (
                f"What do you remember about {topic!r}? (Your memory has nothing on it yet: search_nodes found no "
                "entity. Say so, and if I tell you something about it worth keeping, record it.)"
            )
        return (
            f"What do you remember about {topic!r}? This is what your memory holds (search_nodes, best match "
            f"first):\n\n```json\n{reply.text}\n```\n\nAnswer from it and say that it comes from memory. If it is "
            "not enough, search_nodes and open_nodes can find more; if any of it is out of date, correct it."
        )

    return PromptTable([use_memory, recall])
