"""Calculator server: exact arithmetic and statistics for models; never eval, never hangs.

`deskmcp calculator`. Tools `calculate` (the name and argument of the popular `mcp-server-calculator`) and
`statistics`. Modules: `tokens` and `parser` (the language and its allow-list), `limits` (bounds and the
cost model), `exact`, `inexact` and `special` (rationals; mpmath intervals; erf and gamma), `arithmetic`
and `functions` (checked operations), `evaluator` (rounds of working precision), `render`, `reading`,
`calculation` and `stats` (requests), `worker` and `pool` (the process heavy requests run in), `server`
(the MCP adapter).

`SPEC` is built on first access: the worker process imports this package for its arithmetic alone, and the
MCP SDK that `deskmcp.shared.app` brings would add a second to its start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deskmcp.shared.settings import Setting, whole_number

if TYPE_CHECKING:
    from deskmcp.shared.app import Config, Service

SETTINGS = (
    Setting(
        "PRECISION",
        "significant digits of inexact results when a call does not ask for a number (1-1000)",
        parser=whole_number(1, 1000),
        default=15,
        example="15",
    ),
    Setting(
        "MAX_DIGITS",
        "most digits any number in a calculation may have; also bounds values to 1e±MAX_DIGITS (100-1,000,000)",
        parser=whole_number(100, 1_000_000),
        default=10_000,
        example="10000",
    ),
    Setting(
        "TIME_LIMIT_MS",
        "milliseconds of arithmetic one call may use, estimated before each step runs (1-60,000)",
        parser=whole_number(1, 60_000),
        default=25,
        example="25",
    ),
)


def create(config: Config) -> Service:
    from deskmcp.servers.calculator.limits import Limits
    from deskmcp.servers.calculator.pool import WorkerPool
    from deskmcp.servers.calculator.server import build_tools
    from deskmcp.shared.app import Service

    limits = Limits(max_digits=config.settings["MAX_DIGITS"], time_limit_ms=config.settings["TIME_LIMIT_MS"])
    pool = WorkerPool()
    return Service(
        tools=build_tools(limits, config.settings["PRECISION"], pool),
        instructions="Exact arithmetic: call `calculate` instead of doing arithmetic yourself; `statistics` for data.",
        lifespan=pool.lifespan,
    )


def __getattr__(name: str) -> Any:
    if name != "SPEC":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from deskmcp.shared.app import ServerSpec

    spec = ServerSpec(
        name="calculator",
        description="Exact arithmetic and statistics for models: never eval, never floating point, never hangs.",
        create=create,
        settings=SETTINGS,
    )
    globals()["SPEC"] = spec
    return spec
