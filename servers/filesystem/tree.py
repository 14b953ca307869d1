"""directory_tree: which entries of a tree fit an output cap, nested as the reference nests them.

A tree too long for the cap is cut by depth, not in walk order, so that it still shows the top of every
branch: every level that fits is shown whole, then the directories of the next level are filled in, in order,
each with all of its entries or with none, while they fit. A directory shows its whole contents or has no
"children" key at all, never a part that would read as all of it. The walk never goes below the level being
filled in. When not even the top level fits, its first entries are shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Final, NamedTuple

from deskmcp.servers.filesystem.output import OutputCap

UNLIMITED: Final = 1 << 30


class Item(NamedTuple):
    relative: str
    name: str
    is_dir: bool
    depth: int
    cost: int

    @property
    def parent(self) -> str:
        return self.relative.rpartition("/")[0]


@dataclass(slots=True)
class Tree:
    """The nodes to show, and what was left out."""

    nodes: list[dict[str, Any]]
    shown: int
    unexpanded: int  # directories shown without their contents to fit the cap
    top_level: int  # entries at the top level
    top_cut: bool  # not even the top level fitted: `shown` of its `top_level` entries are shown


@dataclass(slots=True)
class Fit:
    """Collects a depth-first walk's entries and keeps those that fit `limit`; `descend` prunes the walk."""

    limit: int
    max_depth: int | None
    whole: int = UNLIMITED  # levels 0 .. whole-1 fit whole; level `whole` is filled in per directory
    costs: list[int] = field(default_factory=list)  # of each whole level
    items: list[Item] = field(default_factory=list)  # on the whole levels, in walk order
    groups: list[list[Item]] = field(default_factory=list)  # the contents of directories on level whole-1
    groups_cost: int = 0
    filled: set[str] = field(default_factory=set)  # directories on level whole-1 with any contents
    top: list[Item] = field(default_factory=list)  # the top level's first entries that fit
    top_used: int = 0
    top_count: int = 0

    def __post_init__(self) -> None:
        if self.max_depth is not None:
            self.whole = self.max_depth

    def descend(self, relative: str) -> bool:
        return relative.count("/") + 1 <= min(self.whole, UNLIMITED if self.max_depth is None else self.max_depth - 1)

    def add(self, item: Item) -> None:
        if item.depth == 0:
            self.top_count += 1
            if len(self.top) == self.top_count - 1 and self.top_used + item.cost <= self.limit:
                self.top.append(item)
                self.top_used += item.cost
        if item.depth < self.whole:
            self.items.append(item)
            self.costs.extend([0] * (item.depth + 1 - len(self.costs)))
            self.costs[item.depth] += item.cost
            if sum(self.costs) > self.limit:
                self._cut(next(d for d, total in enumerate(accumulate(self.costs)) if total > self.limit))
        elif item.depth == self.whole:
            self._group(item)

    def _cut(self, depth: int) -> None:
        """Level `depth` does not fit whole: it becomes the level filled in per directory."""
        level = [item for item in self.items if item.depth == depth]
        self.whole, self.costs = depth, self.costs[:depth]
        self.items = [item for item in self.items if item.depth < depth]
        self.groups, self.groups_cost, self.filled = [], 0, set()
        for item in level:
            self._group(item)

    def _group(self, item: Item) -> None:
        self.filled.add(item.parent)
        if self.groups and self.groups[-1][0].parent == item.parent:
            self.groups[-1].append(item)
            self.groups_cost += item.cost
            return
        self._close_group()
        self.groups.append([item])
        self.groups_cost += item.cost

    def _close_group(self) -> None:
        """Keep the last group only if it can still fit (what is left only shrinks as the walk goes on)."""
        if self.groups and sum(self.costs) + self.groups_cost > self.limit:
            self.groups_cost -= sum(item.cost for item in self.groups.pop())

    def result(self) -> Tree:
        self._close_group()
        left, expanded = self.limit - sum(self.costs), set()
        kept = list(self.items)
        for group in self.groups:
            cost = sum(item.cost for item in group)
            if cost <= left:
                kept += group
                left -= cost
                expanded.add(group[0].parent)
        if self.whole == 0:
            kept, expanded = self.top, set()
        nodes, unexpanded = self._nest(kept, expanded)
        return Tree(nodes, len(kept), unexpanded, self.top_count, top_cut=self.whole == 0)

    def _nest(self, kept: Sequence[Item], expanded: set[str]) -> tuple[list[dict[str, Any]], int]:
        top: list[dict[str, Any]] = []
        parents: dict[str, list[dict[str, Any]]] = {"": top}
        unexpanded = 0
        for item in kept:
            node: dict[str, Any] = {"name": item.name, "type": "directory" if item.is_dir else "file"}
            if item.is_dir and (self.max_depth is None or item.depth + 1 < self.max_depth):
                if self._listed(item, expanded):
                    node["children"] = parents[item.relative] = []
                else:
                    unexpanded += 1
            siblings = parents.get(item.parent)
            if siblings is not None:  # None: the parent was not a directory after all (replaced during the walk)
                siblings.append(node)
        return top, unexpanded

    def _listed(self, item: Item, expanded: set[str]) -> bool:
        """Whether all of a directory's contents are shown (an empty directory's are)."""
        if self.whole == 0 or item.depth >= self.whole:
            return False
        return item.depth < self.whole - 1 or item.relative in expanded or item.relative not in self.filled


def node_chars(name: str, depth: int, is_dir: bool) -> int:
    """At most the characters a node takes in `json.dumps(indent=2)` (a directory's with its brackets)."""
    indent = 2 + 4 * depth
    quoted = len(json.dumps(name, ensure_ascii=False))
    return (6 * indent + 60 + quoted) if is_dir else (4 * indent + 34 + quoted)


Walk = Callable[[Callable[[str], bool]], Any]


def fit_tree(walk: Walk, max_depth: int | None, cap: OutputCap) -> Tree:
    """`walk(descend)` yields (relative, entry, depth, directory) depth first; the part of it that fits `cap`."""
    fit = Fit(cap.size, max_depth)
    for relative, entry, depth, _directory in walk(fit.descend):
        is_dir = entry.is_dir(follow_symlinks=False)
        fit.add(Item(relative, entry.name, is_dir, depth, cap.cost(node_chars(entry.name, depth, is_dir))))
    return fit.result()
