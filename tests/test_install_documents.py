"""Config documents edited in place: realistic files keep every other byte, comments, order, style and line endings."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest
import tomlkit
from deskmcp.install import changes, jsonc
from deskmcp.install.documents import ConfigError, ParseError, open_document
from deskmcp.install.entries import Masker, deskmcp_server
from deskmcp.install.hosts import HOSTS, Platform

ENTRY = {"command": "/home/me/.local/bin/uvx", "args": ["deskmcp", "calculator"], "env": {"DESKMCP_X": "é✓"}}

CLAUDE = """{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefgh"}
    },
    "weather": {"command": "uvx", "args": ["weather-mcp"]}
  },
  "preferences": {"menuBarEnabled": true, "quickEntryShortcut": "off", "名前": "日本語"}
}
"""

ZED = """// Zed settings
//
// For information on how to configure Zed, see the Zed
// documentation: https://zed.dev/docs/configuring-zed
{
  "theme": "One Dark", // my favourite
  "vim_mode": true,
  /* servers below */
  "context_servers": {
    "other": {
      "command": "node",
      "args": ["x.js",], // trailing commas are fine in Zed
    },
  },
  "buffer_font_size": 15,
}
"""

CODEX = """# Codex config
model = "o3"  # the big one

[mcp_servers.other]
command = "npx" # the node runner
args = ["-y", "x"]

# profiles follow
[profiles.fast]
model = "mini"
"""


def host(name: str):
    return HOSTS[name](Platform("linux", PurePosixPath("/home/me"), {}, PurePosixPath("/p"), lambda p: True))


def install_text(text: str, host_name: str, name: str = "calculator", entry=ENTRY) -> str:
    target = host(host_name)
    doc = open_document(text, target.syntax)
    before = doc.data()
    changes.put(doc, target, name, entry)
    changes.verify(
        before, doc.data(), target, {name: changes.merged(changes.servers_in(before, target).get(name), entry)}
    )
    return doc.text


def uninstall_text(text: str, host_name: str, name: str = "calculator") -> str:
    target = host(host_name)
    doc = open_document(text, target.syntax)
    before = doc.data()
    changes.remove(doc, target, [name])
    changes.verify(before, doc.data(), target, {name: None})
    return doc.text


@pytest.mark.parametrize(
    ("host_name", "text"),
    [
        ("claude-desktop", CLAUDE),
        ("claude-desktop", CLAUDE.replace("\n", "\r\n")),
        ("claude-desktop", CLAUDE.replace("  ", "\t")),
        ("claude-desktop", "\ufeff" + CLAUDE),
        ("zed", ZED),
        ("zed", ZED.replace("\n", "\r\n")),
        ("vscode", '{\n\t// user servers\n\t"servers": {\n\t},\n\t"inputs": []\n}\n'),
        ("codex", CODEX),
        ("codex", CODEX.replace("\n", "\r\n")),
        ("claude-desktop", ""),
        ("claude-desktop", "{}"),
        ("codex", ""),
    ],
)
def test_install_changes_only_our_entry_and_uninstall_gives_the_file_back(host_name, text):
    target = host(host_name)
    installed = install_text(text, host_name)
    data = open_document(installed, target.syntax).data()
    assert changes.servers_in(data, target)["calculator"] == ENTRY
    # Everything that was there is there, byte for byte: the original lines all survive, in order (the member
    # before ours gains the comma that separates them).
    original_lines = [line for line in text.splitlines() if line.strip() not in ("}", "},", "", "{}")]
    remaining = iter(installed.splitlines())
    assert all(any(later in (line, line + ",") for later in remaining) for line in original_lines)
    if "\r\n" in text:
        assert installed.count("\n") == installed.count("\r\n")
    assert install_text(installed, host_name) == installed  # idempotent: same bytes twice
    restored = uninstall_text(installed, host_name)
    if text.strip() not in ("", "{}"):
        assert restored == text
    assert "calculator" not in changes.servers_in(open_document(restored, target.syntax).data(), target)


def test_comments_in_jsonc_and_toml_survive_an_install_and_an_update():
    for host_name, text in (("zed", ZED), ("codex", CODEX)):
        first = install_text(text, host_name)
        updated = install_text(first, host_name, entry={**ENTRY, "args": ["deskmcp", "calculator", "--x"]})
        for comment in [line.split("#", 1)[1] for line in text.splitlines() if "#" in line] + [
            line.split("//", 1)[1] for line in text.splitlines() if "//" in line and "https" not in line
        ]:
            assert comment in updated, (host_name, comment)
        assert '"--x"' in updated


def test_an_update_changes_only_the_keys_that_differ_and_keeps_the_hosts_own_keys():
    text = CLAUDE.replace(
        '"weather"', '"calculator": {"command": "uvx", "args": ["deskmcp", "calculator"], "disabled": false}, "weather"'
    )
    updated = install_text(text, "claude-desktop")
    entry = changes.servers_in(json.loads(updated), host("claude-desktop"))["calculator"]
    assert entry == {**ENTRY, "disabled": False}
    assert list(entry) == ["command", "args", "disabled", "env"]


def test_toml_entries_are_whole_tables_and_a_comment_above_the_next_table_stays_with_it():
    installed = install_text(CODEX, "codex")
    assert '[mcp_servers.calculator]\ncommand = "/home/me/.local/bin/uvx"' in installed
    assert 'env = {DESKMCP_X = "é✓"}' in installed or 'env = { DESKMCP_X = "é✓" }' in installed
    placed_before = CODEX.replace(
        "# profiles follow\n", '[mcp_servers.calculator]\ncommand = "u"\n\n# profiles follow\n'
    )
    assert uninstall_text(placed_before, "codex") == CODEX
    inline = 'mcp_servers = { other = { command = "x" } }\n'
    assert tomlkit.parse(install_text(inline, "codex"))["mcp_servers"]["calculator"]["command"] == ENTRY["command"]


@pytest.mark.parametrize(
    ("syntax", "text", "where"),
    [
        ("json", '{\n  "a": 1,\n}\n', "line 2, column 9: trailing comma"),
        ("json", '{\n  // note\n  "a": 1\n}\n', "line 2, column 3: comments are not allowed"),
        ("json", '{\n  "mcpServers": {\n    "x": {"command": "a" "args": []}\n  }\n}', "line 3, column 26: expected"),
        ("json", '{"a": "\x01"}', "line 1, column 8: invalid control character"),
        ("json", '{"a": 1} {"b": 2}', "line 1, column 10: unexpected '{' after the end"),
        ("jsonc", '{\n  "a": 1 /* open\n}', "line 2, column 10: a /* comment is never closed"),
        ("jsonc", '{\n  "a": [1, 2\n}', "line 3, column 1: expected ',' or ']'"),
        ("toml", "a = 1\nb = \n[x]\n", "line 2, column 4"),
        ("toml", "[a]\nx = 1\n[a]\ny = 2\n", 'line 4, column 0: Key "a" already exists'),
    ],
)
def test_a_file_that_does_not_parse_is_refused_with_its_line_and_column(syntax, text, where):
    with pytest.raises(ParseError, match=r"^line ") as raised:
        open_document(text, syntax)
    assert where in str(raised.value)


def test_a_toml_table_declared_twice_apart_is_refused_when_read():
    text = '[mcp_servers.a]\ncommand = "x"\n[profiles.fast]\n[mcp_servers.b]\n[mcp_servers.a]\ncommand = "y"\n'
    with pytest.raises(ParseError, match='Key "command" already exists: a table is declared twice'):
        open_document(text, "toml")


def test_a_servers_key_that_is_not_an_object_is_refused_not_replaced():
    for text in ('{"mcpServers": []}', '{"mcpServers": "none"}'):
        with pytest.raises(ConfigError, match="not an object"):
            install_text(text, "claude-desktop")
    with pytest.raises(ConfigError, match="not a JSON object"):
        open_document("[]", "json")


def test_deeply_nested_input_is_an_error_not_a_crash():
    with pytest.raises(jsonc.ParseError, match="nested more than"):
        jsonc.parse("[" * 10_000, comments=False)


def test_duplicate_keys_edit_the_one_the_host_reads_and_delete_all():
    text = '{"mcpServers": {"calculator": {"command": "old"}, "calculator": {"command": "uvx", "args": []}}}'
    doc = open_document(text, "json")
    doc.delete(["mcpServers", "calculator"])
    assert doc.data() == {"mcpServers": {}}


@pytest.mark.parametrize(
    ("entry", "server"),
    [
        ({"command": "/u/.local/bin/uvx", "args": ["deskmcp", "calculator"]}, "calculator"),
        (
            {"command": "uvx", "args": ["--from", "/w/deskmcp-0.1.0-py3-none-any.whl", "deskmcp", "filesystem", "/d"]},
            "filesystem",
        ),
        ({"command": "uvx", "args": ["--from", "deskmcp==0.1", "deskmcp", "memory"]}, "memory"),
        ({"command": "uvx", "args": ["deskmcp==0.1.0", "calculator"]}, "calculator"),
        ({"command": "C:\\Python\\python.exe", "args": ["-m", "deskmcp.shared.cli", "calculator"]}, "calculator"),
        ({"command": "C:\\bin\\DESKMCP.EXE", "args": ["filesystem"]}, "filesystem"),
        ({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/d"]}, None),
        ({"command": "uvx", "args": ["mcp-server-calculator"]}, None),
        ({"command": "uvx", "args": ["--from", "deskmcp", "x"]}, None),
        ({"url": "https://example.com/mcp"}, None),
        ("not an entry", None),
    ],
)
def test_deskmcp_entries_are_recognised_whatever_launches_them(entry, server):
    assert deskmcp_server(entry) == server


def test_masking_covers_the_value_as_json_writes_it_and_other_servers_credentials():
    mask = Masker(['p"ss\\wörd'])
    mask.add_config_secrets(json.loads(CLAUDE))
    text = json.dumps({"a": 'p"ss\\wörd', "b": 'p"ss\\wörd'}, ensure_ascii=False) + CLAUDE
    masked = mask(text)
    assert "wörd" not in masked and "ghp_abcdefgh" not in masked and "***" in masked
    assert "weather-mcp" in masked
