"""What `install` and `uninstall` change in a parsed config: our entries, and nothing else.

Adding an entry that is already there changes only the keys that differ (its other keys, such as a host's
`disabled` or `autoApprove`, stay; `env` is merged, ours winning). Afterwards `verify` checks the result the
host will read: every other top-level key and every other server must be exactly as before, or nothing is written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from deskmcp.install.documents import ConfigError, Document
from deskmcp.install.entries import deskmcp_server
from deskmcp.install.hosts import INPUT_PREFIX, Host


def servers_in(data: Mapping[str, Any], host: Host) -> dict[str, Any]:
    """The host's map of servers in `data` ({} when there is none)."""
    node: Any = data
    for key in host.servers_key:
        node = node.get(key) if isinstance(node, Mapping) else None
    if node is None:
        return {}
    if not isinstance(node, dict):
        msg = f"'{'.'.join(host.servers_key)}' is not an object, so deskmcp will not change it"
        raise ConfigError(msg)
    return node


def merged(existing: Mapping[str, Any] | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry a host will see after `put`: ours over the existing one, with `env` and `env_vars` merged."""
    result = dict(existing or {})
    for key, value in entry.items():
        current = result.get(key)
        if key == "env" and isinstance(current, dict):
            value = {**current, **value}
        elif key == "env_vars" and isinstance(current, list):
            value = list(dict.fromkeys([*current, *value]))
        result[key] = value
    return result


def put(doc: Document, host: Host, name: str, entry: Mapping[str, Any], *, replace: bool = False) -> None:
    """Add or update the entry `name`, changing only what differs; `replace` writes `entry` as it is."""
    path = [*host.servers_key, name]
    existing = servers_in(doc.data(), host).get(name)
    if existing is None:
        doc.add_entry(path, dict(entry))
    elif replace or not isinstance(existing, dict):
        doc.set(path, dict(entry))
    else:
        target = merged(existing, entry)
        for key, value in target.items():
            current = existing.get(key)
            if key == "env" and isinstance(current, dict):
                for variable, text in value.items():
                    if current.get(variable) != text:
                        doc.set([*path, "env", variable], text)
            elif current != value:
                doc.set([*path, key], value)
    _add_inputs(doc, host, entry)


def _add_inputs(doc: Document, host: Host, entry: Mapping[str, Any]) -> None:
    for variable, value in (entry.get("env") or {}).items():
        item = host.input_for(str(variable), str(value))
        inputs = doc.data().get("inputs")
        known = {i.get("id") for i in inputs if isinstance(i, dict)} if isinstance(inputs, list) else set()
        if item is not None and item["id"] not in known:
            doc.append(["inputs"], item)


def remove(doc: Document, host: Host, names: Iterable[str]) -> None:
    """Remove the entries `names`, and VS Code inputs of ours that no remaining entry uses."""
    for name in names:
        doc.delete([*host.servers_key, name])
    inputs = doc.data().get("inputs")
    if not isinstance(inputs, list):
        return
    used = {str(v) for entry in servers_in(doc.data(), host).values() for v in _env_values(entry)}
    for index in reversed(range(len(inputs))):
        item = inputs[index]
        if isinstance(item, dict) and str(item.get("id", "")).startswith(INPUT_PREFIX):
            if "${input:" + str(item["id"]) + "}" not in used:
                doc.remove_item(["inputs"], index)  # type: ignore[attr-defined]


def _env_values(entry: Any) -> list[Any]:
    env = entry.get("env") if isinstance(entry, dict) else None
    return list(env.values()) if isinstance(env, dict) else []


def ours(data: Mapping[str, Any], host: Host) -> dict[str, str]:
    """Entry name -> deskmcp server, for every deskmcp entry in `data`."""
    found = {name: deskmcp_server(entry) for name, entry in servers_in(data, host).items()}
    return {name: server for name, server in found.items() if server is not None}


def _everything_else(data: Mapping[str, Any], host: Host, names: Iterable[str]) -> Any:
    rest = copy.deepcopy(dict(data))
    node: Any = rest
    for key in host.servers_key[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        servers = node.get(host.servers_key[-1])
        if isinstance(servers, dict):
            for name in names:
                servers.pop(name, None)
            if not servers:
                node.pop(host.servers_key[-1])
    if isinstance(rest.get("inputs"), list):
        rest["inputs"] = [i for i in rest["inputs"] if not str(_id(i)).startswith(INPUT_PREFIX)] or None
        if rest["inputs"] is None:
            rest.pop("inputs")
    return rest


def _id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else None


def verify(before: Mapping[str, Any], after: Mapping[str, Any], host: Host, expected: Mapping[str, Any]) -> None:
    """Refuse (before anything is written) unless the edit changed exactly our entries: `expected` maps each
    entry name we touched to what it must now be (None: gone)."""
    if _everything_else(before, host, expected) != _everything_else(after, host, expected):
        msg = "the edit would have changed settings other than deskmcp's entries, so nothing was written"
        raise ConfigError(msg)
    servers = servers_in(after, host)
    for name, entry in expected.items():
        if servers.get(name) != entry:
            msg = f"the entry {name!r} did not come out as intended, so nothing was written"
            raise ConfigError(msg)
