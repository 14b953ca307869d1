"""`deskmcp call <server> <tool> [key=value ...] [--json '{...}'] [-- server options]`: one tool call from the
terminal, through a real server over its pipes. The result is printed as the model would read it; a tool's
`isError` result exits 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from deskmcp.install import probe, servers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskmcp call",
        usage="deskmcp call <server> <tool> [key=value ...] [--json JSON] [-- server options]",
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,
    )
    parser.add_argument("server", choices=servers.names(), metavar="server", help=", ".join(servers.names()))
    parser.add_argument("tool")
    parser.add_argument("arguments", nargs="*", metavar="key=value", help="a string, or JSON where the tool wants it")
    parser.add_argument("--json", dest="json_arguments", metavar="JSON", help="all the arguments as a JSON object")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the answer (default 60)")
    return parser


def _property_types(schema: dict[str, Any], key: str) -> set[str]:
    prop = schema.get("properties", {}).get(key, {})
    options = [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])]
    types: set[str] = set()
    for option in options:
        declared = option.get("type")
        types.update([declared] if isinstance(declared, str) else declared or [])
    return types


def parse_arguments(pairs: Sequence[str], raw_json: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """`key=value` pairs typed by the tool's schema: kept as text where it takes a string, else read as JSON."""
    arguments: dict[str, Any] = {}
    if raw_json is not None:
        try:
            arguments = json.loads(raw_json)
        except ValueError as exc:
            raise SystemExit(f"deskmcp call: --json is not valid JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise SystemExit("deskmcp call: --json must be a JSON object")
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key:
            raise SystemExit(f"deskmcp call: expected key=value, got {pair!r}")
        types = _property_types(schema, key)
        if types == {"string"}:
            arguments[key] = text
            continue
        try:
            arguments[key] = json.loads(text)
        except ValueError:
            if "string" in types or not types:
                arguments[key] = text
            else:
                raise SystemExit(f"deskmcp call: {key} takes {'/'.join(sorted(types))}; {text!r} is not") from None
    return arguments


def render(result: dict[str, Any]) -> str:
    """The tool result as text: text blocks as they are, other blocks described, else the structured content."""
    parts = []
    for block in result.get("content", []):
        kind = block.get("type")
        if kind == "text":
            parts.append(block.get("text", ""))
        elif kind in ("image", "audio"):
            size = len(block.get("data", "")) * 3 // 4
            parts.append(f"[{kind} {block.get('mimeType', '')}, about {size:,} bytes]")
        elif kind == "resource":
            resource = block.get("resource", {})
            parts.append(resource.get("text") or f"[resource {resource.get('uri', '')}]")
        elif kind == "resource_link":
            parts.append(f"[link {block.get('uri', '')}]")
    if not parts and "structuredContent" in result:
        parts.append(json.dumps(result["structuredContent"], indent=2, ensure_ascii=False))
    return "\n".join(parts)


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    server_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args = _parser().parse_args(argv)
    connection = probe.Connection(servers.run_command(args.server, server_args), os.environ)
    try:
        probe.handshake(connection, args.timeout)
        tools = {tool["name"]: tool for tool in connection.request("tools/list", {}, args.timeout).get("tools", [])}
        if args.tool not in tools:
            print(f"deskmcp call: {args.server} has no tool {args.tool!r}; it has: {', '.join(tools)}", file=sys.stderr)
            return 2
        arguments = parse_arguments(args.arguments, args.json_arguments, tools[args.tool].get("inputSchema", {}))
        result = connection.request("tools/call", {"name": args.tool, "arguments": arguments}, args.timeout)
    except probe.ProbeError as exc:
        connection.close()
        print(f"deskmcp call: {exc}", file=sys.stderr)
        if connection.stderr.strip():
            print(connection.stderr.rstrip(), file=sys.stderr)
        return 1
    connection.close()
    text = render(result)
    if result.get("isError"):
        print(text, file=sys.stderr)
        return 1
    print(text)
    return 0
