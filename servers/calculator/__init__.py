"""Calculator server: exact arithmetic and statistics for models; never eval, never hangs.

`deskmcp calculator`. Tools `calculate` (the name and argument of the popular `mcp-server-calculator`) and
`statistics`. Modules: `tokens` and `parser` (the language and its allow-list), `limits` (bounds and the
cost model), `exact` and `inexact` (rationals; mpmath intervals), `arithmetic` and `functions` (checked
operations), `evaluator` (rounds of working precision), `render`, `calculation` and `stats` (requests),
`server` (the MCP adapter).
"""

from __future__ import annotations

from deskmcp.shared.app import Config, ServerSpec, Service
from deskmcp.shared.settings import Setting, whole_number

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
    from deskmcp.servers.calculator.server import build_tools

    limits = Limits(max_digits=config.settings["MAX_DIGITS"], time_limit_ms=config.settings["TIME_LIMIT_MS"])
    return Service(
        tools=build_tools(limits, config.settings["PRECISION"]),
        instructions="Exact arithmetic: call `calculate` instead of doing arithmetic yourself; `statistics` for data.",
    )


SPEC = ServerSpec(
    name="calculator",
    description="Exact arithmetic and statistics for models: never eval, never floating point, never hangs.",
    create=create,
    settings=SETTINGS,
)
