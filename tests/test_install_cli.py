"""`deskmcp install / uninstall / list / call` as a user runs them, on realistic config files in a fake home."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from deskmcp.install import configfile
from deskmcp.install import install as install_command
from deskmcp.install.hosts import Platform
from deskmcp.shared import cli
from hostpipes import ROOT, deskmcp_command
from test_install_documents import CLAUDE


def is_this_python(command: str) -> bool:
    """The console script's interpreter (python3) or this one (python): the same venv's Python."""
    return Path(command).is_absolute() and Path(command).resolve() == Path(sys.executable).resolve()


def claude_file(home: Path) -> Path:
    return home / ".config" / "Claude" / "claude_desktop_config.json"


def home_environment(home: Path) -> dict[str, str]:
    """The environment of a deskmcp whose home is `home` (its lock folder in there too)."""
    return {"HOME": str(home), "PATH": os.environ["PATH"], "XDG_CACHE_HOME": str(home / ".cache")}


def run(home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None):
    """`deskmcp ARGS` in a subprocess whose home is `home` (and no terminal)."""
    return subprocess.run(
        deskmcp_command(*args),
        capture_output=True,
        text=True,
        env={**home_environment(home), **(env or {})},
        cwd=cwd or home,
        input=stdin,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    claude_file(home).parent.mkdir(parents=True)
    claude_file(home).write_text(CLAUDE, encoding="utf-8")
    return home


def test_install_writes_the_absolute_launcher_keeps_everything_else_and_backs_up_the_file(home):
    done = run(home, "install", "claude-desktop", "calculator", "--launcher", "python", "--env", "PRECISION=20")
    assert done.returncode == 0, done.stderr
    data = json.loads(claude_file(home).read_text(encoding="utf-8"))
    entry = data["mcpServers"]["calculator"]
    assert is_this_python(entry.pop("command"))
    assert entry == {"args": ["-m", "deskmcp.shared.cli", "calculator"], "env": {"DESKMCP_CALCULATOR_PRECISION": "20"}}
    assert list(data) == ["globalShortcut", "mcpServers", "preferences"]
    assert claude_file(home).read_text(encoding="utf-8").startswith(CLAUDE.split('    "github"')[0])
    assert configfile.backup_path(claude_file(home)).read_text(encoding="utf-8") == CLAUDE
    before = claude_file(home).read_bytes()
    again = run(home, "install", "claude-desktop", "calculator", "--launcher", "python", "--env", "PRECISION=20")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert claude_file(home).read_bytes() == before


def test_server_options_pass_through_and_folders_become_absolute(home):
    docs = home / "Documents"
    docs.mkdir()
    done = run(home, "install", "claude-desktop", "filesystem", "Documents", "--read-only", "--launcher", "python")
    assert done.returncode == 0, done.stderr
    entry = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]["filesystem"]
    assert entry["args"] == ["-m", "deskmcp.shared.cli", "filesystem", str(docs), "--read-only"]
    bad = run(home, "install", "claude-desktop", "filesystem", "--no-such-option", "--launcher", "python")
    assert bad.returncode == 2 and "usage: deskmcp filesystem" in bad.stderr


def test_dry_run_prints_a_masked_diff_and_writes_nothing(home):
    before = claude_file(home).read_bytes()
    done = run(home, "install", "claude-desktop", "calculator", "--launcher", "python", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert claude_file(home).read_bytes() == before
    assert not configfile.backup_path(claude_file(home)).exists()
    assert '+    "calculator": {' in done.stdout and '+      "command": "/' in done.stdout
    assert "ghp_abcdefgh" not in done.stdout + done.stderr  # a neighbour's token in the context lines is masked


def test_an_unparsable_file_is_left_byte_for_byte_with_its_line_and_column(home):
    broken = CLAUDE.replace('"日本語"}', '"日本語",}').encode("utf-8")
    for content in (broken, broken.replace(b"\n", b"\r\n"), CLAUDE.encode("utf-8").replace(b"Ctrl", b"\xff\xfe")):
        claude_file(home).write_bytes(content)
        done = run(home, "install", "claude-desktop", "calculator", "--launcher", "python")
        assert done.returncode == 1
        assert claude_file(home).read_bytes() == content
        assert not configfile.backup_path(claude_file(home)).exists()
        where = (
            "line 2, column 22: not UTF-8"
            if b"\xff" in content
            else f"line 11, column {broken.splitlines()[10].decode().index(',}') + 1}: trailing comma"
        )
        assert where in done.stderr and str(claude_file(home)) in done.stderr


def test_a_file_changed_while_deskmcp_edits_it_is_edited_again_and_backed_up_as_it_was_just_before(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"a": 1}', encoding="utf-8")
    seen = []

    def edit(old: str | None) -> str:
        seen.append(old)
        if len(seen) == 1:  # the host rewrites the file while deskmcp works out its change
            config.write_text('{"a": 2}', encoding="utf-8")
        return (old or "").replace("}", ', "b": 3}')

    outcome = configfile.change(config, edit, create=False)
    assert seen == ['{"a": 1}', '{"a": 2}']
    assert config.read_text(encoding="utf-8") == '{"a": 2, "b": 3}'
    assert outcome.backup == configfile.backup_path(config)
    assert outcome.backup.read_text(encoding="utf-8") == '{"a": 2}'


def test_a_file_that_keeps_changing_under_deskmcp_is_left_to_the_host(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"a": 0}', encoding="utf-8")
    writes = iter(range(1, 100))

    def edit(old: str | None) -> str:
        config.write_text(f'{{"a": {next(writes)}}}', encoding="utf-8")  # the host rewrites it every time
        return '{"b": 1}'

    with pytest.raises(configfile.FileError, match="kept changing while deskmcp was writing it"):
        configfile.change(config, edit, create=False)
    assert config.read_text(encoding="utf-8") == f'{{"a": {configfile.ATTEMPTS}}}'
    assert not configfile.backup_path(config).exists()


def test_a_second_deskmcp_waits_for_the_lock_and_gives_up_with_a_clear_error(tmp_path):
    config = tmp_path / "config.json"
    with configfile.locked(config):
        with pytest.raises(configfile.FileError, match="another deskmcp is changing"):
            with configfile.locked(config, timeout=0.1):
                pass
    with configfile.locked(config, timeout=0.1):  # released once the first is done
        pass


def test_a_read_only_file_is_refused_and_unchanged(home):
    claude_file(home).chmod(0o444)
    done = run(home, "install", "claude-desktop", "calculator", "--launcher", "python")
    assert done.returncode == 1 and "read-only" in done.stderr
    assert claude_file(home).read_text(encoding="utf-8") == CLAUDE
    assert stat.S_IMODE(claude_file(home).stat().st_mode) == 0o444


def test_a_missing_config_is_created_only_when_the_host_is_installed_or_with_force(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cursor = home / ".cursor" / "mcp.json"
    refused = run(home, "install", "cursor", "calculator", "--launcher", "python")
    assert refused.returncode == 1 and "does not look installed" in refused.stderr and "--force" in refused.stderr
    assert not cursor.parent.exists()
    forced = run(home, "install", "cursor", "calculator", "--launcher", "python", "--force")
    assert forced.returncode == 0, forced.stderr
    assert is_this_python(json.loads(cursor.read_text())["mcpServers"]["calculator"]["command"])
    assert stat.S_IMODE(cursor.stat().st_mode) == 0o600
    (home / ".codeium" / "windsurf").mkdir(parents=True)  # Windsurf installed, its file not yet written
    assert run(home, "install", "windsurf", "calculator", "--launcher", "python").returncode == 0
    assert (home / ".codeium" / "windsurf" / "mcp_config.json").exists()


def test_a_symlinked_config_is_changed_where_it_lives(home, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "claude.json"
    dotfiles.parent.mkdir()
    claude_file(home).rename(dotfiles)
    claude_file(home).symlink_to(dotfiles)
    assert run(home, "install", "claude-desktop", "calculator", "--launcher", "python").returncode == 0
    assert claude_file(home).is_symlink()
    assert "calculator" in json.loads(dotfiles.read_text(encoding="utf-8"))["mcpServers"]


def test_racing_installers_lose_no_entry(home):
    processes = [
        subprocess.Popen(
            [*deskmcp_command("install", "claude-desktop", "calculator", "--name", f"calc{n}", "--launcher", "python")],
            env=home_environment(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(6)
    ]
    for process in processes:
        assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    servers = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]
    assert set(servers) == {*json.loads(CLAUDE)["mcpServers"], *(f"calc{n}" for n in range(6))}


def test_another_servers_entry_of_the_same_name_is_not_replaced_without_force(home):
    claude_file(home).write_text(CLAUDE.replace('"github"', '"filesystem"'), encoding="utf-8")
    refused = run(home, "install", "claude-desktop", "filesystem", "--launcher", "python")
    assert refused.returncode == 1 and "another server's entry" in refused.stderr and "--name" in refused.stderr
    assert (
        run(home, "install", "claude-desktop", "filesystem", "--launcher", "python", "--name", "files").returncode == 0
    )
    servers = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]
    assert servers["filesystem"]["command"] == "npx" and is_this_python(servers["files"]["command"])


def test_no_server_named_without_a_terminal_is_a_clear_error(home):
    done = run(home, "install", "claude-desktop", stdin="")
    assert done.returncode != 0
    assert "--all" in done.stderr and all(name in done.stderr for name in cli.SERVERS)
    everything = run(home, "install", "claude-desktop", "--all", "--launcher", "python")
    assert everything.returncode == 0, everything.stderr
    assert set(cli.SERVERS) <= set(json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"])


def test_uninstall_removes_only_our_entries_and_restores_the_bytes(home):
    assert run(home, "install", "claude-desktop", "--all", "--launcher", "python").returncode == 0
    partial = run(home, "uninstall", "claude-desktop", "calculator")
    assert partial.returncode == 0 and "removed calculator" in partial.stdout
    servers = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]
    assert "calculator" not in servers and "github" in servers
    assert run(home, "uninstall", "claude-desktop").returncode == 0
    assert claude_file(home).read_text(encoding="utf-8") == CLAUDE
    foreign = run(home, "uninstall", "claude-desktop", "--name", "github")
    assert foreign.returncode == 1 and "not a deskmcp entry" in foreign.stderr


def test_list_shows_hosts_files_entries_and_whether_commands_resolve(home):
    bare = CLAUDE.replace('"github"', '"calc": {"command": "uvx", "args": ["deskmcp", "calculator"]}, "github"')
    claude_file(home).write_text(bare, encoding="utf-8")
    assert run(home, "install", "claude-desktop", "calculator", "--launcher", "python").returncode == 0
    listed = run(home, "list")
    assert listed.returncode == 0, listed.stderr
    assert f"Claude Desktop (claude-desktop, user): {claude_file(home)}" in listed.stdout
    assert "calculator: /" in listed.stdout and "ok: the command resolves" in listed.stdout
    assert "'uvx' is not on a desktop app's PATH" in listed.stdout
    assert "github" not in listed.stdout


def test_project_scope_writes_the_projects_file(home, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (home / ".cursor").mkdir()
    done = run(home, "install", "cursor", "calculator", "--scope", "project", "--launcher", "python", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "calculator" in json.loads((project / ".cursor" / "mcp.json").read_text())["mcpServers"]
    refused = run(home, "install", "claude-desktop", "calculator", "--scope", "project", cwd=project)
    assert refused.returncode == 2 and "no project-level config" in refused.stderr


# --- secrets, in-process with a test server that has a secret setting ----------------------------------------


@pytest.fixture
def echo_server(monkeypatch):
    monkeypatch.setitem(cli.SERVERS, "echo", ("echo_server", "test server with a secret setting"))


def fake_platform(home: Path, project: Path | None = None) -> Platform:
    return Platform("linux", home, {"HOME": str(home), "PATH": os.environ["PATH"]}, project or home)


def test_a_secret_value_is_masked_everywhere_and_the_safer_forms_are_offered(echo_server, home, capsys):
    argv = ["claude-desktop", "echo", "--env", "TOKEN=s3cr3t-value", "--launcher", "python"]
    assert install_command.main([*argv, "--dry-run"], fake_platform(home)) == 0
    dry = capsys.readouterr()
    assert "s3cr3t-value" not in dry.out + dry.err and '"DESKMCP_ECHO_TOKEN": "***"' in dry.out
    assert install_command.main(argv, fake_platform(home)) == 0
    out = capsys.readouterr()
    assert "s3cr3t-value" not in out.out + out.err
    assert "plain text" in out.err and "DESKMCP_ECHO_TOKEN_FILE=" in out.err
    written = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]["echo"]["env"]
    assert written == {"DESKMCP_ECHO_TOKEN": "s3cr3t-value"}
    refused = install_command.main(
        ["claude-desktop", "echo", "--env", "TOKEN", "--launcher", "python"], fake_platform(home)
    )
    assert refused == 1 and "cannot fill DESKMCP_ECHO_TOKEN" in capsys.readouterr().err


TOKEN = "DESKMCP_ECHO_TOKEN"
PROMPT = {"type": "promptString", "id": "deskmcp_echo_token", "description": TOKEN, "password": True}


@pytest.mark.parametrize(
    ("client", "path", "servers_key", "reference"),
    [
        ("cursor", ".cursor/mcp.json", "mcpServers", "${env:DESKMCP_ECHO_TOKEN}"),
        ("claude-code", ".claude.json", "mcpServers", "${DESKMCP_ECHO_TOKEN}"),
        ("vscode", ".config/Code/User/mcp.json", "servers", "${input:deskmcp_echo_token}"),
        ("gemini", ".gemini/settings.json", "mcpServers", "${DESKMCP_ECHO_TOKEN}"),
        ("codex", ".codex/config.toml", None, None),
    ],
)
def test_a_bare_env_key_uses_the_hosts_own_reference_so_the_secret_never_lands_in_the_file(
    echo_server, tmp_path, client, path, servers_key, reference
):
    home = tmp_path / "home"
    home.mkdir()
    argv = [client, "echo", "--env", "TOKEN", "--launcher", "python", "--force"]
    assert install_command.main(argv, fake_platform(home)) == 0
    text = (home / path).read_text(encoding="utf-8")
    if reference is None:
        assert 'env_vars = ["DESKMCP_ECHO_TOKEN"]' in text
    else:
        data = json.loads(text)
        assert data[servers_key]["echo"]["env"] == {TOKEN: reference}
        assert data.get("inputs") == ([PROMPT] if client == "vscode" else None)
    assert install_command.main(argv, fake_platform(home)) == 0
    assert (home / path).read_text(encoding="utf-8") == text  # the input is not added twice
    from deskmcp.install import uninstall

    assert uninstall.main([client, "echo"], fake_platform(home)) == 0
    assert "deskmcp_echo_token" not in (home / path).read_text(encoding="utf-8")


def test_vscode_prompts_for_a_variable_that_is_not_a_setting_and_uninstall_removes_the_prompt(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    argv = ["vscode", "calculator", "--env", "SOME_VAR", "--launcher", "python", "--force"]
    assert install_command.main(argv, fake_platform(home)) == 0
    config = home / ".config" / "Code" / "User" / "mcp.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    assert data["servers"]["calculator"]["env"] == {"SOME_VAR": "${input:deskmcp_some_var}"}
    assert data["inputs"] == [{**PROMPT, "id": "deskmcp_some_var", "description": "SOME_VAR"}]
    from deskmcp.install import uninstall

    assert uninstall.main(["vscode", "calculator"], fake_platform(home)) == 0
    assert "some_var" not in config.read_text(encoding="utf-8")


def test_a_variable_every_server_reads_is_passed_to_each_server_installed(home):
    argv = ["claude-desktop", "calculator", "memory", "--env", "DESKMCP_LOG_LEVEL=debug", "--launcher", "python"]
    assert install_command.main(argv, fake_platform(home)) == 0
    servers = json.loads(claude_file(home).read_text(encoding="utf-8"))["mcpServers"]
    assert servers["calculator"]["env"] == servers["memory"]["env"] == {"DESKMCP_LOG_LEVEL": "debug"}


def test_an_unknown_or_invalid_setting_is_refused_before_anything_is_written(home, capsys):
    before = claude_file(home).read_bytes()
    assert (
        install_command.main(
            ["claude-desktop", "calculator", "--env", "PRECISON=3", "--launcher", "python"], fake_platform(home)
        )
        == 1
    )
    assert "PRECISON: not a deskmcp setting; did you mean PRECISION?" in capsys.readouterr().err
    assert (
        install_command.main(
            ["claude-desktop", "calculator", "--env", "PRECISION=lots", "--launcher", "python"], fake_platform(home)
        )
        == 1
    )
    assert "DESKMCP_CALCULATOR_PRECISION: expected a whole number" in capsys.readouterr().err
    assert claude_file(home).read_bytes() == before


def test_cursor_link_carries_the_entry_and_never_a_secret(echo_server, home, capsys):
    argv = ["cursor", "echo", "--env", "TOKEN=s3cr3t-value", "--env", "COUNT=4", "--launcher", "python", "--link"]
    assert install_command.main(argv, fake_platform(home)) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-value" not in out
    link = out.splitlines()[0].split(": ", 1)[1]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert link.startswith("cursor://anysphere.cursor-deeplink/mcp/install?") and query["name"] == ["echo"]
    entry = json.loads(base64.b64decode(query["config"][0]))
    assert entry["args"] == ["-m", "deskmcp.shared.cli", "echo"]
    assert entry["env"] == {"DESKMCP_ECHO_TOKEN": "${env:DESKMCP_ECHO_TOKEN}", "DESKMCP_ECHO_COUNT": "4"}


def test_readme_has_a_cursor_link_for_every_server():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for server in cli.SERVERS:
        link = install_command.cursor_link(server, {"command": "uvx", "args": ["deskmcp", server]})
        assert link in readme, f"add to the README's Cursor links: [{server}]({link})"


# --- call -----------------------------------------------------------------------------------------------------


def test_call_prints_the_result_types_arguments_by_schema_and_exits_1_on_is_error(tmp_path):
    done = subprocess.run(
        deskmcp_command("call", "calculator", "calculate", "expression=2**100", "precision=5"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1267650600228229401496703205376\n"
    stats = subprocess.run(
        deskmcp_command("call", "calculator", "statistics", "--json", '{"data": [1, 2, 3, 4]}'),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stats.returncode == 0 and "mean: 2.5" in stats.stdout
    failed = subprocess.run(
        deskmcp_command("call", "calculator", "calculate", "expression=1/0"), capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1 and "Division by zero" in failed.stderr and failed.stdout == ""
    (tmp_path / "note.txt").write_text("hello")
    listed = subprocess.run(
        deskmcp_command("call", "filesystem", "list_directory", f"path={tmp_path}", "--", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and "[FILE] note.txt" in listed.stdout
    unknown = subprocess.run(deskmcp_command("call", "calculator", "nope"), capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "calculate, statistics" in unknown.stderr


def test_call_arguments_are_typed_by_the_schema_and_bad_ones_are_clear_errors():
    from deskmcp.install.call import parse_arguments

    schema = {
        "properties": {
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }
    }
    typed = parse_arguments(["text=12", "count=3", "either=x y", "extra=[1, 2]", "other=word"], None, schema)
    assert typed == {"text": "12", "count": 3, "either": "x y", "extra": [1, 2], "other": "word"}
    assert parse_arguments(["count=4"], '{"text": "a", "count": 1}', schema) == {"text": "a", "count": 4}
    for pairs, raw_json, message in [
        (["count=many"], None, "count takes integer; 'many' is not"),
        (["count"], None, "expected key=value, got 'count'"),
        ([], "{", "--json is not valid JSON"),
        ([], "[1]", "--json must be a JSON object"),
    ]:
        with pytest.raises(SystemExit, match=re.escape(message)):
            parse_arguments(pairs, raw_json, schema)
