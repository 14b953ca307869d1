"""Live resources: subscriptions in both eras, list changes, watch limits, and watchers released when done."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from deskmcp.servers.filesystem import watch
from deskmcp.servers.filesystem.resources import IgnoreRules
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.subscriptions import LiveHub
from deskmcp.servers.filesystem.uris import path_to_uri
from deskmcp.servers.filesystem.watch import TreeState, WatchLimitReached
from hostpipes import deskmcp_command, inotify_watches, next_event, pipe_server, sdk_client, sdk_session
from mcp import MCPError
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="watch counts are read from Linux /proc")
QUIET = 0.6  # seconds without a notification that count as "none came" (a change arrives in under 0.1 s)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = (tmp_path / "root").resolve()
    for relative, text in {"a/one.txt": "one", "b/two.txt": "two", "c/three.txt": "three", "top.txt": "top"}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (tmp_path / "root-evil").mkdir()
    (tmp_path / "root-evil" / "secret.txt").write_text("secret")
    return root


def server(root: Path) -> list[str]:
    return deskmcp_command("filesystem", str(root))


# --- what a change on disk looks like -------------------------------------------------------------------


def write(path: Path) -> str:
    with path.open("a") as handle:
        handle.write(" more")
    return path.read_text()


def truncate(path: Path) -> str:
    path.write_text("")
    return ""


def rename_over(path: Path) -> str:
    """How editors save: a temporary file beside the original, renamed over it."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text("saved by an editor")
    os.replace(temporary, path)
    return "saved by an editor"


CHANGES: list[Callable[[Path], str]] = [write, truncate, rename_over]


class Inbox:
    """Notifications from the handshake-era client's message_handler, waited for with a timeout."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = anyio.Event()

    async def handler(self, message: Any) -> None:
        if not isinstance(message, Exception):
            self.items.append(message)
            self._arrived.set()

    async def next(self, kind: type, timeout: float = 5) -> Any:
        with anyio.fail_after(timeout):
            while True:
                for index, item in enumerate(self.items):
                    if isinstance(item, kind):
                        return self.items.pop(index)
                self._arrived = anyio.Event()
                await self._arrived.wait()

    async def none(self, kind: type, quiet: float = QUIET) -> None:
        await anyio.sleep(quiet)
        assert not [item for item in self.items if isinstance(item, kind)], self.items


def wait_for_watches(pid: int, expected: int, timeout: float = 3) -> int:
    deadline = time.monotonic() + timeout
    while (count := inotify_watches(pid)) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


async def watches_become(pid: int, expected: int) -> int:
    """`wait_for_watches` off the event loop, so the client can keep talking meanwhile."""
    return await anyio.to_thread.run_sync(wait_for_watches, pid, expected)


def child_server_pid(root: Path) -> int:
    """The pid of our child `deskmcp filesystem ROOT` (started by the SDK client, which does not expose it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                parent = int(stat_file.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and os.fsencode(str(root)) in arguments:
            return int(entry)
    raise AssertionError("the server process was not found")


# --- handshake era --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_handshake_subscribe_change_notify_read_unsubscribe(tree: Path) -> None:
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    inbox = Inbox()
    target = tree / "a" / "one.txt"
    uri = path_to_uri(target)
    async with sdk_session(server(tree), message_handler=inbox.handler) as session:
        await session.subscribe_resource(uri)
        for change in CHANGES:
            expected = change(target)
            note = await inbox.next(types.ResourceUpdatedNotification)
            assert note.params.uri == uri, change.__name__
            assert (await session.read_resource(uri)).contents[0].text == expected, change.__name__

        target.unlink()
        assert (await inbox.next(types.ResourceUpdatedNotification)).params.uri == uri
        with pytest.raises(MCPError) as caught:
            await session.read_resource(uri)
        assert caught.value.error.code == -32002
        target.write_text("back again")  # a subscription outlives its file
        assert (await inbox.next(types.ResourceUpdatedNotification)).params.uri == uri

        await anyio.sleep(0.3)
        for index in range(20):  # a burst of writes is coalesced, and the last word comes after the last write
            target.write_text(f"version {index}")
            await anyio.sleep(0.01)
        await inbox.next(types.ResourceUpdatedNotification)
        await anyio.sleep(0.5)
        assert len([i for i in inbox.items if isinstance(i, types.ResourceUpdatedNotification)]) <= 2
        assert (await session.read_resource(uri)).contents[0].text == "version 19"
        inbox.items.clear()

        (tree / "a" / "other.txt").write_text("not subscribed")
        await session.unsubscribe_resource(uri)
        write(target)
        await inbox.none(types.ResourceUpdatedNotification)


@pytest.mark.anyio
async def test_handshake_subscription_survives_its_folder_going_and_coming_back(tree: Path) -> None:
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    inbox = Inbox()
    target = tree / "b" / "two.txt"
    uri = path_to_uri(target)
    async with sdk_session(server(tree), message_handler=inbox.handler) as session:
        await session.subscribe_resource(uri)
        (tree / "b").rename(tree / "b-old")  # the folder moves away: the file is gone from its URI
        assert (await inbox.next(types.ResourceUpdatedNotification)).params.uri == uri
        (tree / "b").mkdir()
        await anyio.sleep(0.2)  # the watch moves back to the recreated folder
        target.write_text("new two")
        assert (await inbox.next(types.ResourceUpdatedNotification)).params.uri == uri
        assert (await session.read_resource(uri)).contents[0].text == "new two"


@pytest.mark.anyio
async def test_handshake_list_changes_for_created_and_deleted_files_only(tree: Path) -> None:
    inbox = Inbox()
    async with sdk_session(server(tree), message_handler=inbox.handler) as session:
        await session.list_resources()  # a client that lists resources is told when the list changes
        with anyio.fail_after(5):  # the tree watch starts in the background: probe until it is up
            while not [i for i in inbox.items if isinstance(i, types.ResourceListChangedNotification)]:
                (tree / f"probe-{time.monotonic_ns()}.txt").write_text("")
                await anyio.sleep(0.3)
        await anyio.sleep(0.4)
        inbox.items.clear()

        rename_over(tree / "a" / "one.txt")  # an editor's save: same files
        write(tree / "c" / "three.txt")
        (tree / ".git").mkdir()
        (tree / ".git" / "index").write_text("ignored")
        await inbox.none(types.ResourceListChangedNotification)

        (tree / "c" / "three.txt").unlink()
        await inbox.next(types.ResourceListChangedNotification)
        (tree / "new").mkdir()
        await inbox.next(types.ResourceListChangedNotification)
        await anyio.sleep(0.1)
        (tree / "new" / "inside.txt").write_text("a new folder is watched as well")
        await inbox.next(types.ResourceListChangedNotification)
        names = [r.name for r in (await session.list_resources()).resources]
        assert "new/inside.txt" in names and "c/three.txt" not in names


@pytest.mark.anyio
async def test_client_roots_narrow_resources_and_a_roots_change_is_a_list_change(tree: Path) -> None:
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    inbox = Inbox()
    offered = [types.Root(uri=path_to_uri(tree / "a"), name="a")]

    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=offered)

    async with sdk_session(server(tree), message_handler=inbox.handler, list_roots_callback=list_roots) as session:
        assert [r.name for r in (await session.list_resources()).resources] == ["one.txt"]
        with pytest.raises(MCPError, match="not under an allowed directory"):
            await session.subscribe_resource(path_to_uri(tree / "b" / "two.txt"))
        offered.append(types.Root(uri=path_to_uri(tree / "b"), name="b"))
        await session.send_roots_list_changed()
        await inbox.next(types.ResourceListChangedNotification)
        assert [r.name for r in (await session.list_resources()).resources] == ["one.txt", "two.txt"]
        await session.subscribe_resource(path_to_uri(tree / "b" / "two.txt"))
        write(tree / "b" / "two.txt")
        assert (await inbox.next(types.ResourceUpdatedNotification)).params.uri == path_to_uri(tree / "b" / "two.txt")


def test_watchers_follow_subscriptions_and_are_released(tree: Path) -> None:
    with pipe_server(server(tree)) as pipe:
        pipe.initialize()
        pid = pipe.process.pid
        assert inotify_watches(pid) == 0
        uris = [path_to_uri(tree / "a" / "one.txt"), path_to_uri(tree / "b" / "two.txt")]
        for uri in uris:
            assert pipe.result("resources/subscribe", {"uri": uri}) == {}
        assert pipe.result("resources/subscribe", {"uri": uris[0]}) == {}  # again: no second watch
        assert wait_for_watches(pid, 2) == 2  # one per folder, not per file or per tree
        pipe.result("resources/unsubscribe", {"uri": uris[0]})
        assert wait_for_watches(pid, 1) == 1
        pipe.result("resources/unsubscribe", {"uri": uris[1]})
        assert wait_for_watches(pid, 0) == 0  # the last subscription ended: nothing watched
        pipe.result("resources/unsubscribe", {"uri": uris[1]})  # unsubscribing twice is fine

        pipe.result("resources/subscribe", {"uri": uris[0]})
        assert wait_for_watches(pid, 1) == 1
        started = time.monotonic()
        assert pipe.close() == 0  # shutdown with a subscription active: released, no hang
        assert time.monotonic() - started < 5


def test_subscriptions_outside_the_roots_or_malformed_are_refused(tree: Path) -> None:
    with pipe_server(server(tree)) as pipe:
        pipe.initialize()
        refused = {}
        for label, uri in {
            "outside": path_to_uri(tree.parent / "root-evil" / "secret.txt"),
            "dotdot": path_to_uri(tree) + "/../root-evil/secret.txt",
            "folder": path_to_uri(tree / "a"),
            "not-file": "https://example.com/feed",
            "no-folder": path_to_uri(tree / "nowhere" / "x.txt"),
        }.items():
            reply = pipe.request("resources/subscribe", {"uri": uri})
            refused[label] = (reply["error"]["code"], reply["error"]["message"])
        assert refused["outside"][0] == -32002 and "not under an allowed directory" in refused["outside"][1]
        assert refused["dotdot"][0] == -32002 and "not under an allowed directory" in refused["dotdot"][1]
        assert refused["folder"] == (
            -32602,
            f"{path_to_uri(tree / 'a')} is a folder; subscribe to files "
            "(list changes are sent to clients that list resources)",
        )
        assert refused["not-file"][0] == -32602 and "not a file:// URI" in refused["not-file"][1]
        assert refused["no-folder"][0] == -32002 and "folder does not exist" in refused["no-folder"][1]
        assert inotify_watches(pipe.process.pid) == 0
        assert pipe.result("resources/read", {"uri": path_to_uri(tree / "top.txt")})["contents"][0]["text"] == "top"


def test_watch_limit_refuses_clearly_and_keeps_serving(tree: Path) -> None:
    with pipe_server(server(tree), env={"DESKMCP_FILESYSTEM_WATCH_LIMIT": "2"}) as pipe:
        pipe.initialize()
        for folder in ("a", "b"):
            pipe.result("resources/subscribe", {"uri": path_to_uri(next((tree / folder).iterdir()))})
        reply = pipe.request("resources/subscribe", {"uri": path_to_uri(tree / "c" / "three.txt")})
        assert reply["error"]["code"] == -32603
        assert "in 3 folders, over the limit of 2" in reply["error"]["message"]
        assert "DESKMCP_FILESYSTEM_WATCH_LIMIT" in reply["error"]["message"]
        assert wait_for_watches(pipe.process.pid, 2) == 2  # the refused one left the others as they were

        pipe.result("resources/list")  # list changes wanted: the tree has 4 folders, 2 may be watched
        deadline = time.monotonic() + 5
        while "watching the first 2 folders" not in pipe.stderr and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "watching the first 2 folders" in pipe.stderr
        assert pipe.result("resources/read", {"uri": path_to_uri(tree / "top.txt")})["contents"][0]["text"] == "top"
        assert pipe.close() == 0


# --- 2026-07-28 -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_modern_listen_change_notify_read_and_release(tree: Path) -> None:
    target = tree / "c" / "three.txt"
    uri = path_to_uri(target)
    async with sdk_client(server(tree)) as client:
        pid = child_server_pid(tree)
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            assert await watches_become(pid, 1) == 1
            for change in CHANGES:
                expected = change(target)
                assert (await next_event(subscription, ResourceUpdated)).uri == uri, change.__name__
                assert (await client.read_resource(uri)).contents[0].text == expected, change.__name__
            target.unlink()
            assert (await next_event(subscription, ResourceUpdated)).uri == uri
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.error.code == -32602
        assert await watches_become(pid, 0) == 0  # the stream ended: its watch is released


@pytest.mark.anyio
async def test_modern_list_changes_reach_only_streams_that_asked(tree: Path) -> None:
    async with sdk_client(server(tree)) as client:
        pid = child_server_pid(tree)
        async with (
            client.listen(resources_list_changed=True) as lists,
            client.listen(resource_subscriptions=[path_to_uri(tree / "top.txt")]) as updates,
        ):
            assert await watches_become(pid, 5) == 5  # root, a, b, c (list changes) + root (top.txt)
            (tree / "b" / "fresh.txt").write_text("new")
            assert isinstance(await next_event(lists, ResourcesListChanged), ResourcesListChanged)
            write(tree / "top.txt")
            assert (await next_event(updates, ResourceUpdated)).uri == path_to_uri(tree / "top.txt")
            with anyio.move_on_after(QUIET) as quiet:
                await next_event(updates, ResourcesListChanged, timeout=QUIET * 2)
            assert quiet.cancelled_caught  # the updates stream did not ask for list changes
        assert await watches_become(pid, 0) == 0


@pytest.mark.anyio
async def test_modern_listen_outside_the_roots_is_refused(tree: Path) -> None:
    async with sdk_client(server(tree)) as client:
        with pytest.raises(MCPError) as caught:
            async with client.listen(resource_subscriptions=[path_to_uri(tree.parent / "root-evil" / "secret.txt")]):
                pass
        assert caught.value.error.code == -32602
        assert "not under an allowed directory" in caught.value.error.message
        assert (await client.read_resource(path_to_uri(tree / "top.txt"))).contents[0].text == "top"


# --- the watcher, without a server ----------------------------------------------------------------------


def test_tree_watch_mode_per_os() -> None:
    assert watch.tree_watch_mode("linux") == "per-directory"
    assert watch.tree_watch_mode("freebsd14") == "per-directory"  # kqueue: a descriptor per file
    assert watch.tree_watch_mode("darwin") == "recursive"
    assert watch.tree_watch_mode("win32") == "recursive"


def test_watch_budget_leaves_most_of_the_os_pool_to_others(tmp_path: Path) -> None:
    limit_file = tmp_path / "max_user_watches"
    limit_file.write_text("8192\n")
    assert watch.os_watch_limit(limit_file) == 8192
    assert watch.os_watch_limit(tmp_path / "missing") is None
    assert watch.default_watch_budget(8192) == 2048
    assert watch.default_watch_budget(1_000_000) == 8192
    assert watch.default_watch_budget(None) == 8192


def test_open_notifier_reports_limits_and_skips_vanished_folders(tmp_path: Path, monkeypatch) -> None:
    notifier = watch.open_notifier([str(tmp_path), str(tmp_path / "gone")], recursive=False)
    assert notifier is not None
    notifier.close()
    assert watch.open_notifier([str(tmp_path / "gone")], recursive=False) is None

    def exhausted(*args: Any) -> None:
        raise OSError("OS file watch limit reached. (Error { kind: MaxFilesWatch, paths: [] })")

    monkeypatch.setattr(watch, "RustNotify", exhausted)
    with pytest.raises(WatchLimitReached, match="limit reached"):
        watch.open_notifier([str(tmp_path)], recursive=False)


@pytest.mark.anyio
async def test_a_failed_notifier_is_reopened(tmp_path: Path, monkeypatch) -> None:
    from watchfiles._rust_notify import WatchfilesRustInternalError

    class Failing:
        def watch(self, *args: Any) -> Any:
            raise WatchfilesRustInternalError("error in underlying watcher: queue overflow")

        def close(self) -> None:
            pass

    monkeypatch.setattr(watch, "RESTART_PAUSE", 0.01)
    batches: list[Any] = []
    thread = watch._NotifierThread(Failing(), [str(tmp_path)], False, batches.append)  # type: ignore[arg-type]
    await anyio.sleep(0.2)  # the thread reopened a real notifier over the folder
    (tmp_path / "new.txt").write_text("x")
    with anyio.fail_after(5):
        while not batches:
            await anyio.sleep(0.02)
    thread.stop()
    await anyio.to_thread.run_sync(thread.join, 2.0)
    assert any(path.endswith("new.txt") for change, path in batches[0])


def test_tree_state_tells_real_list_changes_from_saves(tmp_path: Path) -> None:
    for folder in ("x/y", "x/z", "w", ".git/objects"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "x" / "f.txt").write_text("1")
    state = TreeState(Sandbox([tmp_path]), IgnoreRules(), budget=100, per_directory=True)
    state.rebuild()
    root = tmp_path.resolve()
    assert sorted(state.watch_paths()) == sorted(str(root / p) for p in ("", "w", "x", "x/y", "x/z"))
    rename_over(tmp_path / "x" / "f.txt")
    assert state.refresh([root / "x"]) is False
    (tmp_path / "x" / "g.txt").write_text("2")
    assert state.refresh([root / "x"]) is True
    (tmp_path / "x" / "new" / "deep").mkdir(parents=True)
    assert state.refresh([root / "x"]) is True
    assert str(root / "x" / "new" / "deep") in state.watch_paths()
    (tmp_path / "x" / "z").rmdir()
    assert state.refresh([root / "x"], deleted=[root / "x" / "z"]) is True
    assert str(root / "x" / "z") not in state.watch_paths()

    small = TreeState(Sandbox([tmp_path]), IgnoreRules(), budget=2, per_directory=True)
    small.rebuild()
    assert len(small.watch_paths()) == 2 and small.truncated


def test_tree_state_never_watches_linked_folders(tmp_path: Path) -> None:
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "up").symlink_to(tmp_path)  # a loop, were links walked
    state = TreeState(Sandbox([tmp_path]), IgnoreRules(), budget=100, per_directory=True)
    state.rebuild()
    root = tmp_path.resolve()
    assert sorted(state.watch_paths()) == sorted(str(root / p) for p in ("", "real", "real/inner"))
    (tmp_path / "later").symlink_to(tmp_path / "real" / "inner")
    assert state.refresh([root]) is True
    assert sorted(state.watch_paths()) == sorted(str(root / p) for p in ("", "real", "real/inner"))


class _Session:
    async def send_resource_list_changed(self) -> None:
        pass


@pytest.mark.anyio
async def test_hub_halves_the_tree_watch_when_the_os_runs_out(tmp_path: Path, monkeypatch, caplog) -> None:
    for index in range(12):
        (tmp_path / f"d{index}").mkdir()
    real_open = watch.open_notifier

    def scarce(paths: Any, recursive: bool) -> Any:
        if len(paths) > 4:
            raise WatchLimitReached("the OS refused a file watch: OS file watch limit reached")
        return real_open(paths, recursive)

    monkeypatch.setattr(watch, "open_notifier", scarce)
    hub = LiveHub(Sandbox([tmp_path]), IgnoreRules(), budget=64, per_directory=True)
    with caplog.at_level(logging.WARNING):
        async with hub.running():
            hub.want_list_changes(_Session())  # type: ignore[arg-type]
            with anyio.fail_after(5):
                while hub.watched_folders[1] == 0:
                    await anyio.sleep(0.02)
            assert hub.watched_folders == (0, 4)
        assert hub.watched_folders == (0, 0)
    assert "trying again with at most 8 folders" in caplog.text
    assert "watching the first 4 folders" in caplog.text
