"""`deskmcp doctor`: start every deskmcp entry in every host config found, exactly as that host would.

Each entry is started with its own command, args and env on top of the short environment hosts pass on (and, for
desktop apps, a desktop app's PATH), once per protocol era: the handshake (`initialize`, what hosts send today)
and 2026-07-28 (`server/discover`). The report gives the time to ready, the tools, and anything the server wrote
to stderr; any failure exits 1 with the fix.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deskmcp.install import entries, probe
from deskmcp.install.hosts import HOSTS, Host, Platform
from deskmcp.install.listing import FoundConfig, command_problem, found_configs

ERAS = (("handshake", probe.HANDSHAKE_VERSION), ("modern", probe.MODERN_VERSION))


@dataclass
class Check:
    found: FoundConfig
    name: str
    entry: dict[str, Any]
    env: dict[str, str]
    skipped: str | None = None
    reports: tuple[probe.Report, ...] = ()

    @property
    def failed(self) -> bool:
        return self.skipped is None and any(report.error for report in self.reports)


def prepare(found: FoundConfig, name: str, entry: dict[str, Any], environ: dict[str, str]) -> Check:
    host = found.host
    env, missing = host.server_env(entry, environ)
    check = Check(found, name, entry, {**host.platform.host_environment(host.gui), **env})
    prompts = [ref for ref in missing if ref.startswith("${input:")]
    if prompts:
        check.skipped = f"{host.title} asks for {', '.join(prompts)} when it starts the server; doctor cannot answer"
    elif missing:
        check.reports = (probe.Report("setup", error=f"{', '.join(missing)} is not set in your environment"),)
    return check


def fix_for(check: Check, report: probe.Report) -> str:
    host: Host = check.found.host
    error = report.error or ""
    server = entries.deskmcp_server(check.entry) or "<server>"
    reinstall = f"deskmcp install {host.name} {server}"
    if "is not set in your environment" in error:
        return f"set it where {host.title} can see it, or run `{reinstall} --env NAME=VALUE`"
    if "was not found" in error or "cannot be run" in error:
        return (command_problem(host, check.entry) or f"run `{reinstall}` again") + f" (`{reinstall}`)"
    if "is required but not set" in report.stderr:
        return f"give the missing setting: `{reinstall} --env NAME=VALUE` (see `deskmcp {server} --help`)"
    command = shlex.join(entries.command_line(check.entry))
    if "no answer" in error:
        return f"start it once in a terminal (uvx downloads deskmcp the first time): {command}; or raise --timeout"
    return f"run it in a terminal to see the whole error: {command}"


def run(check: Check, timeout: float) -> Check:
    if check.skipped or check.reports:
        return check
    command = entries.command_line(check.entry)
    with ThreadPoolExecutor(len(ERAS)) as pool:
        futures = [pool.submit(probe.check, command, check.env, era, timeout) for era, _ in ERAS]
        check.reports = tuple(future.result() for future in futures)
    return check


def describe(check: Check) -> list[str]:
    found = check.found
    lines = [f"{found.host.title} ({found.scope}) {check.name}: {shlex.join(entries.command_line(check.entry))}"]
    if check.skipped:
        return [*lines, f"  skipped: {check.skipped}"]
    versions = dict(ERAS)
    for report in check.reports:
        era = versions.get(report.era, report.era)
        if report.error:
            lines.append(f"  FAIL {era}: {report.error}")
            lines.append(f"    fix: {fix_for(check, report)}")
        else:
            names = ", ".join(tool["name"] for tool in report.tools)
            lines.append(f"  ok   {era}: ready in {report.ready_seconds:.2f} s; {len(report.tools)} tools ({names})")
        if report.stderr.strip():
            tail = report.stderr.strip().splitlines()[-5:]
            lines += [f"    stderr: {line}" for line in tail]
    return lines


def main(argv: Sequence[str], platform: Platform | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deskmcp doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("clients", nargs="*", choices=[[], *HOSTS], metavar="client", help="default: every host")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for each answer (default 60)")
    args = parser.parse_args(argv)
    platform = platform or Platform.current()
    checks: list[Check] = []
    unreadable = []
    for found in found_configs(platform, args.clients):
        if found.error:
            unreadable.append(found)
        checks += [prepare(found, name, entry, dict(platform.environ)) for name, entry in found.entries.items()]
    # Two processes (one per era) per check: about one per core, so "ready in" is the entry's own start-up time and
    # not how long it queued behind the others for a CPU (4 checks at once on 2 cores read 4.4 s instead of 1 s).
    with ThreadPoolExecutor(max(1, (os.cpu_count() or 2) // len(ERAS))) as pool:
        checks = list(pool.map(lambda check: run(check, args.timeout), checks))
    for check in checks:
        print("\n".join(describe(check)))
    for found in unreadable:
        print(f"{found.host.title} ({found.scope}): FAIL {found.path} cannot be read: {found.error}")
        print("    fix: correct the file at that line and column (deskmcp will not edit a file it cannot read)")
    failures = sum(check.failed for check in checks) + len(unreadable)
    if not checks and not unreadable:
        print("no deskmcp entries found in any host's config; add one with `deskmcp install <client> <server>`")
        return 0
    print(f"{len(checks)} entries checked, {failures} failed" if failures else f"{len(checks)} entries checked, all ok")
    return 1 if failures else 0
