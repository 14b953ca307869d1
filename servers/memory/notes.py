"""The Claude memory tool's commands (`memory_20250818`) over a virtual `/memories` folder kept in the store.

Models are trained on this command set, so the results and errors are the ones Anthropic documents and its SDK's
`BetaLocalFilesystemMemoryTool` returns: `view` (a folder two levels deep with sizes, or a file with 6-wide line
numbers), `create` (fails if the file exists), `str_replace` (`old_str` must occur exactly once; several
occurrences are listed by line), `insert`, `delete` (a folder with everything in it), `rename` (fails if the
destination exists). Files are rows of the current project; folders exist while they hold a file. Paths must
start with `/memories`; `.` and `..` segments are refused, so nothing can name anything outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from deskmcp.servers.memory import inputs
from deskmcp.servers.memory.errors import Conflict, InvalidInput, NotFound
from deskmcp.servers.memory.pages import DEFAULT_BUDGET
from deskmcp.servers.memory.store import Store, Tx

ROOT: Final = "/memories"
PATH_MAX: Final = 1_024
SEGMENT_MAX: Final = 255
FILE_MAX: Final = 500_000  # characters in one memory file
MAX_LINES: Final = 999_999
NUMBER_WIDTH: Final = 6
SNIPPET_CONTEXT: Final = 2
HIDDEN: Final = "node_modules"


def check_path(value: Any, where: str = "path") -> str:
    """`value` as a canonical path under /memories (no trailing slash), or `InvalidInput` naming the problem."""
    path = inputs.text(value, where, PATH_MAX)
    if path != ROOT and not path.startswith(ROOT + "/"):
        raise InvalidInput(f"Path must start with /memories, got: {path}")
    segments = path[len(ROOT) :].removesuffix("/").split("/")[1:]
    for segment in segments:
        if segment in ("..", "."):
            raise InvalidInput(f"Path {path} would escape /memories directory")
        if not segment:
            raise InvalidInput(f"Path {path} has an empty folder name (//); write each name once between slashes")
        if len(segment) > SEGMENT_MAX:
            raise InvalidInput(f"Path {path} has a name longer than {SEGMENT_MAX} characters")
        if "\\" in segment or any(ord(ch) < 32 for ch in segment):
            raise InvalidInput(f"Path {path} holds a backslash or control character; use / between folder names")
    return "/".join([ROOT, *segments])


def _bounds(folder: str) -> tuple[str, str]:
    """Every path below `folder` sorts between these two ('/' is just before '0')."""
    return folder + "/", folder + "0"


def _file(tx: Tx, path: str) -> str | None:
    row = tx.conn.execute(
        "SELECT content FROM notes WHERE project_id = ? AND path = ?", (tx.project_id, path)
    ).fetchone()
    return row[0] if row else None


def _below(tx: Tx, folder: str) -> list[tuple[str, int]]:
    low, high = _bounds(folder)
    return tx.conn.execute(
        "SELECT path, length(CAST(content AS BLOB)) FROM notes WHERE project_id = ? AND path > ? AND path < ? "
        "ORDER BY path",
        (tx.project_id, low, high),
    ).fetchall()


def _is_folder(tx: Tx, path: str) -> bool:
    return path == ROOT or bool(_below(tx, path))


def _file_above(tx: Tx, path: str) -> str | None:
    """A file standing where a folder of `path` would be (`/memories/a` for `/memories/a/b`)."""
    parts = path.split("/")
    for end in range(3, len(parts)):
        ancestor = "/".join(parts[:end])
        if _file(tx, ancestor) is not None:
            return ancestor
    return None


def human_size(size: int) -> str:
    """Sizes as the SDK's memory tool writes them: 0B, 512B, 1.5K, 2M."""
    if size == 0:
        return "0B"
    unit = min((size.bit_length() - 1) // 10, 3)
    value = size / 1024**unit
    return f"{int(value) if value == int(value) else f'{value:.1f}'}{'BKMG'[unit]}"


def numbered(lines: Sequence[str], first: int) -> list[str]:
    return [f"{number:>{NUMBER_WIDTH}}\t{line}" for number, line in enumerate(lines, first)]


# --- commands -------------------------------------------------------------------------------------------------


def view(store: Store, path: Any, view_range: Any = None, *, budget: int = DEFAULT_BUDGET) -> str:
    where = check_path(path)
    with store.read() as tx:
        content = _file(tx, where)
        if content is None:
            files = _below(tx, where)
            if not files and where != ROOT:
                raise NotFound(f"The path {path} does not exist. Please provide a valid path.")
            return _listing(where, files)
    return _numbered_view(path, content, view_range, budget)


def _listing(folder: str, files: list[tuple[str, int]]) -> str:
    """Files and folders two levels deep, sizes (a folder's: what it holds), hidden names and node_modules left
    out, each folder followed by what it holds."""
    sizes: dict[str, int] = {}
    for file_path, size in files:
        parts = file_path[len(folder) + 1 :].split("/")
        if any(part.startswith(".") or part == HIDDEN for part in parts):
            continue
        for depth in range(1, min(len(parts), 2) + 1):
            key = "/".join(parts[:depth]) + ("/" if depth < len(parts) else "")
            sizes[key] = sizes.get(key, 0) + size
    total = sum(size for path, size in sizes.items() if "/" not in path.rstrip("/"))
    header = (
        f"Here're the files and directories up to 2 levels deep in {folder}, excluding hidden items and node_modules:"
    )
    order = sorted(sizes, key=lambda key: key.rstrip("/").split("/"))
    return "\n".join(
        [header, f"{human_size(total)}\t{folder}", *(f"{human_size(sizes[k])}\t{folder}/{k}" for k in order)]
    )


def _numbered_view(path: str, content: str, view_range: Any, budget: int) -> str:
    lines = content.split("\n")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"File {path} exceeds maximum line limit of 999,999 lines.")
    start, end = _range(view_range, len(lines))
    header = f"Here's the content of {path} with line numbers:"
    shown, used = [], len(header)
    for line in numbered(lines[start - 1 : end], start):
        if shown and used + len(line) + 1 > budget:
            last = start + len(shown) - 1
            shown.append(
                f"[Lines {start}-{last} of {len(lines)} shown: the rest did not fit in one reply. "
                f"Call view with view_range [{last + 1}, -1] for more.]"
            )
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join([header, *shown])


def _range(view_range: Any, count: int) -> tuple[int, int]:
    if view_range is None:
        return 1, count
    pair = view_range if isinstance(view_range, (list, tuple)) else None
    numbers = [inputs.limit(v, "view_range", high=10**9) if v != -1 else -1 for v in pair] if pair else []
    if len(numbers) != 2 or numbers[0] == -1:
        raise InvalidInput(
            f"Invalid `view_range`: {view_range!r}. It should be two line numbers [start, end]; end -1 reads to the end"
        )
    start, end = numbers
    if start > count:
        raise InvalidInput(
            f"Invalid `view_range`: {view_range!r}. Its first element `{start}` should be within the range of "
            f"lines of the file: [1, {count}]"
        )
    if end != -1 and end < start:
        raise InvalidInput(
            f"Invalid `view_range`: {view_range!r}. Its second element `{end}` should be at least its first, or -1"
        )
    return start, count if end == -1 else min(end, count)


def create(store: Store, path: Any, file_text: Any) -> str:
    where = check_path(path)
    text = inputs.text(file_text, "file_text", FILE_MAX, blank_ok=True)
    with store.write() as tx:
        if where == ROOT or _is_folder(tx, where):
            raise Conflict(f"Error: {path} is a directory; give a file path inside it, such as {where}/notes.md")
        if _file(tx, where) is not None:
            raise Conflict(f"Error: File {path} already exists")
        if blocker := _file_above(tx, where):
            raise Conflict(f"Error: {blocker} is a file, so it cannot hold {path}")
        tx.conn.execute(
            "INSERT INTO notes (project_id, path, content, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (tx.project_id, where, text, tx.now, tx.now),
        )
    return f"File created successfully at: {path}"


def _editable(tx: Tx, path: str, where: str, missing: str) -> str:
    content = _file(tx, where)
    if content is None:
        raise NotFound(missing.format(path=path))
    return content


def _save(tx: Tx, where: str, content: str) -> None:
    if len(content) > FILE_MAX:
        raise InvalidInput(f"the edit would make {where} {len(content):,} characters long; the limit is {FILE_MAX:,}")
    tx.conn.execute(
        "UPDATE notes SET content = ?, updated_at = ? WHERE project_id = ? AND path = ?",
        (content, tx.now, tx.project_id, where),
    )


def str_replace(store: Store, path: Any, old_str: Any, new_str: Any) -> str:
    where = check_path(path)
    old = inputs.text(old_str, "old_str", FILE_MAX)
    new = inputs.text(new_str, "new_str", FILE_MAX, blank_ok=True)
    with store.write() as tx:
        content = _editable(tx, path, where, "Error: The path {path} does not exist. Please provide a valid path.")
        count = content.count(old)
        if count == 0:
            raise NotFound(f"No replacement was performed, old_str `{old}` did not appear verbatim in {path}.")
        if count > 1:
            lines = _lines_holding(content, old)
            raise Conflict(
                f"No replacement was performed. Multiple occurrences of old_str `{old}` in lines: "
                f"{', '.join(map(str, lines))}. Please ensure it is unique"
            )
        changed = content[: content.index(old)].count("\n")
        edited = content.replace(old, new)
        _save(tx, where, edited)
    lines = edited.split("\n")
    first = max(0, changed - SNIPPET_CONTEXT)
    snippet = numbered(lines[first : changed + SNIPPET_CONTEXT + 1 + new.count("\n")], first + 1)
    return "The memory file has been edited. Here is the snippet showing the change (with line numbers):\n" + "\n".join(
        snippet
    )


def _lines_holding(content: str, text: str) -> list[int]:
    found, start = [], content.find(text)
    while start != -1:
        found.append(content.count("\n", 0, start) + 1)
        start = content.find(text, start + 1)
    return found


def insert(store: Store, path: Any, insert_line: Any, insert_text: Any) -> str:
    where = check_path(path)
    text = inputs.text(insert_text, "insert_text", FILE_MAX, blank_ok=True)
    if isinstance(insert_line, float) and insert_line.is_integer():
        insert_line = int(insert_line)
    if isinstance(insert_line, bool) or not isinstance(insert_line, int):
        raise InvalidInput(f"Error: Invalid `insert_line` parameter: {insert_line!r}. It should be a whole number")
    with store.write() as tx:
        content = _editable(tx, path, where, "Error: The path {path} does not exist")
        lines = content.split("\n")
        if content.endswith("\n"):
            lines.pop()
        if not content:
            lines = []
        if not 0 <= insert_line <= len(lines):
            raise InvalidInput(
                f"Error: Invalid `insert_line` parameter: {insert_line}. It should be within the range of lines of "
                f"the file: [0, {len(lines)}]"
            )
        lines.insert(insert_line, text.rstrip("\n"))
        _save(tx, where, "\n".join(lines) + "\n")
    return f"The file {path} has been edited."


def delete(store: Store, path: Any) -> str:
    where = check_path(path)
    if where == ROOT:
        raise InvalidInput("Error: Cannot delete the /memories directory itself")
    low, high = _bounds(where)
    with store.write() as tx:
        deleted = tx.conn.execute(
            "DELETE FROM notes WHERE project_id = ? AND (path = ? OR (path > ? AND path < ?))",
            (tx.project_id, where, low, high),
        ).rowcount
    if not deleted:
        raise NotFound(f"Error: The path {path} does not exist")
    return f"Successfully deleted {path}"


def rename(store: Store, old_path: Any, new_path: Any) -> str:
    source, target = check_path(old_path, "old_path"), check_path(new_path, "new_path")
    if ROOT in (source, target):
        raise InvalidInput("Error: /memories itself cannot be renamed, nor replaced")
    if target.startswith(source + "/"):
        raise InvalidInput(f"Error: Cannot move {old_path} into itself ({new_path})")
    with store.write() as tx:
        if _file(tx, target) is not None or _is_folder(tx, target):
            raise Conflict(f"Error: The destination {new_path} already exists")
        if blocker := _file_above(tx, target):
            raise Conflict(f"Error: {blocker} is a file, so it cannot hold {new_path}")
        moved = _move(tx, source, target)
    if not moved:
        raise NotFound(f"Error: The path {old_path} does not exist")
    return f"Successfully renamed {old_path} to {new_path}"


def _move(tx: Tx, source: str, target: str) -> int:
    moved = tx.conn.execute(
        "UPDATE notes SET path = ?, updated_at = ? WHERE project_id = ? AND path = ?",
        (target, tx.now, tx.project_id, source),
    ).rowcount
    low, high = _bounds(source)
    return (
        moved
        + tx.conn.execute(
            "UPDATE notes SET path = ? || substr(path, ?), updated_at = ? "
            "WHERE project_id = ? AND path > ? AND path < ?",
            (target, len(source) + 1, tx.now, tx.project_id, low, high),
        ).rowcount
    )


# --- dispatch -------------------------------------------------------------------------------------------------

COMMANDS: Final[Mapping[str, tuple[Callable[..., str], tuple[str, ...], tuple[str, ...]]]] = {
    "view": (view, ("path",), ("view_range",)),
    "create": (create, ("path", "file_text"), ()),
    "str_replace": (str_replace, ("path", "old_str", "new_str"), ()),
    "insert": (insert, ("path", "insert_line", "insert_text"), ()),
    "delete": (delete, ("path",), ()),
    "rename": (rename, ("old_path", "new_path"), ()),
}


def execute(store: Store, command: Any, arguments: Mapping[str, Any]) -> str:
    """Run one command with the arguments it takes (others, such as null ones a client fills in, are ignored)."""
    if not isinstance(command, str) or command not in COMMANDS:
        raise InvalidInput(f"Unknown command {command!r}; the memory tool's commands are: {', '.join(COMMANDS)}")
    function, required, optional = COMMANDS[command]
    missing = [name for name in required if arguments.get(name) is None]
    if missing:
        raise InvalidInput(f"The {command} command needs {' and '.join(missing)}")
    return function(store, **{name: arguments.get(name) for name in (*required, *optional)})
