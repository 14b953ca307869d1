"""Claude's memory tool over the store's /memories folder: the documented results and errors."""

from __future__ import annotations

import pytest
from deskmcp.servers.memory import notes
from deskmcp.servers.memory.errors import Conflict, InvalidInput, MemoryServerError, NotFound
from memory_helpers import new_store


@pytest.fixture
def store(tmp_path):
    store = new_store(tmp_path)
    yield store
    store.close()


def run(store, command, **arguments):
    return notes.execute(store, command, arguments)


def test_create_view_and_the_listing(store):
    assert run(store, "create", path="/memories/notes.txt", file_text="Hello World\nThis is line two\n") == (
        "File created successfully at: /memories/notes.txt"
    )
    run(store, "create", path="/memories/projects/deskmcp/plan.md", file_text="x" * 2048)
    run(store, "create", path="/memories/projects/deskmcp/deep/more.md", file_text="y" * 100)
    run(store, "create", path="/memories/.hidden", file_text="secret")
    run(store, "create", path="/memories/node_modules/pkg.json", file_text="{}")
    assert run(store, "view", path="/memories") == "\n".join(
        [
            "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items and "
            "node_modules:",
            "2.1K\t/memories",
            "29B\t/memories/notes.txt",
            "2.1K\t/memories/projects/",
            "2.1K\t/memories/projects/deskmcp/",
        ]
    )
    assert run(store, "view", path="/memories/notes.txt") == (
        "Here's the content of /memories/notes.txt with line numbers:\n"
        "     1\tHello World\n     2\tThis is line two\n     3\t"
    )
    assert run(store, "view", path="/memories/notes.txt", view_range=[2, -1]).endswith(
        "     2\tThis is line two\n     3\t"
    )
    assert run(store, "view", path="/memories/notes.txt", view_range=[1, 1]).endswith("     1\tHello World")


def test_view_errors(store):
    with pytest.raises(NotFound, match=r"^The path /memories/none does not exist. Please provide a valid path.$"):
        run(store, "view", path="/memories/none")
    run(store, "create", path="/memories/a.txt", file_text="one\ntwo")
    with pytest.raises(InvalidInput, match="first element `5`"):
        run(store, "view", path="/memories/a.txt", view_range=[5, 6])
    with pytest.raises(InvalidInput, match="Invalid `view_range`"):
        run(store, "view", path="/memories/a.txt", view_range=[1])
    assert run(store, "view", path="/memories").endswith("7B\t/memories/a.txt")  # an empty root still lists


def test_a_long_file_is_shown_in_part_with_how_to_see_the_rest(store):
    run(store, "create", path="/memories/long.txt", file_text="\n".join(f"line {i} " + "w" * 90 for i in range(3000)))
    shown = run(store, "view", path="/memories/long.txt")
    assert len(shown) < 81_000
    last = shown.splitlines()[-1]
    assert last.startswith("[Lines 1-") and "view_range [" in last
    following = int(last.split("view_range [")[1].split(",")[0])
    assert (
        run(store, "view", path="/memories/long.txt", view_range=[following, -1])
        .splitlines()[1]
        .startswith(f"{following:>6}\tline {following - 1} ")
    )


def test_create_refuses_what_exists(store):
    run(store, "create", path="/memories/a/b.txt", file_text="x")
    with pytest.raises(Conflict, match=r"^Error: File /memories/a/b.txt already exists$"):
        run(store, "create", path="/memories/a/b.txt", file_text="y")
    with pytest.raises(Conflict, match="is a directory"):
        run(store, "create", path="/memories/a", file_text="y")
    with pytest.raises(Conflict, match=r"/memories/a/b\.txt is a file"):
        run(store, "create", path="/memories/a/b.txt/c", file_text="y")
    assert run(store, "view", path="/memories/a/b.txt").endswith("1\tx")


def test_str_replace_needs_exactly_one_match(store):
    run(store, "create", path="/memories/prefs.txt", file_text="color: blue\nsize: big\nshape: round\ncolor: blue\n")
    with pytest.raises(Conflict) as caught:
        run(store, "str_replace", path="/memories/prefs.txt", old_str="color: blue", new_str="color: green")
    assert str(caught.value) == (
        "No replacement was performed. Multiple occurrences of old_str `color: blue` in lines: 1, 4. "
        "Please ensure it is unique"
    )
    with pytest.raises(NotFound) as caught:
        run(store, "str_replace", path="/memories/prefs.txt", old_str="purple", new_str="x")
    assert (
        str(caught.value)
        == "No replacement was performed, old_str `purple` did not appear verbatim in /memories/prefs.txt."
    )
    result = run(store, "str_replace", path="/memories/prefs.txt", old_str="size: big", new_str="size: small")
    assert result == (
        "The memory file has been edited. Here is the snippet showing the change (with line numbers):\n"
        "     1\tcolor: blue\n     2\tsize: small\n     3\tshape: round\n     4\tcolor: blue"
    )
    with pytest.raises(
        NotFound, match=r"^Error: The path /memories/nope does not exist. Please provide a valid path.$"
    ):
        run(store, "str_replace", path="/memories/nope", old_str="a", new_str="b")
    with pytest.raises(InvalidInput, match="old_str is empty"):
        run(store, "str_replace", path="/memories/prefs.txt", old_str="", new_str="b")


def test_insert(store):
    run(store, "create", path="/memories/todo.txt", file_text="one\ntwo\n")
    assert run(store, "insert", path="/memories/todo.txt", insert_line=1, insert_text="middle\n") == (
        "The file /memories/todo.txt has been edited."
    )
    run(store, "insert", path="/memories/todo.txt", insert_line=0, insert_text="top")
    run(store, "insert", path="/memories/todo.txt", insert_line=4.0, insert_text="end")
    assert run(store, "view", path="/memories/todo.txt").split("\n")[1:] == [
        "     1\ttop",
        "     2\tone",
        "     3\tmiddle",
        "     4\ttwo",
        "     5\tend",
        "     6\t",
    ]
    with pytest.raises(InvalidInput) as caught:
        run(store, "insert", path="/memories/todo.txt", insert_line=9, insert_text="x")
    assert str(caught.value) == (
        "Error: Invalid `insert_line` parameter: 9. It should be within the range of lines of the file: [0, 5]"
    )
    with pytest.raises(NotFound, match=r"^Error: The path /memories/none does not exist$"):
        run(store, "insert", path="/memories/none", insert_line=0, insert_text="x")


def test_delete_and_rename(store):
    run(store, "create", path="/memories/drafts/a.md", file_text="a")
    run(store, "create", path="/memories/drafts/sub/b.md", file_text="b")
    run(store, "create", path="/memories/draftsman.md", file_text="not in drafts/")
    assert run(store, "rename", old_path="/memories/drafts", new_path="/memories/final") == (
        "Successfully renamed /memories/drafts to /memories/final"
    )
    assert run(store, "view", path="/memories/final/sub/b.md").endswith("1\tb")
    assert run(store, "view", path="/memories/draftsman.md").endswith("not in drafts/")
    with pytest.raises(Conflict, match=r"^Error: The destination /memories/draftsman.md already exists$"):
        run(store, "rename", old_path="/memories/final/a.md", new_path="/memories/draftsman.md")
    with pytest.raises(NotFound, match=r"^Error: The path /memories/gone does not exist$"):
        run(store, "rename", old_path="/memories/gone", new_path="/memories/new")
    with pytest.raises(InvalidInput, match="into itself"):
        run(store, "rename", old_path="/memories/final", new_path="/memories/final/inner")
    assert run(store, "delete", path="/memories/final") == "Successfully deleted /memories/final"
    with pytest.raises(NotFound, match=r"^Error: The path /memories/final/a.md does not exist$"):
        run(store, "delete", path="/memories/final/a.md")
    with pytest.raises(InvalidInput, match="Cannot delete the /memories directory itself"):
        run(store, "delete", path="/memories")
    assert run(store, "view", path="/memories").splitlines()[2:] == ["14B\t/memories/draftsman.md"]


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/memories/../etc",
        "/memories/a/../../x",
        "memories/a",
        "/memoriesX/a",
        "/memories//a",
        "/memories/./a",
        "/memories/a\\b",
        "",
    ],
)
def test_paths_stay_under_memories(store, path):
    with pytest.raises(InvalidInput):
        run(store, "create", path=path, file_text="x")
    assert run(store, "view", path="/memories").count("\n") == 1


def test_commands_and_their_arguments_are_checked(store):
    with pytest.raises(InvalidInput, match=r"Unknown command 'cat'.*view, create"):
        run(store, "cat", path="/memories")
    with pytest.raises(InvalidInput, match=r"Unknown command \['view'\]"):  # a TypeError (unhashable) before
        run(store, ["view"], path="/memories")
    with pytest.raises(InvalidInput, match="The create command needs file_text"):
        run(store, "create", path="/memories/a")
    with pytest.raises(InvalidInput, match="file_text must be a string"):
        run(store, "create", path="/memories/a", file_text=5)
    with pytest.raises(MemoryServerError):
        run(store, "create", path="/memories/big", file_text="x" * (notes.FILE_MAX + 1))
    assert run(store, "create", path="/memories/empty", file_text="", view_range=None) == (
        "File created successfully at: /memories/empty"
    )
