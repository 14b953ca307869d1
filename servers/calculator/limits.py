"""Bounded work: the limits of one evaluation and the budget that estimates its cost before each step runs.

Every step that could be expensive (big-integer arithmetic, factorials, interval functions at high working
precision) is priced *before* it runs by a cost model calibrated on a 2-core x86 VM under CPython 3.11 and
rounded up. A step that would overrun the budget is refused with a message naming the limit, so a
hostile expression is turned away in milliseconds instead of being cut off after the damage is done. The
wall clock is only a backstop for a cost model that is wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from deskmcp.servers.calculator.errors import TIME_LIMIT, CalculationError

LOG10_2: Final = 0.30102999566398120

# Estimated microseconds per (1000 bits)^2 of the largest operand or result, by kind of step.
QUADRATIC_US: Final = {
    "fraction": 4.0,  # +, -, *, /, comparisons of non-integers: each reduces by a gcd
    "integer": 1.0,  # *, //, % of integers
    "power": 0.5,
    "factorial": 1.0,
    "perm": 1.0,
    "comb": 50.0,  # math.comb(n, n/2) is far slower than factorial of the same size
    "root": 1.0,
    "gcd": 2.0,
    "render": 2.0,
}
STEP_US: Final = 1.0
INTERVAL_BASIC_US: Final = 10.0
INTERVAL_FUNCTION_US: Final = 100.0
INTERVAL_FUNCTION_PER_100_DIGITS_SQUARED_US: Final = 50.0
GAMMA_US: Final = 2000.0
GAMMA_POWER: Final = 2.4
PARSE_US_PER_CHARACTER: Final = 1.0
READ_US_PER_VALUE: Final = 10.0  # a statistics value: read, scaled, sorted and summed
# A caller's number string: CPython's str -> int is quadratic, and a decimal or p/q adds a gcd of that size.
# The first characters cost no more than a step (or the READ_US_PER_VALUE of a statistics value) covers.
READ_COVERED_CHARACTERS: Final = 100
READ_US_PER_KILOCHARACTER: Final = 70.0
READ_US_PER_KILOCHARACTER_SQUARED: Final = 20.0
# On the event loop, work estimated above this moves to the worker process (see `Offload`).
LOOP_SLICE_US: Final = 1000.0
# How long a worker may take over one request, in multiples of its estimated budget, before it is stopped:
# the cost model is calibrated to overestimate, so only a model that is badly wrong ever reaches this.
WALL_CLOCK_FACTOR: Final = 10
WALL_CLOCK_MINIMUM_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may ask for. The defaults keep every answer within tens of milliseconds."""

    max_length: int = 10_000  # characters in an expression
    max_depth: int = 64  # nesting of parentheses, calls, signs and powers
    max_nodes: int = 2_000  # numbers, names, operators and calls
    max_digits: int = 10_000  # digits of any numerator or denominator; also bounds any value to 10^±max_digits
    max_precision: int = 1_000  # significant digits a caller may ask for
    time_limit_ms: int = 25  # estimated arithmetic per request
    max_variables: int = 100
    max_data: int = 10_000  # values given to `statistics`


class Offload(Exception):
    """The next step would hold the event loop too long: run the whole request again in the worker process."""


class NeedsIntervals(Offload):
    """The next step needs mpmath, which is not imported yet: import it off the loop, then try again."""


class Budget:
    """The estimated time an evaluation has spent; refuses a step before it runs if it would overrun.

    With `on_loop`, the budget is only the short slice the event loop can spare, and overrunning it raises
    `Offload` rather than an error, unless the step would overrun the whole budget anyway: that is refused
    at once, wherever it runs. The worker process is stopped from outside when its wall clock runs out
    (`wall_clock_s`); `check_clock` lets it give a clear message just before.
    """

    __slots__ = ("deadline", "limit_us", "on_loop", "spent_us", "time_limit_ms")

    def __init__(self, time_limit_ms: int, *, on_loop: bool) -> None:
        self.time_limit_ms = time_limit_ms
        self.limit_us = time_limit_ms * 1000.0
        self.on_loop = on_loop
        self.spent_us = 0.0
        self.deadline = time.monotonic() + wall_clock_s(time_limit_ms)

    def charge(self, cost_us: float, what: str, position: int | None = None) -> None:
        spent = self.spent_us + cost_us
        if self.on_loop and LOOP_SLICE_US < spent <= self.limit_us:
            raise Offload
        if spent > self.limit_us:
            detail = (
                f"{what} would take about {_milliseconds(cost_us)}, and this request may use about "
                f"{self.time_limit_ms} ms of arithmetic (DESKMCP_CALCULATOR_TIME_LIMIT_MS). "
                "Use smaller numbers, a lower precision, or split the calculation."
            )
            raise CalculationError(TIME_LIMIT, detail, position)
        self.spent_us = spent

    def allow(self, extra_us: float) -> None:
        """Raise the limit (not the loop slice) for work that scales with an input already bounded in size."""
        self.limit_us += extra_us

    def check_clock(self, position: int | None = None) -> None:
        if time.monotonic() > self.deadline:
            detail = "the calculation ran past its deadline; split it into smaller steps."
            raise CalculationError(TIME_LIMIT, detail, position)


def wall_clock_s(time_limit_ms: int) -> float:
    """The wall-clock time a request with this budget may take in the worker before it is stopped."""
    return max(WALL_CLOCK_MINIMUM_S, WALL_CLOCK_FACTOR * time_limit_ms / 1000)


def _milliseconds(us: float) -> str:
    return f"{us / 1000:,.1f} ms" if us >= 100 else "under 0.1 ms"


def quadratic_us(kind: str, bits: int) -> float:
    """Estimated cost of a step of `kind` whose largest number has `bits` bits."""
    kilobits = bits / 1000
    return STEP_US + QUADRATIC_US[kind] * kilobits * kilobits


def power_of_ten_us(exponent: int) -> float:
    """Estimated cost of building 10**exponent and scaling a number by it (1e9999: 1.1 ms; measured 0.2 ms).

    Small powers cost no more than a step (or the READ_US_PER_VALUE of a statistics value) covers."""
    if exponent <= READ_COVERED_CHARACTERS:
        return 0.0
    return 2 * quadratic_us("power", int(exponent / LOG10_2))


def reading_us(characters: int) -> float:
    """Estimated cost of turning a number string of `characters` characters into an exact value (10,000: 2.7 ms)."""
    beyond_covered = max(0, characters - READ_COVERED_CHARACTERS) / 1000
    kilocharacters = characters / 1000
    return READ_US_PER_KILOCHARACTER * beyond_covered + READ_US_PER_KILOCHARACTER_SQUARED * kilocharacters**2


def gamma_us(working_digits: int) -> float:
    """Estimated cost of mpmath's log-gamma at `working_digits`, with its coefficient tables not yet built
    (they are cached per precision): 25 digits 1.7 ms, 100: 7.7 ms, 300: 130 ms, 1000: 5.9 s measured."""
    return GAMMA_US * (working_digits / 25) ** GAMMA_POWER


def interval_us(working_digits: int, *, function: bool) -> float:
    """Estimated cost of one interval operation at `working_digits` significant digits."""
    if not function:
        return INTERVAL_BASIC_US + working_digits / 100
    hundreds = working_digits / 100
    return INTERVAL_FUNCTION_US + INTERVAL_FUNCTION_PER_100_DIGITS_SQUARED_US * hundreds * hundreds
