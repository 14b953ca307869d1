"""`deskmcp list`: the hosts found on this machine, their config files, and the deskmcp entries in each, with
whether each entry's command can be found the way that host looks for it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskmcp.install import changes, configfile, entries
from deskmcp.install.documents import ConfigError, open_document
from deskmcp.install.hosts import HOSTS, Host, Platform


@dataclass
class FoundConfig:
    """A host config file that exists, with its deskmcp entries (or why it could not be read)."""

    host: Host
    scope: str
    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None


def read_config(host: Host, scope: str, path: Path) -> FoundConfig:
    found = FoundConfig(host, scope, path)
    try:
        raw = path.read_bytes()
        data = open_document(configfile.decode(raw, path), host.syntax).data()
        found.entries = {name: changes.servers_in(data, host)[name] for name in changes.ours(data, host)}
    except (OSError, ConfigError) as exc:
        found.error = str(exc) if isinstance(exc, ConfigError) else f"cannot read: {exc.strerror or exc}"
    return found


def found_configs(platform: Platform, clients: Sequence[str] = ()) -> Iterator[FoundConfig]:
    """Every existing config file of the hosts (all, or those named), user scope first, then this project's."""
    for name, host_class in HOSTS.items():
        if clients and name not in clients:
            continue
        host = host_class(platform)
        for scope in host.scopes:
            path = Path(host.config_file(scope))
            if path.is_file():
                yield read_config(host, scope, path)


def command_problem(host: Host, entry: dict[str, Any]) -> str | None:
    """Why the host could not start the entry's command (None: it can), with the fix."""
    command = str(entry.get("command", ""))
    path = host.platform.host_environment(host.gui).get("PATH", "")
    if entries.resolve_command(command, path, host.platform) is not None:
        return None
    if Path(command).is_absolute():
        return f"{command} does not exist; run `deskmcp install {host.name}` for this server again"
    where = "a desktop app's PATH" if host.gui else "PATH"
    return (
        f"{command!r} is not on {where} ({path}); `deskmcp install {host.name}` writes its absolute path "
        "(a GUI app does not see the shell's PATH)"
    )


def main(argv: Sequence[str], platform: Platform | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deskmcp list", description=__doc__)
    parser.add_argument("clients", nargs="*", choices=[[], *HOSTS], metavar="client", help="default: every host")
    args = parser.parse_args(argv)
    platform = platform or Platform.current()
    configs = list(found_configs(platform, args.clients))
    with_config = {found.host.name for found in configs}
    installed = [cls(platform) for name, cls in HOSTS.items() if (not args.clients or name in args.clients)]
    for host in installed:
        if host.name not in with_config and host.installed():
            print(f"{host.title} ({host.name}): installed, no config file yet ({host.user_file})")
    for found in configs:
        print(f"{found.host.title} ({found.host.name}, {found.scope}): {found.path}")
        if found.error:
            print(f"  cannot be read: {found.error}")
        elif not found.entries:
            print("  no deskmcp entries")
        for name, entry in found.entries.items():
            problem = command_problem(found.host, entry)
            line = " ".join(entries.command_line(entry))
            print(f"  {name}: {line}")
            print(f"    {'ok: the command resolves' if problem is None else 'problem: ' + problem}")
    missing = [cls.title for name, cls in HOSTS.items() if name not in with_config and not cls(platform).installed()]
    if missing and not args.clients:
        print(f"not found here: {', '.join(missing)}")
    return 0
