"""The allowed roots as opened directories: the configured ones, and each client's narrowing of them.

Each root is opened once and kept open (`RootHandle`); every operation walks from that handle, so a root
renamed or replaced by a symlink later does not move the sandbox. Roots inside other roots are dropped, so
each place has exactly one root to walk from. A path's text is mapped to a root here (`split`), comparing
only the root prefix loosely, as the root's volume compares names (see `paths`).

What a client's roots make of the configured ones is a `RootView`. Over HTTP many clients share one server,
so a view is not global: a request runs with its client's view active (`activate`, a context variable that
worker threads inherit), and code running for no client in particular (watchers, direct callers) sees the
server-wide view, which only `apply_client` changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskmcp.servers.filesystem.paths import (
    HOW_TO_CONFIGURE,
    AccessDenied,
    Flavour,
    check_text,
    expand_home,
    fold_for,
    normalisation_insensitive,
    spelling,
)
from deskmcp.servers.filesystem.uris import client_root_path
from deskmcp.servers.filesystem.walker import (
    Root,
    RootHandle,
    Walk,
    is_within,
    match_root,
    os_error,
    outermost,
    volume_ignores_case,
)
from deskmcp.shared.errors import DomainError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RootView:
    """What one client may use: the roots it offered (None: none) and the effective allow-list."""

    client: tuple[str, ...] | None
    effective: tuple[Root, ...]


class RootSet:
    """Configured roots, the client's roots, and the effective allow-list (their intersection)."""

    def __init__(self, ops: Any, flavour: Flavour, given: Sequence[str | Path], *, strict: bool = True) -> None:
        """`strict`: an unusable configured root raises; otherwise it is left out and listed in `unusable`."""
        self.ops, self.flavour = ops, flavour
        self.unusable: list[str] = []
        opened: list[Root] = []
        for root in given:
            try:
                opened.append(self._open_configured(root))
            except ValueError as exc:
                if strict:
                    raise
                self.unusable.append(str(exc))
        self.configured: tuple[Root, ...] = outermost(tuple(opened))
        self.unnarrowed = RootView(None, self.configured)
        self._server_wide = self.unnarrowed
        self._active: ContextVar[RootView | None] = ContextVar(f"deskmcp-roots-{id(self)}", default=None)

    @property
    def view(self) -> RootView:
        """The view in force here: the active client's, else the server-wide one."""
        view = self._active.get()
        return self._server_wide if view is None else view

    @property
    def effective(self) -> tuple[Root, ...]:
        return self.view.effective

    @property
    def client(self) -> tuple[str, ...] | None:
        return self.view.client

    @contextmanager
    def activate(self, view: RootView | None) -> Iterator[None]:
        """Within the block (and worker threads started in it), `view` is in force; None: the server-wide one."""
        token = self._active.set(view)
        try:
            yield
        finally:
            self._active.reset(token)

    def enter(self, view: RootView) -> None:
        """Put `view` in force for the rest of the current task (a request's), and the threads it starts."""
        self._active.set(view)

    def _open_configured(self, given: str | Path) -> Root:
        text = expand_home(os.fspath(given), self.flavour)
        real = os.path.realpath(os.path.abspath(text))
        try:
            handle = self.ops.open_root(real)
        except OSError as exc:
            msg = f"allowed directory {os.fspath(given)!r} cannot be used: {exc.strerror or exc}"
            raise ValueError(msg) from None
        return self._make_root(real, handle, aliases=(os.path.abspath(text),))

    def _make_root(self, real: str, handle: Any, aliases: Sequence[str] = ()) -> Root:
        fold = fold_for(volume_ignores_case(real), normalisation_insensitive())
        spellings = tuple(dict.fromkeys(spelling(p, fold, self.flavour) for p in (real, *aliases)))
        return Root(Path(real), RootHandle(self.ops, handle), spellings)

    # --- the client's roots ---------------------------------------------------------------------------

    def narrowed(self, uris_or_paths: Sequence[str] | None) -> RootView:
        """The view of a client that offers these roots (it may touch the disk: call it off the event loop).

        None or an empty list (which many hosts send) means the client offers none: the configured roots.
        """
        if not uris_or_paths:
            return self.unnarrowed
        found: list[Root] = []
        for item in uris_or_paths:
            try:
                found.extend(self._client_root(client_root_path(item)))
            except (DomainError, ValueError, OSError) as exc:
                logger.warning("client root %r ignored: %s", item, exc)
        return RootView(tuple(uris_or_paths), outermost(tuple(found)))

    def apply_client(self, uris_or_paths: Sequence[str] | None) -> bool:
        """Make the server-wide view the narrowing by these roots; True when its effective roots changed."""
        view = self.narrowed(uris_or_paths)
        changed = not same_roots(view, self._server_wide)
        self._server_wide = view
        return changed

    def _client_root(self, path: str) -> list[Root]:
        real = os.path.realpath(path)
        given = (os.path.abspath(path),)  # the spelling the client used stays valid (e.g. macOS /tmp -> /private/tmp)
        if not self.configured:  # no configured roots: the client's are the allow-list
            return [self._make_root(real, self.ops.open_root(real), aliases=given)]
        inner = [r for r in self.configured if is_within(Path(real), r.path)]
        if (
            inner
        ):  # the client root is, or contains, configured roots: those (with their spellings) are the intersection
            return inner
        root, parts = self.split(path, self.configured)
        walk = Walk(self.ops, self.flavour, self.configured, root, path)
        try:
            where = walk.run(parts, follow=True, must_exist=True)
            try:
                handle = (
                    self.ops.dup(where.parent) if where.name is None else self.ops.open_dir(where.parent, where.name)
                )
            except OSError as exc:
                raise os_error(exc, path, "open") from None
            return [self._make_root(str(where.path), handle, aliases=given)]
        finally:
            walk.close()

    # --- mapping a path to a root -----------------------------------------------------------------------

    def split(self, path: str, roots: tuple[Root, ...]) -> tuple[Root, list[str]]:
        """The root a path is under and its components below it; relative paths are under the first root."""
        text = expand_home(check_text(path, self.flavour), self.flavour)
        anchor, parts = self.flavour.split(text)
        if not anchor:
            return roots[0], parts
        matched = match_root(roots, anchor, parts, self.flavour)
        if matched is None:
            allowed = ", ".join(str(r.path) for r in roots)
            msg = f"{path!r} is outside the allowed directories ({allowed}); use a path inside one of them"
            raise AccessDenied(msg)
        return matched

    # --- telling the user ---------------------------------------------------------------------------------

    def describe(self) -> str:
        view = self.view
        if view.effective:
            return ", ".join(str(r.path) for r in view.effective)
        if self.configured and view.client is not None:
            configured = ", ".join(str(r.path) for r in self.configured)
            return f"none (the client's roots {list(view.client)} are all outside the configured {configured})"
        return "none"

    def no_roots(self) -> AccessDenied:
        client = self.client
        if self.configured and client is not None:
            msg = (
                f"No allowed directories: the client's roots {list(client)} are all outside the directories "
                f"this server was started with ({', '.join(str(r.path) for r in self.configured)})."
            )
        elif self.unusable:
            msg = f"No allowed directories: {'; '.join(self.unusable)}. {HOW_TO_CONFIGURE}"
        else:
            msg = f"No allowed directories are configured. {HOW_TO_CONFIGURE}"
        return AccessDenied(msg)


def same_roots(one: RootView, other: RootView) -> bool:
    """Whether two views allow the same directories."""
    return [r.path for r in one.effective] == [r.path for r in other.effective]
