"""The filesystem tools: names, titles, arguments and result shapes of `@modelcontextprotocol/server-filesystem`,
plus content search.

Each tool is a thin adapter over the sandbox and the domain modules (`textfiles`, `search`, `listing`). Every
result is the reference's text, also as `structuredContent: {content}` under the reference's output schema;
notes of ours (what a cap left out) follow as separate text blocks. Additions over the reference:
`search_file_contents`, an output cap on every listing and search (`output`) with `maxResults` to choose
another, `maxDepth` on `directory_tree`, progress and cancellation on walks, size limits on reads.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import anyio.from_thread
from deskmcp.servers.filesystem import listing, search, textfiles
from deskmcp.servers.filesystem.media import MediaResult, media_block
from deskmcp.servers.filesystem.output import OUTPUT_CHARS, OutputCap
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.shared.errors import DomainError
from deskmcp.shared.tools import (
    READ_ONLY,
    StructuredText,
    ToolContext,
    ToolRegistry,
    ToolSpec,
    tool,
    writes,
)
from pydantic import BaseModel, ConfigDict, Field

PROGRESS_INTERVAL: Final = 0.25
HARD_MAX_RESULTS: Final = 100_000
WRITE_TOOLS: Final = frozenset({"write_file", "edit_file", "create_directory", "move_file"})

FilePath = Annotated[str, Field(description="Absolute path inside an allowed directory, or relative to the first one")]
Exclude = Annotated[
    list[str],
    Field(
        description="Globs to leave out: a name or *.ext at any depth; a pattern with / is matched on the relative path"
    ),
]


def _cap(what: str) -> Any:
    return Annotated[
        int | None,
        Field(
            ge=1,
            le=HARD_MAX_RESULTS,
            description=f"Most {what} to return (default: as many as fit in about {OUTPUT_CHARS:,} characters)",
        ),
    ]


MaxEntries = _cap("entries")
MaxPaths = _cap("paths")
MaxLines = _cap("matching lines")
Head = Annotated[int | None, Field(ge=0, description="If provided, returns only the first N lines of the file")]
Tail = Annotated[int | None, Field(ge=0, description="If provided, returns only the last N lines of the file")]


class Edit(BaseModel):
    """One replacement; `oldText` must match exactly one place in the file."""

    model_config = ConfigDict(extra="forbid", strict=True)
    oldText: Annotated[str, Field(description="Text to search for - must match exactly")]
    newText: Annotated[str, Field(description="Text to replace with")]


@dataclass(frozen=True, slots=True)
class Limits:
    max_read_bytes: int


def ticker(ctx: ToolContext, what: str) -> search.Tick:
    """For a walk in a worker thread: stop when cancelled, report progress a few times a second."""
    last = time.monotonic()

    def tick(count: int) -> None:
        nonlocal last
        ctx.check_cancelled()
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL:
            last = now
            anyio.from_thread.run(ctx.report_progress, count, None, f"{count:,} {what}")

    return tick


def build_tools(sandbox: Sandbox, limits: Limits) -> list[ToolSpec]:
    """Every tool, the write tools included (`build_registry` withholds them from a read-only sandbox)."""
    limit = limits.max_read_bytes

    def read_text(path: str, head: int | None, tail: int | None) -> StructuredText:
        head, tail = head or None, tail or None  # 0 means "not given", as in the reference
        if head is not None and tail is not None:
            raise DomainError("give head or tail, not both")
        with sandbox.open_read(path) as handle:
            if head is None and tail is None:
                return StructuredText(content=textfiles.decode(textfiles.read_within(handle, path, limit), path))
            text, note = textfiles.head(handle, head, limit) if head else textfiles.tail(handle, tail or 0, limit)
        return StructuredText(content=text, notes=[note] if note else [])

    @tool(title="Read Text File", annotations=READ_ONLY)
    def read_text_file(path: FilePath, head: Head = None, tail: Tail = None) -> StructuredText:
        """Read a file as UTF-8 text. Use `head` or `tail` for the first or last N lines of a file of any size;
        whole reads are limited in size. Only works within allowed directories."""
        return read_text(path, head, tail)

    @tool(name="read_file", title="Read File (Deprecated)", annotations=READ_ONLY)
    def read_file(path: FilePath, head: Head = None, tail: Tail = None) -> StructuredText:
        """Read the complete contents of a file as text. DEPRECATED: Use read_text_file instead."""
        return read_text(path, head, tail)

    @tool(title="Read Media File", annotations=READ_ONLY)
    def read_media_file(path: FilePath) -> MediaResult:
        """Read an image, audio or other binary file as a base64 content block with its MIME type
        (image and audio as such, anything else as an embedded resource). Only works within allowed directories."""
        return MediaResult.of(media_block(sandbox.resolve(path), base64.b64encode(sandbox.read_bytes(path, limit))))

    @tool(title="Read Multiple Files", annotations=READ_ONLY)
    def read_multiple_files(
        paths: Annotated[list[str], Field(min_length=1, description="Paths of the files to read")],
    ) -> StructuredText:
        """Read several text files at once; each is shown under its path, and a file that cannot be read shows
        its error without stopping the others. Only works within allowed directories."""
        return StructuredText(content=listing.read_many(sandbox, paths, limit))

    @tool(title="Write File", annotations=writes(destructive=True, idempotent=True))
    def write_file(path: FilePath, content: str) -> StructuredText:
        """Create a new file or completely overwrite an existing file with new content (written atomically;
        permissions kept). Only works within allowed directories."""
        outcome = sandbox.write_bytes(path, listing.encode_text(content, path))
        return StructuredText(content=f"Successfully wrote to {path}", notes=listing.hard_link_note(outcome))

    @tool(title="Edit File", annotations=writes(destructive=True, idempotent=False))
    def edit_file(
        path: FilePath,
        edits: Annotated[list[Edit], Field(description="Replacements, applied in order")],
        dryRun: Annotated[bool, Field(description="Preview changes using git-style diff format")] = False,
    ) -> StructuredText:
        """Replace exact text in a file: each oldText must match exactly one place (whitespace-tolerant line
        matching as a fallback). Returns a git-style diff; with dryRun nothing is written. Only works within
        allowed directories."""
        return listing.edit(sandbox, path, [(e.oldText, e.newText) for e in edits], dryRun, limit)

    @tool(title="Create Directory", annotations=writes(destructive=False, idempotent=True))
    def create_directory(path: FilePath) -> StructuredText:
        """Create a directory, with any missing parents; succeeds if it already exists. Only works within
        allowed directories."""
        sandbox.make_dirs(path)
        return StructuredText(content=f"Successfully created directory {path}")

    @tool(title="List Directory", annotations=READ_ONLY)
    def list_directory(path: FilePath, maxResults: MaxEntries = None) -> StructuredText:
        """List a directory, one entry per line with a [FILE] or [DIR] prefix. Only works within allowed
        directories."""
        return listing.list_plain(sandbox, path, OutputCap(maxResults))

    @tool(title="List Directory with Sizes", annotations=READ_ONLY)
    def list_directory_with_sizes(
        path: FilePath,
        sortBy: Annotated[Literal["name", "size"], Field(description="Sort entries by name or size")] = "name",
        maxResults: MaxEntries = None,
    ) -> StructuredText:
        """List a directory with file sizes and totals, [FILE]/[DIR] prefixes. Only works within allowed
        directories."""
        return listing.list_sized(sandbox, path, sortBy, OutputCap(maxResults))

    @tool(title="Directory Tree", annotations=READ_ONLY)
    def directory_tree(
        path: FilePath,
        excludePatterns: Exclude = [],  # noqa: B006 - pydantic copies defaults
        maxDepth: Annotated[int | None, Field(ge=1, description="Levels to show (default: all)")] = None,
        maxResults: MaxEntries = None,
        ctx: ToolContext = None,  # type: ignore[assignment]
    ) -> StructuredText:
        """Recursive tree of a directory as JSON: each entry has 'name', 'type' (file/directory) and, for
        directories, 'children'. A tree too large to show whole is shown to the depth that fits, and its
        directories on the last level shown (or at maxDepth) have no 'children'. Only works within allowed
        directories."""
        cap = OutputCap(maxResults)
        found = search.tree(sandbox, path, excludePatterns, maxDepth, cap, ticker(ctx, "entries"))
        return listing.tree_text(found, cap)

    @tool(title="Move File", annotations=writes(destructive=True, idempotent=False))
    def move_file(source: FilePath, destination: FilePath) -> StructuredText:
        """Move or rename a file or directory; fails if the destination exists. Both paths must be within
        allowed directories."""
        sandbox.move(source, destination)
        return StructuredText(content=f"Successfully moved {source} to {destination}")

    @tool(title="Search Files", annotations=READ_ONLY)
    def search_files(
        path: FilePath,
        pattern: Annotated[
            str, Field(description="Glob on the path relative to `path`: '*.ext' at the top, '**/*.ext' at any depth")
        ],
        excludePatterns: Exclude = [],  # noqa: B006
        maxResults: MaxPaths = None,
        ctx: ToolContext = None,  # type: ignore[assignment]
    ) -> StructuredText:
        """Recursively find files and directories whose path relative to `path` matches a glob. Returns full
        paths. Only searches within allowed directories."""
        cap = OutputCap(maxResults)
        return listing.paths_text(
            search.find_paths(sandbox, path, pattern, excludePatterns, cap, ticker(ctx, "entries"))
        )

    @tool(title="Search File Contents", annotations=READ_ONLY)
    def search_file_contents(
        path: FilePath,
        query: Annotated[str, Field(description="Text to find (or a regular expression with isRegex)")],
        isRegex: Annotated[bool, Field(description="Treat query as a Python regular expression")] = False,
        caseSensitive: bool = True,
        contextLines: Annotated[int, Field(ge=0, le=20, description="Lines of context around each match")] = 0,
        filePattern: Annotated[str, Field(description="Glob of files to search, e.g. '**/*.py'")] = "**",
        excludePatterns: Exclude = [],  # noqa: B006
        maxResults: MaxLines = None,
        ctx: ToolContext = None,  # type: ignore[assignment]
    ) -> StructuredText:
        """Search the contents of text files under a directory (like grep -n): `file:line: text`, context lines
        as `file-line- text`; counts and notes follow in a second block. Binary and very large files are
        skipped. Only searches within allowed directories."""
        request = search.ContentQuery(
            query, isRegex, caseSensitive, contextLines, filePattern, excludePatterns, OutputCap(maxResults)
        )
        return listing.content_text(search.search_contents(sandbox, path, request, ticker(ctx, "entries scanned")))

    @tool(title="Get File Info", annotations=READ_ONLY)
    def get_file_info(path: FilePath) -> StructuredText:
        """Metadata of a file or directory: size, times, type, permissions. Only works within allowed
        directories."""
        return StructuredText(content=listing.file_info(*sandbox.stat_created(path)))

    @tool(title="List Allowed Directories", annotations=READ_ONLY)
    def list_allowed_directories() -> StructuredText:
        """The directories this server may access (subdirectories included)."""
        return listing.allowed(sandbox)

    return [
        read_text_file,
        read_file,
        read_media_file,
        read_multiple_files,
        write_file,
        edit_file,
        create_directory,
        list_directory,
        list_directory_with_sizes,
        directory_tree,
        move_file,
        search_files,
        search_file_contents,
        get_file_info,
        list_allowed_directories,
    ]


def build_registry(sandbox: Sandbox, limits: Limits) -> ToolRegistry:
    """Every tool; a read-only sandbox withholds the write tools (unlisted, and a call says why)."""
    withheld = dict.fromkeys(WRITE_TOOLS, "this server was started with --read-only") if sandbox.read_only else {}
    return ToolRegistry(build_tools(sandbox, limits), withheld=withheld)
