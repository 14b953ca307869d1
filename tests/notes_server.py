"""A tiny server for testing the shared resource, subscription and prompt layer: in-memory notes.

Run as `python tests/notes_server.py`; it goes through the same `run_server` as `deskmcp <server>`. What a
real server has, small: static resources (text and blob), a template with completion, prompts with
arguments, and a poller thread (as the memory server watches another process's writes) that notices
changes to the notes and calls `hub.updated(uri)` / `hub.list_changed()` from outside the event loop.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal
from urllib.parse import quote

from deskmcp.shared.app import Config, ServerSpec, Service
from deskmcp.shared.cli import run_server
from deskmcp.shared.errors import NotFound
from deskmcp.shared.prompts import Message, PromptTable, prompt
from deskmcp.shared.resources import ResourceTable, resource, template
from deskmcp.shared.subscriptions import SubscriptionHub
from deskmcp.shared.tools import ToolRegistry, tool
from pydantic import Field

LOGO = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
POLL_SECONDS = 0.02


def note_uri(name: str) -> str:
    return "notes://notes/" + quote(name, safe="")


class Notes:
    """The store: names to texts, with a version that every write bumps (what a poller can see)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[str, str] = {"welcome": "Hello from the notes server."}
        self.version = 0

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._texts)

    def read(self, name: str) -> str:
        with self._lock:
            if name not in self._texts:
                msg = f"no note named {name!r}; notes://index lists them"
                raise NotFound(msg)
            return self._texts[name]

    def write(self, name: str, text: str) -> None:
        with self._lock:
            self._texts[name] = text
            self.version += 1

    def snapshot(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self.version, dict(self._texts)


def poll(notes: Notes, hub: SubscriptionHub, stop: threading.Event) -> None:
    """Compare snapshots; announce each changed note, and the list when names came or went."""
    version, texts = notes.snapshot()
    while not stop.wait(POLL_SECONDS):
        latest, now = notes.snapshot()
        if latest == version:
            continue
        for name in sorted(now):
            if texts.get(name) != now[name]:
                hub.updated(note_uri(name))
        if now.keys() != texts.keys():
            hub.list_changed()
        version, texts = latest, now


def create(config: Config) -> Service:
    notes = Notes()
    hub = SubscriptionHub()

    @resource("notes://index", name="index", mime_type="text/plain")
    def index() -> str:
        """The names of all notes, one a line."""
        return "\n".join(notes.names())

    @resource("notes://logo", name="logo", mime_type="image/png")
    def logo() -> bytes:
        """A picture, served as a blob."""
        return LOGO

    def notes_named(prefix: str) -> list[str]:
        return [name for name in notes.names() if name.startswith(prefix)]

    @template("notes://notes/{name}", name="note", mime_type="text/plain", complete={"name": notes_named})
    def note(name: str) -> str:
        """One note by name."""
        return notes.read(name)

    @prompt(complete={"name": notes_named})
    def summarize(
        name: Annotated[str, Field(description="the note to summarize")],
        style: Literal["brief", "detailed"] = "brief",
        words: Annotated[int, Field(ge=1, le=500, description="most words of the summary")] = 50,
    ) -> list[Message]:
        """Ask for a summary of one note."""
        text = notes.read(name)
        return [
            Message("user", f"Summarize this note ({style}, at most {words} words):\n\n{text}"),
            Message("assistant", "Here is the summary:"),
        ]

    @prompt(in_thread=False)
    def hello() -> str:
        """A prompt without arguments."""
        return "Say hello."

    @tool
    def write_note(name: str, text: str) -> str:
        """Write a note (the poller announces the change)."""
        notes.write(name, text)
        return f"wrote {name}"

    @asynccontextmanager
    async def poller() -> AsyncIterator[None]:
        stop = threading.Event()
        thread = threading.Thread(target=poll, args=(notes, hub, stop), name="notes-poller", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)

    return Service(
        tools=ToolRegistry([write_note]),
        resources=ResourceTable([index, logo], [note], hub=hub),
        prompts=PromptTable([summarize, hello]),
        instructions="notes for testing",
        lifespan=poller,
    )


SPEC = ServerSpec(name="notes", description="Test server for the shared resource and prompt layer.", create=create)

if __name__ == "__main__":
    sys.exit(run_server(SPEC, sys.argv[1:]))
