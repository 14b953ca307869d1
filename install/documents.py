"""A host's config file as text we can change one key at a time: JSON, JSONC, or TOML.

Each document keeps the text and re-reads it after every edit; `set`, `delete` and `append` touch only the key
they name. JSON and JSONC go through `jsonc` (in-place span edits, the way VS Code's jsonc editor works: json-five's
round trip keeps comments too, but took 4.7 s to read a 5,000-member object and needs hand-built whitespace nodes to
insert one, while a span edit is a string slice). TOML goes through tomlkit, which keeps comments and style when a
value changes; a new table is appended as text and a removed one is cut by its lines, because tomlkit files a
comment above the next table under the table before it and would delete it with ours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Protocol

import tomlkit
import tomlkit.exceptions
from deskmcp.install import jsonc

Path = Sequence[str]


class ConfigError(Exception):
    """The file cannot be changed safely; the message says where and why."""


class ParseError(ConfigError):
    """The file does not parse; the message names the line and column."""


class Document(Protocol):
    text: str

    def data(self) -> dict[str, Any]: ...

    def set(self, path: Path, value: Any) -> None: ...

    def add_entry(self, path: Path, value: dict[str, Any]) -> None: ...

    def delete(self, path: Path) -> None: ...

    def append(self, path: Path, item: Any) -> None: ...


def open_document(text: str, syntax: str) -> Document:
    """The document for `syntax` ("json", "jsonc" or "toml"); `ParseError` if the text does not parse."""
    if syntax == "toml":
        return TomlDocument(text)
    return JsonDocument(text, comments=syntax == "jsonc")


def _dig(data: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


class JsonDocument:
    """A JSON (or, with `comments`, JSONC) object edited in place."""

    def __init__(self, text: str, *, comments: bool) -> None:
        self.comments = comments
        self.text = text
        self.root: jsonc.Node | None = None
        self._parse()

    def _parse(self) -> None:
        if not self.text.strip("\ufeff \t\r\n"):
            self.root = None
            return
        try:
            self.root = jsonc.parse(self.text, comments=self.comments)
        except jsonc.ParseError as exc:
            raise ParseError(str(exc)) from None
        if self.root.kind != "object":
            msg = "the top level is not a JSON object ({...})"
            raise ConfigError(msg)

    def data(self) -> dict[str, Any]:
        return {} if self.root is None else self.root.value

    def _root(self) -> jsonc.Node:
        if self.root is None:
            self.text = self.text.strip(" \t\r\n") + "{}" + jsonc.Style.of(self.text).eol
            self._parse()
        assert self.root is not None
        return self.root

    def _object_at(self, path: Path) -> jsonc.Node | None:
        node = self._root()
        for depth, key in enumerate(path):
            child = node.member(key)
            if child is None:
                return None
            node = child.node
            if node.kind != "object":
                msg = f"'{'.'.join(path[: depth + 1])}' is not an object, so deskmcp will not change it"
                raise ConfigError(msg)
        return node

    def set(self, path: Path, value: Any) -> None:
        style = jsonc.Style.of(self.text)
        node = self._root()
        for depth, key in enumerate(path):
            child = node.member(key)
            if child is None:
                for outer in reversed(path[depth + 1 :]):
                    value = {outer: value}
                self.text = jsonc.insert(self.text, node, key, value, style)
                break
            if depth == len(path) - 1:
                self.text = jsonc.replace(self.text, child, value, style)
                break
            node = child.node
            if node.kind != "object":
                msg = f"'{'.'.join(path[: depth + 1])}' is not an object, so deskmcp will not change it"
                raise ConfigError(msg)
        self._parse()

    def add_entry(self, path: Path, value: dict[str, Any]) -> None:
        self.set(path, value)

    def delete(self, path: Path) -> None:
        while (parent := self._object_at(path[:-1])) is not None and parent.member(path[-1]) is not None:
            index = max(i for i, child in enumerate(parent.children) if child.key == path[-1])
            self.text = jsonc.delete(self.text, parent, index)
            self._parse()

    def append(self, path: Path, item: Any) -> None:
        parent = self._object_at(path[:-1])
        child = parent.member(path[-1]) if parent is not None else None
        if child is None:
            self.set(path, [item])
            return
        if child.node.kind != "array":
            msg = f"'{'.'.join(path)}' is not a list, so deskmcp will not change it"
            raise ConfigError(msg)
        self.text = jsonc.insert(self.text, child.node, None, item, jsonc.Style.of(self.text))
        self._parse()

    def remove_item(self, path: Path, index: int) -> None:
        parent = self._object_at(path[:-1])
        child = parent.member(path[-1]) if parent is not None else None
        if child is not None and child.node.kind == "array":
            self.text = jsonc.delete(self.text, child.node, index)
            self._parse()


# --- TOML -----------------------------------------------------------------------------------------------------

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else tomlkit.string(key).as_string()


def _toml_inline(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _toml_inline(item)
        return table
    return tomlkit.item(value)


def _read_key(text: str, pos: int, stop: str) -> tuple[tuple[str, ...], int]:
    """A dotted TOML key starting at `pos`, up to the first `stop` character outside quotes."""
    parts: list[str] = []
    current = ""
    while pos < len(text) and text[pos] not in stop:
        char = text[pos]
        if char in "\"'":
            end = text.find(char, pos + 1)
            while char == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(char, end + 1)
            end = len(text) if end < 0 else end
            raw = text[pos : end + 1]
            current += tomlkit.parse(f"k = {raw}")["k"] if char == '"' else raw[1:-1]
            pos = end + 1
        elif char == ".":
            parts.append(current.strip())
            current = ""
            pos += 1
        else:
            current += char
            pos += 1
    parts.append(current.strip())
    return tuple(parts), pos


def _value_end(lines: list[str], index: int, column: int) -> int:
    """The index of the last line of a value that starts at `lines[index][column:]`."""
    depth, quote = 0, ""
    while True:
        text, pos = lines[index], column
        while pos < len(text):
            if quote:
                end = text.find(quote, pos)
                while end > 0 and quote == '"""' and text[end - 1] == "\\":
                    end = text.find(quote, end + 1)
                if end < 0:
                    break
                pos, quote = end + 3, ""
                continue
            char = text[pos]
            if text.startswith(('"""', "'''"), pos):
                quote, pos = text[pos : pos + 3], pos + 3
            elif char in "\"'":
                end = text.find(char, pos + 1)
                while char == '"' and end > 0 and text[end - 1] == "\\":
                    end = text.find(char, end + 1)
                pos = len(text) if end < 0 else end + 1
            elif char == "#":
                break
            else:
                depth += (char in "[{") - (char in "]}")
                pos += 1
        if (not quote and depth <= 0) or index + 1 >= len(lines):
            return index
        index, column = index + 1, 0


def toml_statements(text: str) -> list[tuple[tuple[str, ...], int, int, bool]]:
    """(full key path, first line, last line, is a table header) of each table header and key/value."""
    lines = text.splitlines(keepends=True)
    table: tuple[str, ...] = ()
    statements = []
    index = 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        indent = len(lines[index]) - len(stripped)
        if not stripped.strip() or stripped.startswith("#"):
            index += 1
            continue
        if stripped.startswith("["):
            brackets = 2 if stripped.startswith("[[") else 1
            table, _ = _read_key(lines[index], indent + brackets, "]")
            statements.append((table, index, index, True))
            index += 1
            continue
        key, equals = _read_key(lines[index], indent, "=")
        last = _value_end(lines, index, equals + 1)
        statements.append((table + key, index, last, False))
        index = last + 1
    return statements


class TomlDocument:
    """A TOML file: values changed through tomlkit, our tables added and removed as whole lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parse()

    def _parse(self) -> None:
        try:
            self.doc = tomlkit.parse(self.text)
            self._data = self.doc.unwrap()
        except tomlkit.exceptions.ParseError as exc:
            reason = str(exc).split(" at line ")[0]
            raise ParseError(f"line {exc.line}, column {exc.col}: {reason}") from None
        except tomlkit.exceptions.KeyAlreadyPresent as exc:  # tomlkit sees a table declared twice, apart, on reading
            raise ParseError(f"{str(exc).rstrip('.')}: a table is declared twice") from None

    def data(self) -> dict[str, Any]:
        return self._data

    def _eol(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def set(self, path: Path, value: Any) -> None:
        container: Any = self.doc
        for key in path[:-1]:
            if key not in container:
                container[key] = tomlkit.inline_table()
            container = container[key]
        container[path[-1]] = _toml_inline(value)
        self.text = self.doc.as_string()
        self._parse()

    def add_entry(self, path: Path, value: dict[str, Any]) -> None:
        """A new `[a.b]` table at the end of the file (or, where the parent is an inline table, a key in it)."""
        before = self.text
        try:
            self._append_table(path, value)
        except ParseError:
            self.text = before
            self._parse()
            self.set(path, value)

    def _append_table(self, path: Path, value: dict[str, Any]) -> None:
        eol = self._eol()
        lines = ["[" + ".".join(map(_toml_key, path)) + "]"]
        lines += [f"{_toml_key(key)} = {_toml_inline(item).as_string()}" for key, item in value.items()]
        text = self.text
        if text and not text.endswith("\n"):
            text += eol
        separator = eol if text.strip() else ""
        self.text = text + separator + eol.join(lines) + eol
        self._parse()

    def delete(self, path: Path) -> None:
        prefix = tuple(path)
        statements = toml_statements(self.text)
        lines = self.text.splitlines(keepends=True)
        doomed: set[int] = set()
        for number, (key, first, last, header) in enumerate(statements):
            if key[: len(prefix)] != prefix:
                continue
            # A table of ours runs to its last key/value before the next statement that is not ours.
            end = last
            if header:
                for later_key, _, later_last, later_header in statements[number + 1 :]:
                    if later_header or later_key[: len(key)] != key:
                        break
                    end = later_last
                if first > 0 and not lines[first - 1].strip():
                    first -= 1  # the blank line that separated our table from the one before
            doomed.update(range(first, end + 1))
        if doomed:
            self.text = "".join(line for number, line in enumerate(lines) if number not in doomed)
            self._parse()

    def append(self, path: Path, item: Any) -> None:
        current = _dig(self.data(), path)
        self.set(path, [*(current or []), item])
