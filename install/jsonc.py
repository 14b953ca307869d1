"""JSON and JSON-with-comments edited the way VS Code's own jsonc editor does it: in place.

`parse` reads the text into nodes that remember where they are; an edit rewrites only the span of the member or
item it changes, so every other byte (comments, key order, indentation, line endings, a BOM) stays as it was. With
`comments=False` the parser is as strict as `JSON.parse`, which is what most hosts read their files with: a comment
or a trailing comma there is an error with its line and column, not something we quietly write around.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any, Final

MAX_DEPTH: Final = 256
_WHITESPACE: Final = re.compile(r"[ \t\r\n]*")
_TRIVIA: Final = re.compile(r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*", re.S)
_INLINE_TRIVIA: Final = re.compile(r"(?:[ \t]+|/\*[^\n]*?\*/)*(?://[^\r\n]*)?")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS: Final = {"true": True, "false": False, "null": None}


class ParseError(ValueError):
    """The text is not valid (JSON or JSONC); `line` and `column` are 1-based."""

    def __init__(self, reason: str, text: str, offset: int) -> None:
        self.reason = reason
        self.line = text.count("\n", 0, offset) + 1
        self.column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        super().__init__(f"line {self.line}, column {self.column}: {reason}")


@dataclass(slots=True)
class Node:
    """A value and its span `[start, end)`; objects and arrays also have their children."""

    kind: str  # "object", "array" or "scalar"
    start: int
    end: int
    value: Any
    children: list[Child] = field(default_factory=list)

    def member(self, key: str) -> Child | None:
        """The member named `key` (the last one, as `JSON.parse` keeps the last of duplicates)."""
        for child in reversed(self.children):
            if child.key == key:
                return child
        return None


@dataclass(slots=True)
class Child:
    """An object member (`key` set; `start` is the key's opening quote) or an array item."""

    key: str | None
    start: int
    node: Node
    comma: int | None = None  # offset of the comma that follows, if any


class _Parser:
    def __init__(self, text: str, comments: bool) -> None:
        self.text = text
        self.comments = comments
        self.pos = 1 if text.startswith("\ufeff") else 0

    def fail(self, reason: str, offset: int | None = None) -> ParseError:
        return ParseError(reason, self.text, self.pos if offset is None else offset)

    def skip(self) -> None:
        self.pos = (_TRIVIA if self.comments else _WHITESPACE).match(self.text, self.pos).end()
        if self.text.startswith("/*", self.pos) and self.comments:
            raise self.fail("a /* comment is never closed")
        if self.text.startswith(("//", "/*"), self.pos):
            raise self.fail("comments are not allowed in this file (the host reads it as strict JSON)")

    def peek(self) -> str:
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        return self.text[self.pos]

    def document(self) -> Node:
        root = self.value(0)
        self.skip()
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos]!r} after the end of the top-level value")
        return root

    def value(self, depth: int) -> Node:
        self.skip()
        char = self.peek()
        if char == "{":
            return self.container(depth, "object", "}")
        if char == "[":
            return self.container(depth, "array", "]")
        start = self.pos
        if char == '"':
            text = self.string()
            return Node("scalar", start, self.pos, text)
        if match := _NUMBER.match(self.text, self.pos):
            self.pos = match.end()
            number = match.group()
            return Node("scalar", start, self.pos, float(number) if any(c in number for c in ".eE") else int(number))
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Node("scalar", start, self.pos, literal)
        raise self.fail(f"unexpected {char!r} where a value should be")

    def string(self) -> str:
        try:
            value, self.pos = scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            reason = exc.msg.lower().removesuffix(" starting at").removesuffix(" at")
            raise self.fail(f"{reason} in a string", exc.pos) from None
        return value

    def container(self, depth: int, kind: str, close: str) -> Node:
        if depth >= MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        node = Node(kind, self.pos, -1, None)
        self.pos += 1
        self.skip()
        while self.peek() != close:
            child_start = self.pos
            key = None
            if kind == "object":
                if self.peek() != '"':
                    raise self.fail("expected a property name in double quotes")
                key = self.string()
                self.skip()
                if self.peek() != ":":
                    raise self.fail("expected ':' after the property name")
                self.pos += 1
            child = Child(key, child_start, self.value(depth + 1))
            node.children.append(child)
            self.skip()
            if self.peek() == ",":
                child.comma = self.pos
                self.pos += 1
                self.skip()
                if self.peek() == close and not self.comments:
                    raise self.fail("trailing comma (not allowed in this file)", child.comma)
            elif self.peek() != close:
                raise self.fail(f"expected ',' or '{close}'")
        self.pos += 1
        node.end = self.pos
        if kind == "object":
            node.value = {child.key: child.node.value for child in node.children}
        else:
            node.value = [child.node.value for child in node.children]
        return node


def parse(text: str, *, comments: bool) -> Node:
    """The document's top-level node; `ParseError` (with line and column) when the text is not valid."""
    return _Parser(text, comments).document()


@dataclass(frozen=True, slots=True)
class Style:
    """How the file is laid out, so inserted text looks like the rest."""

    eol: str
    indent: str

    @classmethod
    def of(cls, text: str) -> Style:
        eol = "\r\n" if "\r\n" in text else "\n"
        match = re.search(r"\n([ \t]+)\S", text)
        indent = ("\t" if match.group(1).startswith("\t") else match.group(1)) if match else "  "
        return cls(eol, indent)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _indent_of_line(text: str, pos: int) -> str:
    start = _line_start(text, pos)
    return text[start : start + len(text[start:pos]) - len(text[start:pos].lstrip(" \t"))]


def _own_line(text: str, child: Child) -> bool:
    return text[_line_start(text, child.start) : child.start].strip(" \t") == ""


def _after_inline_trivia(text: str, pos: int) -> int:
    """Past spaces and comments on the same line (stops at the line ending or anything else)."""
    return _INLINE_TRIVIA.match(text, pos).end()


def _after_line_ending(text: str, pos: int) -> int:
    if text.startswith("\r\n", pos):
        return pos + 2
    return pos + 1 if text.startswith("\n", pos) else pos


def render(value: Any, indent: str, style: Style) -> str:
    """`value` as JSON laid out like the file, its continuation lines indented by `indent`."""
    return json.dumps(value, indent=style.indent, ensure_ascii=False).replace("\n", style.eol + indent)


def _child_text(key: str | None, value: Any, indent: str, style: Style) -> str:
    rendered = render(value, indent, style)
    return rendered if key is None else f"{json.dumps(key, ensure_ascii=False)}: {rendered}"


def insert(text: str, container: Node, key: str | None, value: Any, style: Style) -> str:
    """`text` with a new last member (or item) in `container`, on its own line."""
    outer = _indent_of_line(text, container.start)
    if container.children and _own_line(text, container.children[0]):
        inner = _indent_of_line(text, container.children[0].start)
    else:
        inner = outer + style.indent
    new = _child_text(key, value, inner, style)
    if not container.children:
        at = _after_inline_trivia(text, container.start + 1)
        closing = "" if text.startswith(("\n", "\r\n"), at) else style.eol + outer
        return text[:at] + style.eol + inner + new + closing + text[at:]
    last = container.children[-1]
    trailing_comma = last.comma is not None
    at = _after_inline_trivia(text, last.comma + 1 if trailing_comma else last.node.end)
    addition = style.eol + inner + new + ("," if trailing_comma else "")
    if not text.startswith(("\n", "\r\n"), at):  # the container closes on this line: close it on a new one
        at = len(text[:at].rstrip(" \t"))
        addition += style.eol + outer
    before = text[:at] if trailing_comma else text[: last.node.end] + "," + text[last.node.end : at]
    return before + addition + text[at:]


def replace(text: str, child: Child, value: Any, style: Style) -> str:
    """`text` with `child`'s value rewritten (its key, and everything around it, kept)."""
    rendered = render(value, _indent_of_line(text, child.start), style)
    return text[: child.node.start] + rendered + text[child.node.end :]


def delete(text: str, container: Node, index: int) -> str:
    """`text` without `container`'s child `index`, its comma and the line(s) it stood on."""
    child = container.children[index]
    own_line = _own_line(text, child)
    if child.comma is not None or index == 0:
        end = child.comma + 1 if child.comma is not None else child.node.end
        if own_line:
            start = _line_start(text, child.start)
            end = _after_line_ending(text, _after_inline_trivia(text, end))
        else:
            start = child.start
            end = _WHITESPACE.match(text, end).end() if child.comma is not None else end
        return text[:start] + text[end:]
    previous = container.children[index - 1]
    assert previous.comma is not None
    if own_line:  # keep a comment that ends the previous line; drop from that line's end to the end of ours
        keep_until = _after_inline_trivia(text, previous.comma + 1)
        drop_until = _after_inline_trivia(text, child.node.end)
        return text[: previous.comma] + text[previous.comma + 1 : keep_until] + text[drop_until:]
    return text[: previous.comma] + text[child.node.end :]
