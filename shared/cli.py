"""The `deskmcp` command: `deskmcp <server> [options]`, `deskmcp --help`, `deskmcp --version`.

Bad command-line values, settings or log levels stop the process before the transport opens, with a
message on stderr (exit 2 for usage, 1 for configuration).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from deskmcp.shared.httpconfig import SETTINGS as HTTP_SETTINGS
from deskmcp.shared.httpconfig import HttpConfig
from deskmcp.shared.httpconfig import add_arguments as add_transport_arguments

if TYPE_CHECKING:
    from deskmcp.shared.app import ServerSpec

# name -> (module defining SPEC, one-line summary). Servers are imported only when run, so that
# `deskmcp --help` stays instant.
SERVERS: Final[dict[str, tuple[str, str]]] = {
    "calculator": ("deskmcp.servers.calculator", "exact arithmetic and statistics; never eval, never hangs"),
    "filesystem": ("deskmcp.servers.filesystem", "files under allowed roots as live resources, plus file tools"),
    "memory": ("deskmcp.servers.memory", "a knowledge graph on SQLite: reference-compatible, ranked, bounded"),
}
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "install": ("deskmcp.install.install", "add servers to a host's config: deskmcp install claude-desktop calculator"),
    "uninstall": ("deskmcp.install.uninstall", "remove deskmcp's entries from a host's config"),
    "list": ("deskmcp.install.listing", "the hosts found here, their config files and deskmcp entries"),
    "doctor": ("deskmcp.install.doctor", "start every installed entry as its host would and report"),
    "call": ("deskmcp.install.call", "call one tool from the terminal: deskmcp call calculator calculate ..."),
    "bundle": ("deskmcp.install.bundle", "write a one-click Claude Desktop bundle (.mcpb) for a server"),
}

MAX_LINE_VARIABLE: Final = "DESKMCP_MAX_LINE_BYTES"
GRACE_VARIABLE: Final = "DESKMCP_SHUTDOWN_GRACE"


def _version() -> str:
    from importlib.metadata import version

    return version("deskmcp")


def _top_level_help() -> str:
    width = max(map(len, [*SERVERS, *COMMANDS]))
    lines = [
        "usage: deskmcp <server> [options]     run a server over stdio (what a desktop host launches)",
        "       deskmcp <server> --transport http [--host H] [--port N] [--path /mcp]",
        "                                      serve it to many clients over Streamable HTTP",
        "       deskmcp <server> --help        that server's options and settings",
        "       deskmcp --version",
        "",
        "servers:",
        *(f"  {name:<{width}}  {summary}" for name, (_, summary) in SERVERS.items()),
    ]
    if COMMANDS:
        lines += ["", "commands:", *(f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items())]
    lines += [
        "",
        "environment:",
        "  DESKMCP_LOG_LEVEL          debug|info|warning|error (default warning); logs go to stderr",
        f"  {MAX_LINE_VARIABLE:<26} longest accepted JSON-RPC line in bytes (default 16 MiB)",
        f"  {GRACE_VARIABLE:<26} seconds to finish in-flight requests at end of input or a signal (default 10)",
        "",
        "environment for --transport http (every server):",
        *(
            f"  {setting.variable('http'):<33} {setting.help}"
            + ("" if setting.secret or not setting.default else f" [default: {setting.default}]")
            for setting in HTTP_SETTINGS
        ),
    ]
    return "\n".join(lines)


def _positive(variable: str, parse: type[int] | type[float], default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SystemExit(f"deskmcp: {variable} must be a positive number, got {raw!r}")
    return value


def _server_parser(spec: ServerSpec) -> argparse.ArgumentParser:
    from deskmcp.shared.settings import env_snippet

    settings_help = "\n".join(
        f"  {s.variable(spec.name)}{' (required)' if s.required else ''}{' (secret)' if s.secret else ''}: {s.help}"
        + ("" if s.secret else f" [default: {s.default!r}]" if s.default is not None else "")
        for s in spec.settings
    )
    epilog = (
        "settings (environment; NAME_FILE reads the value from a file):\n" + settings_help if spec.settings else None
    )
    if spec.settings:
        epilog += "\n\nin a client config:\n" + env_snippet(spec.name, spec.settings)
    if spec.commands:
        listed = "\n".join(f"  deskmcp {spec.name} {summary}" for summary, _ in spec.commands.values())
        epilog = f"{epilog}\n\ncommands:\n{listed}" if epilog else f"commands:\n{listed}"
    parser = argparse.ArgumentParser(
        prog=f"deskmcp {spec.name}",
        description=spec.description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check-config", action="store_true", help="print the effective settings (secrets masked) and exit"
    )
    add_transport_arguments(parser)
    if spec.add_arguments:
        spec.add_arguments(parser)
    return parser


def load_spec(name: str) -> ServerSpec:
    module = importlib.import_module(SERVERS[name][0])
    return module.SPEC


def run_server(spec: ServerSpec, argv: Sequence[str]) -> int:
    """Parse `argv` for `spec`, load its settings, and serve; returns the exit code."""
    from deskmcp.shared import logs
    from deskmcp.shared.settings import SettingsError, describe_settings, load_settings

    args = _server_parser(spec).parse_args(argv)
    try:
        logs.configure()
    except ValueError as exc:
        print(f"deskmcp: {exc}", file=sys.stderr)
        return 1
    try:
        settings = load_settings(spec.name, spec.settings)
        http = load_settings("http", HTTP_SETTINGS) if args.transport == "http" else None
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 1
    max_line = int(_positive(MAX_LINE_VARIABLE, int, 16 * 1024 * 1024))
    grace = _positive(GRACE_VARIABLE, float, 10.0)
    try:
        http_config = HttpConfig.from_options(args, http, grace) if http is not None else None
    except ValueError as exc:
        print(f"deskmcp {spec.name}: {exc}", file=sys.stderr)
        return 1
    if args.check_config:
        print(describe_settings(spec.name, spec.settings, settings))
        print(f"{MAX_LINE_VARIABLE} = {max_line}\n{GRACE_VARIABLE} = {grace}")
        if http is not None:
            print(describe_settings("http", HTTP_SETTINGS, http))
        if spec.describe:
            from deskmcp.shared.app import Config

            print(spec.describe(Config(args, settings)))
        return 0
    return _serve(spec, args, settings, max_line, grace, http_config)


def _serve(
    spec: ServerSpec, args: argparse.Namespace, settings: dict, max_line: int, grace: float, http: HttpConfig | None
) -> int:
    import anyio
    from deskmcp.shared.app import Config, StartupError, serve_http, serve_stdio

    try:
        service = spec.create(Config(args, settings))
    except StartupError as exc:
        print(f"deskmcp {spec.name}: {exc}", file=sys.stderr)
        return 1
    if http is not None:
        try:
            anyio.run(lambda: serve_http(spec.name, service, http))
        except SystemExit as exc:  # uvicorn could not listen (it logged why)
            return 1 if exc.code else 0
        return 0
    anyio.run(lambda: serve_stdio(spec.name, service, max_line_bytes=max_line, grace_seconds=grace))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_level_help())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"deskmcp {_version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name in COMMANDS:
        module = importlib.import_module(COMMANDS[name][0])
        return module.main(rest)
    if name not in SERVERS:
        valid = ", ".join([*SERVERS, *COMMANDS])
        print(f"deskmcp: unknown server or command {name!r}; choose one of: {valid}", file=sys.stderr)
        return 2
    spec = load_spec(name)
    if rest and rest[0] in spec.commands:
        return spec.commands[rest[0]][1](rest[1:])
    return run_server(spec, rest)


if __name__ == "__main__":
    sys.exit(main())
