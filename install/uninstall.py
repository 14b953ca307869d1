"""`deskmcp uninstall <client> [server ...]`: remove deskmcp's entries from a host's config, and nothing else.

With no server named, every deskmcp entry goes; `--name` removes one entry by its name (deskmcp's only, unless
`--force`). Other servers, top-level keys and comments stay byte for byte.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from deskmcp.install import changes, configfile, entries, servers
from deskmcp.install.documents import ConfigError, open_document
from deskmcp.install.hosts import HOSTS, Platform
from deskmcp.install.install import diff, fail


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskmcp uninstall",
        description="Remove deskmcp's entries from a host's config (all of them, or those of the servers named).",
        allow_abbrev=False,
    )
    parser.add_argument("client", choices=HOSTS, metavar="client", help="the host: " + ", ".join(HOSTS))
    parser.add_argument("servers", nargs="*", metavar="server", help="default: every deskmcp server")
    parser.add_argument("--name", action="append", default=[], help="remove this entry (repeatable)")
    parser.add_argument("--scope", choices=("user", "project"), default="user", help="default: user")
    parser.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    parser.add_argument("--force", action="store_true", help="with --name: remove the entry even if not deskmcp's")
    return parser


def main(argv: Sequence[str], platform: Platform | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if unknown := [name for name in args.servers if name not in servers.names()]:
        parser.error(f"unknown server {unknown[0]!r}; choose from: {', '.join(servers.names())}")
    host = HOSTS[args.client](platform or Platform.current())
    if args.scope not in host.scopes:
        parser.error(f"{host.title} has no project-level config; use --scope user")
    path = Path(host.config_file(args.scope))
    if not path.exists():
        print(f"{host.title}: {path} does not exist; nothing to remove")
        return 0
    mask = entries.Masker()
    removed: list[str] = []

    def edit(old: str | None) -> str:
        doc = open_document(old or "", host.syntax)
        before = doc.data()
        mask.add_config_secrets(before)
        present = changes.servers_in(before, host)
        mine = changes.ours(before, host)
        for name in args.name:
            if name in present and name not in mine and not args.force:
                msg = f"{name!r} is not a deskmcp entry; add --force to remove it anyway"
                raise ConfigError(msg)
        wanted = [n for n in present if n in args.name or (not args.name and n in mine)]
        if args.servers:
            wanted = [n for n in wanted if mine.get(n) in args.servers or n in args.name]
        removed[:] = wanted
        changes.remove(doc, host, wanted)
        changes.verify(before, doc.data(), host, dict.fromkeys(wanted))
        return doc.text

    try:
        outcome = configfile.change(path, edit, create=False, dry_run=args.dry_run)
    except (ConfigError, entries.EntryError) as exc:
        return fail(parser.prog, path, exc)
    if args.dry_run:
        print(diff(outcome, mask) if outcome.changed else f"{path}: no change needed")
    elif not removed:
        print(f"{host.title}: no matching deskmcp entries in {path}; nothing changed")
    else:
        print(f"{host.title}: removed {', '.join(removed)} from {path}")
        if outcome.backup:
            print(f"  the previous file is kept as {outcome.backup}")
    return 0
