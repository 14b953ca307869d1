"""The calculator's MCP tools: thin adapters over `calculation` and `stats`.

Evaluation starts on the event loop, where a typical expression costs tens of microseconds; as soon as its
estimated cost passes a one-millisecond slice, it is abandoned and sent to a worker process (`pool`), where
big-integer arithmetic cannot hold the loop (a thread would: it keeps the GIL). So cheap calls never wait
for a process, and heavy ones never hold up other requests. The first call that needs mpmath imports it in
a thread, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import anyio.to_thread
from deskmcp.servers.calculator import inexact
from deskmcp.servers.calculator.calculation import Answer
from deskmcp.servers.calculator.errors import CalculationError
from deskmcp.servers.calculator.limits import Budget, Limits, NeedsIntervals, Offload, wall_clock_s
from deskmcp.servers.calculator.pool import WorkerPool
from deskmcp.servers.calculator.stats import Summary
from deskmcp.servers.calculator.worker import Job, run_job
from deskmcp.shared.tools import READ_ONLY, StructuredResult, ToolRegistry, tool
from pydantic import BaseModel, Field, PrivateAttr

_EMPTY = {"mode": "none (no value repeats)"}
_NUMBER_BYTES = 32  # a JSON number, for sizing what a job carries

CALCULATE_DESCRIPTION = """Evaluate a math expression exactly and return its value (never floating point).

Numbers: integers of any size, decimals (0.1 + 0.2 is exactly 0.3), 1e-9, 0xff, 0b1010, 0o17, 1_000_000.
Operators: + - * / // (floor division) % (remainder, sign of the divisor) ** or ^ (power, right-associative;
-2^2 = -4), n! (factorial), parentheses; × ÷ − · are accepted too. A comparison (== != < <= > >=, or ≤ ≥ ≠)
at the top level gives true or false.
Constants: pi, e, tau. Angles are in radians.
Powers also as superscripts: 3², x⁻¹. % is the remainder, not percent: 5% of 80 is 5/100*80.
Functions (Python's math names): abs, fabs, round(x, decimals) (halves away from zero), floor, ceil, trunc,
min, max, sqrt, cbrt, exp, exp2, expm1, pow, ln, log(x) (natural), log(x, base), log2, log10, log1p, sin,
cos, tan, asin, acos, atan, atan2(y, x), sinh, cosh, tanh, asinh, acosh, atanh, degrees, radians, hypot,
factorial, comb, perm, gcd, lcm, isqrt, fmod, gamma, lgamma, erf, erfc.
Exact results are given in full when short: integers, decimals, or fractions such as 1/3 (with a decimal);
a long one is shown as a decimal with its size (the full form is in the structured `value`). Irrational
results are correctly rounded to `precision` significant digits (default {precision}) and marked inexact;
when the digits cannot be pinned down (sin(pi) is 0 to within any bound, but digits cannot prove it is 0),
the answer is an error, never a guess. Real numbers only. Limits: {max_length:,} characters,
{max_digits:,} digits per number, about {time_limit_ms} ms of arithmetic per call; beyond them the error
names the limit."""

STATISTICS_DESCRIPTION = """Descriptive statistics of a list of numbers, exact for exact inputs.

Returns count, sum, mean, median, mode (the most frequent values, if any repeats), min, max, sample variance
and standard deviation (n - 1), population variance and standard deviation (n), and quantiles (as Python's
statistics.quantiles). Give numbers as JSON numbers, or as strings to keep every digit ("0.1", "1/3")."""

Numeric = int | float | str
_FIXED = Limits()  # the limits that are not settings, for the schema
Precision = Annotated[
    int | None,
    Field(
        ge=1, le=_FIXED.max_precision, description="significant digits of inexact results (default in the description)"
    ),
]
Expression = Annotated[str, Field(description="e.g. (2**64 - 1) / 3, sqrt(2) * sin(pi/4), 10! > 3e6")]
Variables = Annotated[
    dict[str, Numeric] | None,
    Field(description='numbers for names in the expression, e.g. {"x": 2.5, "r": "1/3"}'),
]
Base = Annotated[Literal[10, 16, 2, 8], Field(description="write an integer result in this base (16: 0xff)")]
Data = Annotated[list[Numeric], Field(min_length=1, max_length=_FIXED.max_data, description='e.g. [2, 4.5, "1/3", 10]')]
Groups = Annotated[
    int, Field(ge=2, le=100, description="groups the quantiles cut the data into: 4 quartiles, 100 percentiles")
]


class NumberResult(BaseModel):
    value: str = Field(description="exact: integer, decimal or p/q; otherwise rounded; true/false for comparisons")
    exact: bool = Field(description="whether value is exact (false: rounded to `precision` significant digits)")
    decimal: str = Field(description="the value as a decimal to `precision` significant digits")


class TextResult(StructuredResult):
    """A result whose text for the model is written along with it rather than derived from its fields."""

    _text: str = PrivateAttr(default="")

    def render_text(self) -> str:
        return self._text


class Calculation(NumberResult, TextResult):
    pass


class Statistics(TextResult):
    count: int
    sum: NumberResult
    mean: NumberResult
    median: NumberResult
    mode: list[NumberResult] = Field(description="the most frequent values; empty when no value repeats")
    min: NumberResult
    max: NumberResult
    variance: NumberResult | None = Field(default=None, description="sample variance (n - 1); absent for one value")
    stdev: NumberResult | None = Field(default=None, description="sample standard deviation; absent for one value")
    pvariance: NumberResult
    pstdev: NumberResult
    quantiles: list[NumberResult]

    def model_dump(self, **kwargs: object) -> dict:  # type: ignore[override]
        kwargs.setdefault("exclude_none", True)  # an absent statistic is left out, never null
        return super().model_dump(**kwargs)  # type: ignore[arg-type]


def _number(answer: Answer) -> NumberResult:
    return NumberResult(value=answer.value, exact=answer.exact, decimal=answer.decimal)


class Runner:
    """Runs a job on the event loop while it fits in the loop's slice, else in the worker pool."""

    def __init__(self, limits: Limits, pool: WorkerPool) -> None:
        self.limits = limits
        self.pool = pool

    async def run(self, job: Job, size_bytes: int) -> Any:
        for _ in range(2):
            try:
                return run_job(job, Budget(self.limits.time_limit_ms, on_loop=True))
            except NeedsIntervals:
                await anyio.to_thread.run_sync(inexact.load)
            except Offload:
                break
        wall_clock = wall_clock_s(self.limits.time_limit_ms)
        return await self.pool.run(job, size_bytes=size_bytes, wall_clock_s=wall_clock)


def _bytes_of(values: Sequence[object] | Mapping[str, object]) -> int:
    """Roughly what a job's numbers take to carry: a string's length, a JSON number's few bytes."""
    items = values.values() if isinstance(values, Mapping) else values
    return sum(len(item) if isinstance(item, str) else _NUMBER_BYTES for item in items)


def build_tools(limits: Limits, default_precision: int, pool: WorkerPool) -> ToolRegistry:
    runner = Runner(limits, pool)

    async def calculate_tool(
        expression: Expression,
        precision: Precision = None,
        variables: Variables = None,
        base: Base = 10,
    ) -> Calculation:
        arguments = {
            "expression": expression,
            "precision": precision or default_precision,
            "variables": variables or {},
            "base": base,
            "limits": limits,
        }
        answer = await runner.run(("calculate", arguments), len(expression) + _bytes_of(variables or {}))
        result = Calculation(value=answer.value, exact=answer.exact, decimal=answer.decimal)
        result._text = answer.text
        return result

    async def statistics(
        data: Data,
        precision: Precision = None,
        quantiles: Groups = 4,
        method: Literal["exclusive", "inclusive"] = "exclusive",
    ) -> Statistics:
        arguments = {
            "data": data,
            "precision": precision or default_precision,
            "groups": quantiles,
            "method": method,
            "limits": limits,
        }
        return _statistics_result(await runner.run(("statistics", arguments), _bytes_of(data)))

    calculate_tool.__doc__ = CALCULATE_DESCRIPTION.format(
        precision=default_precision,
        max_length=limits.max_length,
        max_digits=limits.max_digits,
        time_limit_ms=limits.time_limit_ms,
    )
    statistics.__doc__ = STATISTICS_DESCRIPTION
    return ToolRegistry(
        [tool(calculate_tool, name="calculate", annotations=READ_ONLY), tool(statistics, annotations=READ_ONLY)],
        anticipated=(CalculationError,),
    )


def _statistics_result(summary: Summary) -> Statistics:
    fields: dict[str, object] = {}
    lines = []
    for name in Statistics.model_fields:
        value = getattr(summary, name)
        if isinstance(value, Answer):
            fields[name] = _number(value)
            lines.append(f"{name}: {value.text}")
        elif isinstance(value, list):
            fields[name] = [_number(item) for item in value]
            shown = ", ".join(item.text for item in value) or _EMPTY.get(name, "none")
            lines.append(f"{name}: {shown}")
        elif value is not None:
            fields[name] = value
            lines.append(f"{name}: {value}")
    result = Statistics(**fields)
    result._text = "\n".join(lines)
    return result
