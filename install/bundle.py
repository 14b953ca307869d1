"""`deskmcp bundle <server> [-o DIR]`: a one-click MCP Bundle (`.mcpb`) for Claude Desktop.

Manifest 0.4 with server type `uv`: the bundle carries deskmcp's own sources and a `pyproject.toml` of their
dependencies, and the host runs `uv run` in it, so the user needs neither Python nor deskmcp from PyPI. The
manifest's tools and prompts are asked of the server itself over stdio; its `user_config` comes from the server's
declarations: a folder list for positional `DIR` arguments (the filesystem's), a field per setting, secrets marked
`sensitive` (the host stores them in the OS keychain and passes them in `env`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import io
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from deskmcp.install import probe, servers
from deskmcp.shared import cli

MANIFEST_VERSION: Final = "0.4"
ENTRY_POINT: Final = "server/main.py"
SOURCES: Final = "src"
FOLDER_METAVARS: Final = frozenset({"DIR", "DIRECTORY", "FOLDER"})

MAIN: Final = '''"""Runs `deskmcp {server}` from the sources in this bundle (Claude Desktop starts it with `uv run`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "{sources}"))

from deskmcp.shared.cli import main  # noqa: E402

sys.exit(main(["{server}", *sys.argv[1:]]))
'''


def inventory(server: str, timeout: float = 60) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The server's tools and prompts (with each prompt's text, its arguments as `${arguments.NAME}`), asked of
    the server over stdio as a host would."""
    connection = probe.Connection(servers.run_command(server), _base_env())
    try:
        capabilities = probe.handshake(connection, timeout).get("capabilities", {})
        tools = connection.request("tools/list", {}, timeout).get("tools", []) if "tools" in capabilities else []
        prompts = []
        if "prompts" in capabilities:
            for prompt in connection.request("prompts/list", {}, timeout).get("prompts", []):
                names = [argument["name"] for argument in prompt.get("arguments", [])]
                placeholders = {name: "${arguments." + name + "}" for name in names}
                result = connection.request("prompts/get", {"name": prompt["name"], "arguments": placeholders}, timeout)
                texts = [m["content"].get("text", "") for m in result.get("messages", []) if "content" in m]
                prompts.append({**prompt, "argument_names": names, "text": "\n\n".join(filter(None, texts))})
    except probe.ProbeError as exc:
        raise SystemExit(f"deskmcp bundle: {server} did not answer: {exc}\n{connection.stderr}") from None
    finally:
        connection.close()
    return tools, prompts


def _base_env() -> dict[str, str]:
    """This environment without deskmcp settings, so the manifest shows the server's defaults."""
    return {key: value for key, value in os.environ.items() if not key.startswith("DESKMCP_")}


def user_config(server: str) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The manifest's `user_config`, and the args and env that carry each value to the server."""
    config: dict[str, Any] = {}
    args: list[str] = []
    for action in servers.parser(server)._actions:
        folders = action.nargs in ("*", "+") and str(action.metavar).upper() in FOLDER_METAVARS
        if not action.option_strings and folders:
            config[action.dest] = {
                "type": "directory",
                "title": action.dest.replace("_", " ").capitalize(),
                "description": action.help or action.dest,
                "multiple": True,
                "required": action.nargs == "+",
                "default": [],
            }
            args.append("${user_config." + action.dest + "}")
    env = {}
    for setting in servers.settings_of(server):
        key = setting.name.lower()
        default = "" if setting.default is None or setting.secret else str(setting.default)
        config[key] = {
            "type": "string",
            "title": setting.name.replace("_", " ").capitalize(),
            "description": setting.help,
            "required": bool(setting.required),
            "default": default,
            **({"sensitive": True} if setting.secret else {}),
        }
        env[setting.variable(server)] = "${user_config." + key + "}"
    return config, args, env


def manifest(server: str) -> dict[str, Any]:
    spec = servers.spec(server)
    version = importlib.metadata.version("deskmcp")
    tools, prompts = inventory(server)
    config, args, env = user_config(server)
    command = {"command": "uv", "args": ["run", "--directory", "${__dirname}", "${__dirname}/" + ENTRY_POINT, *args]}
    result: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": f"deskmcp-{server}",
        "display_name": f"deskmcp {server}",
        "version": version,
        "description": spec.description,
        "long_description": cli.SERVERS[server][1],
        "author": {"name": "deskmcp contributors"},
        "server": {"type": "uv", "entry_point": ENTRY_POINT, "mcp_config": {**command, "env": env}},
        "tools": [{"name": tool["name"], "description": tool.get("description", "")} for tool in tools],
        "tools_generated": False,
        "prompts": [
            {
                "name": prompt["name"],
                "description": prompt.get("description", ""),
                "arguments": prompt["argument_names"],
                "text": prompt["text"] or prompt.get("description", prompt["name"]),
            }
            for prompt in prompts
        ],
        "prompts_generated": False,
        "keywords": ["mcp", "deskmcp", server],
        "license": "MIT",
        "compatibility": {
            "platforms": ["darwin", "win32", "linux"],
            "runtimes": {"python": importlib.metadata.metadata("deskmcp")["Requires-Python"] or ">=3.10"},
        },
        "user_config": config,
    }
    if not result["prompts"]:
        del result["prompts"], result["prompts_generated"]
    return result


def pyproject(server: str) -> str:
    """A uv project of deskmcp's runtime dependencies (not a package: the sources sit beside it)."""
    metadata = importlib.metadata.metadata("deskmcp")
    requires = [r for r in importlib.metadata.requires("deskmcp") or [] if "extra ==" not in r]
    lines = [
        "[project]",
        f'name = "deskmcp-{server}-bundle"',
        f'version = "{metadata["Version"]}"',
        f'requires-python = "{metadata["Requires-Python"] or ">=3.10"}"',
        "dependencies = [",
        *(f"    {json.dumps(requirement)}," for requirement in requires),
        "]",
        "",
        "[tool.uv]",
        "package = false",
        "",
    ]
    return "\n".join(lines)


def source_files(server: str) -> dict[str, bytes]:
    """deskmcp's shared layer and this one server's package, by their path in the bundle."""
    files: dict[str, bytes] = {}
    packages = ["deskmcp.shared", "deskmcp.servers", cli.SERVERS[server][0]]
    for package in packages:
        folder = Path(importlib.import_module(package).__file__ or "").parent
        # deskmcp.servers itself: its __init__.py, not the other servers beside this one
        found = folder.glob("__init__.py") if package == "deskmcp.servers" else folder.rglob("*")
        for path in sorted(found):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                relative = "/".join(package.split(".")) + "/" + path.relative_to(folder).as_posix()
                files[f"{SOURCES}/{relative}"] = path.read_bytes()
    version = importlib.metadata.version("deskmcp")
    files[f"{SOURCES}/deskmcp-{version}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: deskmcp\nVersion: {version}\n".encode()
    )
    return files


def build(server: str, folder: Path) -> Path:
    """Write `deskmcp-<server>-<version>.mcpb` into `folder`; its path."""
    data = manifest(server)
    files = {
        "manifest.json": (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode(),
        "pyproject.toml": pyproject(server).encode(),
        ENTRY_POINT: MAIN.format(server=server, sources=SOURCES).encode(),
        **source_files(server),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"deskmcp-{server}-{data['version']}.mcpb"
    target.write_bytes(buffer.getvalue())
    return target


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="deskmcp bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("server", choices=servers.names(), metavar="server", help=", ".join(servers.names()))
    parser.add_argument("-o", "--output", type=Path, default=Path(), metavar="DIR", help="default: this folder")
    args = parser.parse_args(argv)
    target = build(args.server, args.output)
    print(f"wrote {target} ({target.stat().st_size:,} bytes): open it with Claude Desktop to install", file=sys.stdout)
    return 0
