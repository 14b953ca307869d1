"""A tiny server for testing the shared loop: every loop feature, no domain logic.

Run as `python tests/echo_server.py`; it goes through the same `run_server` as `deskmcp <server>`.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Literal

import anyio
from deskmcp.shared.app import Config, ServerSpec, Service
from deskmcp.shared.cli import run_server
from deskmcp.shared.errors import DomainError
from deskmcp.shared.prompts import PromptTable
from deskmcp.shared.settings import Secret, Setting
from deskmcp.shared.tools import READ_ONLY, StructuredResult, ToolContext, ToolRegistry, tool
from pydantic import Field


class Sum(StructuredResult):
    total: int

    def render_text(self) -> str:
        return str(self.total)


def create(config: Config) -> Service:
    token: Secret | None = config.settings["TOKEN"]

    @tool(annotations=READ_ONLY)
    async def add(a: int, b: Annotated[int, Field(description="second addend")] = 0) -> Sum:
        """Add two integers."""
        return Sum(total=a + b)

    @tool(annotations=READ_ONLY, in_thread=False)
    def echo(text: str, mode: Literal["plain", "upper"] = "plain") -> str:
        """Echo the text back."""
        return text.upper() if mode == "upper" else text

    @tool
    async def fail(reason: str) -> str:
        """Fail with an expected error (isError)."""
        raise DomainError(f"failed as asked: {reason}")

    @tool
    async def crash() -> str:
        """Raise an unexpected exception carrying the secret."""
        raise RuntimeError(f"boom with {token.reveal() if token else 'no token'}")

    @tool
    async def chatter() -> str:
        """print() to stdout from a handler: must not reach the wire."""
        print("stray output from a handler")
        print("stray output to stderr", file=sys.stderr)
        return "ok"

    @tool
    async def slow(seconds: float, ctx: ToolContext) -> str:
        """Sleep, reporting progress every tenth of the time; cancellable."""
        for step in range(10):
            await ctx.report_progress(step, 10, f"step {step}")
            await anyio.sleep(seconds / 10)
        return f"slept {seconds}"

    @tool
    def spin(seconds: float, ctx: ToolContext) -> str:
        """Busy work in a worker thread that polls for cancellation."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.check_cancelled()
            time.sleep(0.01)
        return "spun"

    @tool
    async def whoami() -> str:
        """Say whether a token is configured (never its value)."""
        return f"token configured: {token is not None}; repr: {token!r}"

    class BrokenPrompts(PromptTable):
        """A prompt store that fails unexpectedly: prompts/list crashes."""

        async def on_list_prompts(self, ctx: object, params: object) -> None:  # type: ignore[override]
            raise ValueError(f"prompt store unavailable ({token.reveal() if token else '-'})")

    return Service(
        tools=ToolRegistry([add, echo, fail, crash, chatter, slow, spin, whoami]),
        prompts=BrokenPrompts([]),
        instructions="test server",
    )


SPEC = ServerSpec(
    name="echo",
    description="Test server for the shared loop.",
    create=create,
    settings=(
        Setting("TOKEN", "API token for the (pretend) upstream service", secret=True, example="<your token>"),
        Setting("REQUIRED", "a required setting, for tests", required=False, example="yes"),
        Setting("COUNT", "a number", parser=int, default=3),
    ),
)

if __name__ == "__main__":
    sys.exit(run_server(SPEC, sys.argv[1:]))
