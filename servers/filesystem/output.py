"""How much a listing or a search returns, and what it says when it stops.

By default a listing stops at about `OUTPUT_CHARS` characters of text: Claude Code, the host with the most
explicit rule, moves a tool result of more than 50,000 characters out of the conversation into a file (the
model then sees a 2 KB preview) and refuses one of more than 25,000 tokens; 48,000 characters of paths or
indented JSON (2.5 to 4 characters a token) stays under both, and is more than a model can use in one look.
An everyday listing is far smaller and comes back whole, exactly as the reference server gives it. A caller
that passes `maxResults` gets that many entries instead, however long the text.

What was left out is said in a note that the tools return as a separate content block, so the listing itself
keeps its format (JSON stays JSON, one path per line stays that).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Final

OUTPUT_CHARS: Final = 48_000


@dataclass(frozen=True, slots=True)
class OutputCap:
    """`max_results` items when the caller gave maxResults; otherwise as many as fit in `chars` characters."""

    max_results: int | None = None
    chars: int = OUTPUT_CHARS

    @property
    def size(self) -> int:
        return self.chars if self.max_results is None else self.max_results

    def cost(self, chars: int) -> int:
        """What an item of `chars` characters counts against `size`."""
        return chars if self.max_results is None else 1

    def describe(self) -> str:
        if self.max_results is None:
            return f"about {self.chars:,} characters (a size a model can read in one go)"
        return f"maxResults={self.max_results:,}"

    def fitting(self, lines: Sequence[str]) -> int:
        """How many of `lines`, from the first, fit (each with its newline)."""
        if self.max_results is not None:
            return min(len(lines), self.max_results)
        ends = list(accumulate(map(len, lines)))
        return bisect_right(range(len(lines)), self.chars, key=lambda index: ends[index] + index + 1)


@dataclass(slots=True)
class Capped:
    """Items (lines of output) from the first, while they fit the cap; how many more there were."""

    cap: OutputCap
    items: list[str] = field(default_factory=list)
    more: int = 0
    left: int = field(init=False)  # characters (or items) still free
    by_count: bool = field(init=False)

    def __post_init__(self) -> None:
        self.left, self.by_count = self.cap.size, self.cap.max_results is not None

    def add(self, item: str) -> bool:
        """Called per match of a search: kept cheap."""
        cost = 1 if self.by_count else len(item) + 1
        if cost <= self.left and not self.more:
            self.items.append(item)
            self.left -= cost
            return True
        self.more += 1
        return False


def more_note(more: int, what: str, cap: OutputCap, how: str) -> str:
    """The note for a listing that stopped: how many were left out, why, and how to see them."""
    return f"{more:,} more {what} not shown: this output stops at {cap.describe()}. {how}"
