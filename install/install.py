"""`deskmcp install <client> [server [server options] ...]`: add deskmcp servers to a host's config, safely.

deskmcp install claude-desktop filesystem ~/Documents calculator
deskmcp install cursor --all --dry-run
deskmcp install vscode memory --env TOKEN          # VS Code asks for the value; it never lands in the file
"""

from __future__ import annotations

import argparse
import base64
import difflib
import json
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deskmcp.install import changes, configfile, entries, servers
from deskmcp.install.documents import ConfigError, ParseError, open_document
from deskmcp.install.hosts import HOSTS, Host, Platform

USAGE_EXIT = 2


def diff(outcome: configfile.Outcome, mask: Callable[[str], str]) -> str:
    """The unified diff of a change, secrets masked, line endings shown as plain newlines."""
    old = (outcome.old or "").splitlines(keepends=True)
    new = outcome.new.splitlines(keepends=True)
    label = str(outcome.path)
    lines = difflib.unified_diff(old, new, label if outcome.old is not None else "/dev/null", label)
    return "".join(mask(line.rstrip("\r\n")) + "\n" for line in lines)


def cursor_link(name: str, entry: dict[str, Any]) -> str:
    """Cursor's one-click install link for `entry` (cursor.com/docs/mcp/install-links)."""
    config = base64.b64encode(json.dumps(entry, separators=(",", ":")).encode()).decode()
    query = urllib.parse.urlencode({"name": name, "config": config}, quote_via=urllib.parse.quote)
    return f"cursor://anysphere.cursor-deeplink/mcp/install?{query}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskmcp install",
        usage="deskmcp install <client> [server [server options] ...] [--all] [options]",
        description="Add deskmcp servers to a host's config. Options after a server's name that are not listed "
        "below are that server's (deskmcp <server> --help), e.g. the filesystem's folders.",
        allow_abbrev=False,
        epilog="clients: " + ", ".join(HOSTS) + "\nservers: " + ", ".join(servers.names()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("client", choices=HOSTS, metavar="client", help="the host: " + ", ".join(HOSTS))
    parser.add_argument("--all", action="store_true", help="every deskmcp server")
    parser.add_argument("--name", help="the entry's name in the config (default: the server's name)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting (PRECISION=20, or its DESKMCP_ variable, or NAME_FILE=/path); a bare KEY has the host fill "
        "it from your environment or a prompt where it can",
    )
    parser.add_argument("--scope", choices=("user", "project"), default="user", help="default: user")
    parser.add_argument("--launcher", choices=("uvx", "python"), default="uvx", help="default: uvx")
    parser.add_argument("--from", dest="source", metavar="SPEC", help="what uvx installs deskmcp from (a wheel, ...)")
    parser.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    parser.add_argument("--force", action="store_true", help="create a missing config; replace a foreign entry")
    parser.add_argument("--link", action="store_true", help="cursor: print the install link instead of writing")
    return parser


def split_servers(rest: Sequence[str], *, prog: str) -> list[tuple[str, list[str]]]:
    """`filesystem ~/Docs --read-only calculator` -> [("filesystem", [...]), ("calculator", [])]."""
    groups: list[tuple[str, list[str]]] = []
    known = servers.names()
    for token in rest:
        if token in known:
            groups.append((token, []))
        elif not groups:
            raise SystemExit(f"{prog}: unknown server {token!r}; choose from: {', '.join(known)}")
        else:
            groups[-1][1].append(token)
    return groups


def absolute_arguments(args: Sequence[str]) -> list[str]:
    """Folders as the host will need them: `~` expanded and existing relative paths made absolute (the host
    starts the server in a folder of its own choosing)."""
    result = []
    for arg in args:
        if not arg.startswith("-"):
            path = Path(arg).expanduser()
            if arg.startswith("~") or (not path.is_absolute() and path.exists()):
                arg = str(path.absolute())
        result.append(arg)
    return result


def ask_servers(prog: str, verb: str) -> list[tuple[str, list[str]]]:
    """Which servers, asked on the terminal; without one, a usage error that lists them."""
    known = servers.names()
    if not sys.stdin.isatty():
        msg = f"{prog}: name the servers to {verb} ({', '.join(known)}) or use --all"
        raise SystemExit(msg)
    for number, name in enumerate(known, 1):
        print(f"  {number}. {name}")
    answer = input(f"Which servers to {verb}? (numbers or names, or 'all'): ").replace(",", " ").split()
    if answer == ["all"]:
        return [(name, []) for name in known]
    chosen = []
    for word in answer:
        name = known[int(word) - 1] if word.isdigit() and 0 < int(word) <= len(known) else word
        if name not in known:
            raise SystemExit(f"{prog}: unknown server {word!r}")
        chosen.append((name, []))
    if not chosen:
        raise SystemExit(f"{prog}: nothing chosen")
    return chosen


class Plan:
    """The entries to write for one host, the notes to print, and the secrets to mask while printing."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.entries: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.mask = entries.Masker()

    def add(self, name: str, server: str, args: list[str], env: list[entries.EnvValue], start: entries.Launcher):
        plain = {value.variable: value.value for value in env if value.value is not None}
        entry = entries.build_entry(self.host.entry_type, start, server, args, plain)
        for value in env:
            if value.value is None:
                referred = self.host.refer(entry, value.variable)
                if referred is None:
                    msg = (
                        f"{self.host.title} cannot fill {value.variable} from your environment or a prompt: give "
                        f"the value (--env {value.variable}=...) or a file that holds it "
                        f"(--env {value.variable}_FILE=/path/to/file)"
                    )
                    raise entries.EntryError(msg)
                entry = referred
            elif value.secret:
                self.mask.add(value.value)
                self.notes.append(self._secret_note(name, value))
        self.entries[name] = entry

    def _secret_note(self, name: str, value: entries.EnvValue) -> str:
        safer = [f"--env {value.variable}_FILE=/path/to/file (a file only you can read)"]
        if self.host.refer({}, value.variable) is not None:
            how = "asks for it" if self.host.name == "vscode" else "takes it from your environment"
            safer.insert(0, f"--env {value.variable} alone ({self.host.title} {how})")
        return (
            f"note: {value.variable} of {name!r} is a secret and is written in plain text into the config "
            f"(masked here). Safer: " + ", or ".join(safer) + "."
        )


def _env_values(server: str, pairs: list[tuple[str, str | None]], used: set[str]) -> list[entries.EnvValue]:
    shared = servers.setting_names()
    values = []
    for key, value in pairs:
        match = entries.match_env(server, servers.settings_of(server), key, shared)
        if match is not None:
            used.add(key)
            values.append(entries.env_value(match[0], match[1], value))
    return values


def _close_setting(key: str) -> str | None:
    """A setting name `key` looks like a typo of (PRECISON for PRECISION), for keys that would pass through."""
    names = servers.setting_names()
    upper = key.upper().removesuffix("_FILE")
    if upper in names or upper.startswith("DESKMCP_"):
        return None
    close = difflib.get_close_matches(upper, names, n=1, cutoff=0.8)
    return close[0] if close else None


def build_plan(host: Host, groups: list[tuple[str, list[str]]], args: argparse.Namespace) -> Plan:
    pairs = entries.parse_env_options(args.env)
    start = entries.launcher(host.platform, args.launcher, args.source)
    plan = Plan(host)
    used: set[str] = set()
    for server, server_args in groups:
        server_args = absolute_arguments(server_args)
        servers.check_arguments(server, server_args)
        name = args.name or server
        if not host.valid_name(name):
            raise entries.EntryError(f"{host.title} does not accept the entry name {name!r}; choose another --name")
        plan.add(name, server, server_args, _env_values(server, pairs, used), start)
    for key, _ in pairs:
        if key in used and (close := _close_setting(key)):
            msg = f"--env {key}: not a deskmcp setting; did you mean {close}? (other variables pass through as given)"
            raise entries.EntryError(msg)
    if unknown := [key for key, _ in pairs if key not in used]:
        names = ", ".join(s.name for server, _ in groups for s in servers.settings_of(server)) or "none"
        msg = f"--env {', '.join(unknown)}: not a setting of {', '.join(s for s, _ in groups)} (settings: {names})"
        raise entries.EntryError(msg)
    return plan


def write_plan(plan: Plan, path: Path, *, create: bool, dry_run: bool, force: bool) -> configfile.Outcome:
    host = plan.host

    def edit(old: str | None) -> str:
        doc = open_document(old or "", host.syntax)
        before = doc.data()
        plan.mask.add_config_secrets(before)
        existing = changes.servers_in(before, host)
        expected = {}
        for name, entry in plan.entries.items():
            foreign = name in existing and entries.deskmcp_server(existing[name]) is None
            if foreign and not force:
                command = " ".join(entries.command_line(existing[name])) if isinstance(existing[name], dict) else ""
                msg = (
                    f"{name!r} is another server's entry ({command.strip() or 'not deskmcp'}); use --name to add "
                    "deskmcp's beside it, or --force to replace it"
                )
                raise ConfigError(msg)
            changes.put(doc, host, name, entry, replace=foreign)
            expected[name] = entry if foreign else changes.merged(existing.get(name), entry)
        changes.verify(before, doc.data(), host, expected)
        return doc.text

    return configfile.change(path, edit, create=create, dry_run=dry_run)


def report(plan: Plan, outcome: configfile.Outcome, dry_run: bool) -> None:
    host = plan.host
    names = ", ".join(plan.entries)
    if dry_run:
        print(diff(outcome, plan.mask) if outcome.changed else f"{outcome.path}: no change needed")
    elif not outcome.changed:
        print(f"{host.title}: {names} already installed as asked in {outcome.path}; nothing changed")
    else:
        verb = "created" if outcome.old is None else "updated"
        print(f"{host.title}: {verb} {outcome.path} with {names}")
        if outcome.backup:
            print(f"  the previous file is kept as {outcome.backup}")
        print(f"  restart {host.title} (or reload its MCP servers) to use it; check it with `deskmcp doctor`")
    for note in plan.notes:
        print(note, file=sys.stderr)


def print_links(plan: Plan) -> None:
    for name, entry in plan.entries.items():
        env = entry.get("env", {})
        linked = {**entry, "env": {k: "${env:" + k + "}" if plan.mask(v) != v else v for k, v in env.items()}}
        if not env:
            linked.pop("env")
        print(f"{name}: {cursor_link(name, linked)}")
    if any(plan.mask(str(v)) != str(v) for e in plan.entries.values() for v in e.get("env", {}).values()):
        print("note: secret values are not put in links; the link has Cursor read them from your environment")


def fail(prog: str, path: Path, exc: Exception) -> int:
    """Print why nothing was written (a parse error with the file, line and column) and return exit code 1."""
    if isinstance(exc, ParseError):
        print(f"{prog}: {path}: {exc}", file=sys.stderr)
        print("  deskmcp left the file unchanged; fix it (or move it away) and run again", file=sys.stderr)
    elif isinstance(exc, ConfigError) and not isinstance(exc, configfile.FileError):
        print(f"{prog}: {path}: {exc}; the file is unchanged", file=sys.stderr)
    else:
        print(f"{prog}: {exc}", file=sys.stderr)
    return 1


def main(argv: Sequence[str], platform: Platform | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    prog = parser.prog
    groups = split_servers(rest, prog=prog)
    if args.all and groups:
        parser.error("name servers or use --all, not both")
    if args.all:
        groups = [(name, []) for name in servers.names()]
    if not groups:
        groups = ask_servers(prog, "install")
    if args.name and len(groups) > 1:
        parser.error("--name needs exactly one server")
    if args.link and args.client != "cursor":
        parser.error("--link makes Cursor's install link; use it with cursor")
    host = HOSTS[args.client](platform or Platform.current())
    if args.scope not in host.scopes:
        parser.error(f"{host.title} has no project-level config; use --scope user")
    path = Path(host.config_file(args.scope))
    try:
        plan = build_plan(host, groups, args)
        if args.link:
            print_links(plan)
            return 0
        create = args.force or host.installed()
        if not create and not path.exists():
            where = ", ".join(str(marker) for marker in host.markers)
            print(
                f"{prog}: {host.title} does not look installed here ({where} not found). Install it and start it "
                f"once, or use --force to create {path}",
                file=sys.stderr,
            )
            return 1
        outcome = write_plan(plan, path, create=create, dry_run=args.dry_run, force=args.force)
    except (ConfigError, entries.EntryError) as exc:
        return fail(prog, path, exc)
    report(plan, outcome, args.dry_run)
    return 0
