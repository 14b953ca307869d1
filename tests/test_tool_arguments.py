"""Tool arguments the way real clients send them, through real servers over pipes: extra arguments are ignored
(as the reference servers' zod schemas do), a near miss of a known one is refused, and `10.0` is 10."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostpipes import PipeServer, deskmcp_command, pipe_server

LINES = "".join(f"line {n}\n" for n in range(1, 31))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("arguments")
    (folder / "lines.txt").write_text(LINES)
    (folder / "sub").mkdir()
    return folder


@pytest.fixture(scope="module")
def filesystem(folder: Path) -> Iterator[PipeServer]:
    with pipe_server(deskmcp_command("filesystem", str(folder))) as server:
        server.initialize()
        yield server


@pytest.fixture(scope="module")
def calculator() -> Iterator[PipeServer]:
    with pipe_server(deskmcp_command("calculator")) as server:
        server.initialize()
        yield server


def text(result: dict) -> str:
    return result["content"][0]["text"]


def test_read_text_file_ignores_an_encoding_argument(filesystem, folder):
    result = filesystem.call_tool("read_text_file", {"path": str(folder / "lines.txt"), "encoding": "utf-8"})
    assert result.get("isError") is not True and text(result) == LINES


def test_the_modern_era_takes_arguments_the_same_way(folder):
    with pipe_server(deskmcp_command("filesystem", str(folder))) as server:
        arguments = {"path": str(folder / "lines.txt"), "encoding": "utf-8", "head": 1.0}
        assert text(server.call_tool("read_text_file", arguments, modern=True)).splitlines() == ["line 1"]


def test_list_directory_ignores_recursive(filesystem, folder):
    result = filesystem.call_tool("list_directory", {"path": str(folder), "recursive": False})
    assert result.get("isError") is not True and "[DIR] sub" in text(result)


def test_edit_file_ignores_an_unknown_key_inside_an_edit(filesystem, folder):
    target = folder / "edit.txt"
    target.write_text("alpha\n")
    edits = [{"oldText": "alpha", "newText": "beta", "replaceAll": True}]
    result = filesystem.call_tool("edit_file", {"path": str(target), "edits": edits})
    assert result.get("isError") is not True, text(result)
    assert target.read_text() == "beta\n"


@pytest.mark.parametrize("spelling", ["dry_run", "dryrun", "DryRun"])
def test_edit_file_refuses_a_misspelt_dry_run_and_writes_nothing(filesystem, folder, spelling):
    target = folder / "keep.txt"
    target.write_text("alpha\n")
    edits = [{"oldText": "alpha", "newText": "beta"}]
    result = filesystem.call_tool("edit_file", {"path": str(target), "edits": edits, spelling: True})
    assert result["isError"] is True
    assert f"- {spelling}: unknown argument; did you mean 'dryRun'?" in text(result)
    assert target.read_text() == "alpha\n"


@pytest.mark.parametrize("head", [10.0, 1e1])
def test_head_takes_a_whole_number_written_as_a_float(filesystem, folder, head):
    result = filesystem.call_tool("read_text_file", {"path": str(folder / "lines.txt"), "head": head})
    assert result.get("isError") is not True
    assert text(result).splitlines() == [f"line {n}" for n in range(1, 11)]


@pytest.mark.parametrize(
    ("head", "line"),
    [
        (1.5, "- head: expected a whole number, got 1.5"),
        ("10", "- head: Input should be a valid integer (got string)"),
        (True, "- head: Input should be a valid integer (got boolean)"),
    ],
)
def test_head_refuses_a_fraction_a_string_and_a_boolean(filesystem, folder, head, line):
    result = filesystem.call_tool("read_text_file", {"path": str(folder / "lines.txt"), "head": head})
    assert result["isError"] is True and line in text(result).splitlines()


def test_calculator_integer_arguments_take_whole_floats(calculator):
    result = calculator.call_tool("calculate", {"expression": "1/3", "precision": 5.0, "style": "plain"})
    assert result.get("isError") is not True and result["structuredContent"]["decimal"] == "0.33333"
    hexadecimal = calculator.call_tool("calculate", {"expression": "255", "base": 16.0})
    assert hexadecimal["structuredContent"]["value"] == "0xff"
    quartiles = calculator.call_tool("statistics", {"data": [1, 2, 3, 4, 5], "quantiles": 4.0})
    assert len(quartiles["structuredContent"]["quantiles"]) == 3


def test_calculator_refuses_a_fractional_precision(calculator):
    result = calculator.call_tool("calculate", {"expression": "1/3", "precision": 2.5})
    assert result["isError"] is True
    assert "- precision: expected a whole number, got 2.5" in text(result).splitlines()
