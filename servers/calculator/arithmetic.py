"""Checked arithmetic on calculator values: exact rationals and rigorous intervals.

Every operation sizes its result and prices its work *before* running (see `limits`). Exact operands give
exact results; an interval appears only when a result is irrational, and from then on the value is an
interval certain to contain the truth. When an interval is too wide to decide something (a sign, a floor,
a comparison) the step raises `Undetermined` and the evaluator retries with more digits, or refuses once it
can try no more: an answer is never decided by a guess.

An exact result too long for the digit limit (0.99**5000 has 10,001 digits) is computed as an interval
instead, when its magnitude is within the limit; only a magnitude beyond 1e±max_digits is refused.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Final

from deskmcp.servers.calculator import inexact
from deskmcp.servers.calculator.errors import DIGIT_LIMIT, DIVISION_BY_ZERO, DOMAIN, CalculationError, Undetermined
from deskmcp.servers.calculator.exact import bits, count_text, digits_of_bits, rational_root
from deskmcp.servers.calculator.limits import (
    LOG10_2,
    STEP_US,
    Budget,
    Limits,
    NeedsIntervals,
    interval_us,
    quadratic_us,
)

Value = Any  # Fraction | inexact.Interval
COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ZERO: Final = Fraction(0)
_ONE: Final = Fraction(1)
_MAYBE_ZERO: Final = "Whether it is exactly 0 (as pi - pi is) could not be decided: digits alone cannot prove a 0."


def is_exact(value: Value) -> bool:
    return type(value) is Fraction


def describe(value: Value) -> str:
    """A short rendering of a value for messages."""
    if is_exact(value):
        if bits(value) < 64:
            return str(value)
        return f"a number of about {digits_of_bits(bits(value)):,} digits"
    if not inexact.is_finite(value):
        return "an unbounded value"
    low, high = inexact.bounds(value)
    try:
        return f"≈ {float((low + high) / 2):.6g}"
    except OverflowError:
        return "a very large number"


class Arithmetic:
    """The operations of one evaluation round at `digits` working digits."""

    def __init__(self, limits: Limits, budget: Budget, digits: int) -> None:
        self.limits = limits
        self.budget = budget
        self.digits = digits
        self.max_bits = int(limits.max_digits / LOG10_2)
        self.magnitude = 0  # largest decimal exponent of an interval, or of an exact number turned into one
        self._ctx: Any = None

    # --- intervals --------------------------------------------------------------------------------------

    @property
    def ctx(self) -> Any:
        if self._ctx is None:
            if self.budget.on_loop and not inexact.loaded():
                raise NeedsIntervals  # importing mpmath would stall the loop
            self._ctx = inexact.context(self.digits)
        return self._ctx

    def interval(self, value: Value, extra_digits: int = 0) -> Any:
        if not is_exact(value):
            return value
        # All of its digits, not just its exponent: 1 + 1e-60 needs 60 working digits to stay distinct from 1.
        self.magnitude = max(self.magnitude, digits_of_bits(bits(value)))
        self.budget.charge(interval_us(self.digits + extra_digits, function=False), "a conversion")
        if not extra_digits:
            return inexact.from_fraction(self.ctx, value)
        ctx = self.ctx
        try:
            ctx.dps = self.digits + extra_digits
            return inexact.from_fraction(ctx, value)
        finally:
            ctx.dps = self.digits

    def constant(self, name: str) -> Any:
        self.budget.charge(interval_us(self.digits, function=True), name)
        ctx = self.ctx
        return {"pi": lambda: +ctx.pi, "e": lambda: +ctx.e, "tau": lambda: 2 * ctx.pi}[name]()

    def function(self, name: str, compute: Callable[[Any], Any], position: int, weight: float = 1) -> Any:
        """An interval function: priced first, its result checked after."""
        self.budget.charge(weight * interval_us(self.digits, function=True), name, position)
        try:
            result = compute(self.ctx)
        except (ValueError, ZeroDivisionError):  # an interval reaching past a domain edge (mpmath ComplexResult)
            result = None
        if not hasattr(result, "_mpi_"):  # no result, or a complex one
            self.undetermined(f"the argument of {name} is too close to the edge of its domain", position)
        return self.checked(result, name, position)

    def checked(self, value: Any, what: str, position: int) -> Any:
        """An interval result that is finite and within 10^±max_digits, or an error."""
        if not inexact.is_finite(value):
            self.undetermined(f"{what} has no finite value here", position)
        direction = inexact.sign(value)
        if direction == 0:
            return value
        limit = self.limits.max_digits
        self.magnitude = max(self.magnitude, inexact.magnitude(value))
        if inexact.reaches_power_of_ten(value, limit):
            detail = f"{what} would be about 1e{inexact.magnitude(value)}; values must stay below 1e{limit}"
            raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)
        if direction is not None and inexact.falls_below_power_of_ten(value, -limit):
            detail = f"{what} would be about 1e{inexact.smallest_magnitude(value)}; values must stay above 1e-{limit}"
            raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)
        return value

    def undetermined(self, detail: str, position: int | None, advice: str = "") -> None:
        raise Undetermined(detail, position, advice=advice)

    def require(
        self,
        value: Value,
        name: str,
        needs: str,
        position: int,
        *,
        low: Fraction | None = None,
        high: Fraction | None = None,
        open_low: bool = False,
        open_high: bool = False,
    ) -> None:
        """A domain check: an error when `value` is outside, `undetermined` when it straddles an edge."""

        def below(v: Fraction) -> bool:
            return low is not None and (v < low or (open_low and v == low))

        def above(v: Fraction) -> bool:
            return high is not None and (v > high or (open_high and v == high))

        first, last = (value, value) if is_exact(value) else inexact.bounds(value)
        if is_exact(value):
            self._note_closeness(value, low, high)
        if below(last) or above(first):
            raise CalculationError(DOMAIN, f"{name} is defined for {needs}; got {describe(value)}.", position)
        if below(first) or above(last):
            self.undetermined(f"the argument of {name} is too close to the edge of its domain ({needs})", position)

    def _note_closeness(self, value: Fraction, *edges: Fraction | None) -> None:
        """An exact value 1e-50 from a domain edge needs about 50 more working digits to stay clear of it."""
        for edge in edges:
            if edge is not None and value != edge:
                distance = abs(value - edge)
                if distance < 1:
                    closeness = math.log10(distance.denominator) - math.log10(distance.numerator)
                    self.magnitude = max(self.magnitude, int(closeness) + 1)

    def sign(self, value: Value) -> int | None:
        if is_exact(value):
            return (value > 0) - (value < 0)
        return inexact.sign(value)

    # --- exact sizes ------------------------------------------------------------------------------------

    def fits(self, numerator_bits: int, denominator_bits: int) -> bool:
        return max(numerator_bits, denominator_bits) <= self.max_bits

    def sized(self, numerator_bits: int, denominator_bits: int, what: str, position: int | None) -> int:
        """The larger size, or a digit-limit error before a result that big is built."""
        size = max(numerator_bits, denominator_bits)
        if size > self.max_bits:
            detail = (
                f"{what} would produce a number of about {count_text(digits_of_bits(size))} digits; numbers may "
                f"have at most {self.limits.max_digits:,} digits (DESKMCP_CALCULATOR_MAX_DIGITS)."
            )
            raise CalculationError(DIGIT_LIMIT, detail, position)
        return size

    def _charge_exact(self, a: Fraction, b: Fraction, size: int, what: str, position: int, *, additive: bool) -> None:
        integers = a.denominator == 1 == b.denominator
        if integers and additive:
            cost = STEP_US
        else:
            cost = quadratic_us("integer" if integers else "fraction", size)
        self.budget.charge(cost, what, position)

    def _interval_step(self, operation: Callable[[Any, Any], Any], a: Value, b: Value, what: str, position: int) -> Any:
        x, y = self.interval(a), self.interval(b)
        self.budget.charge(interval_us(self.digits, function=False), what, position)
        return self.checked(operation(x, y), what, position)

    # --- operators --------------------------------------------------------------------------------------

    def add(self, a: Value, b: Value, position: int, *, subtract: bool = False) -> Value:
        what = "this subtraction" if subtract else "this addition"
        if is_exact(a) and is_exact(b):
            numerator = max(
                a.numerator.bit_length() + b.denominator.bit_length(),
                b.numerator.bit_length() + a.denominator.bit_length(),
            )
            denominator = a.denominator.bit_length() + b.denominator.bit_length()
            if self.fits(numerator + 1, denominator):
                self._charge_exact(a, b, max(numerator + 1, denominator), what, position, additive=True)
                return a - b if subtract else a + b
        return self._interval_step(operator.sub if subtract else operator.add, a, b, what, position)

    def multiply(self, a: Value, b: Value, position: int) -> Value:
        if (is_exact(a) and a == 0) or (is_exact(b) and b == 0):
            return _ZERO  # zero times any finite value, exact or not
        if is_exact(a) and is_exact(b):
            numerator = a.numerator.bit_length() + b.numerator.bit_length()
            denominator = a.denominator.bit_length() + b.denominator.bit_length()
            if self.fits(numerator, denominator):
                self._charge_exact(a, b, max(numerator, denominator), "this multiplication", position, additive=False)
                return a * b
        return self._interval_step(operator.mul, a, b, "this multiplication", position)

    def divide(self, a: Value, b: Value, position: int) -> Value:
        self._nonzero_divisor(b, position)
        if is_exact(a) and a == 0:
            return _ZERO
        if is_exact(a) and is_exact(b):
            numerator = a.numerator.bit_length() + b.denominator.bit_length()
            denominator = a.denominator.bit_length() + b.numerator.bit_length()
            if self.fits(numerator, denominator):
                self._charge_exact(a, b, max(numerator, denominator), "this division", position, additive=False)
                return a / b
        return self._interval_step(operator.truediv, a, b, "this division", position)

    def _nonzero_divisor(self, divisor: Value, position: int) -> None:
        direction = self.sign(divisor)
        if direction == 0:
            raise CalculationError(DIVISION_BY_ZERO, "the divisor is zero.", position)
        if direction is None:
            bound = f"1e{inexact.magnitude(divisor) + 1}"
            self.undetermined(f"the divisor is 0 to within {bound}", position, _MAYBE_ZERO)

    def floor_divide(self, a: Value, b: Value, position: int) -> Fraction:
        self._nonzero_divisor(b, position)
        if is_exact(a) and is_exact(b):
            size = self.sized(a.numerator.bit_length() + b.denominator.bit_length(), 1, "this division", position)
            self._charge_exact(a, b, size, "this division", position, additive=False)
            return Fraction(a // b)
        return self.integer_part(self.divide(a, b, position), math.floor, "//", position)

    def modulo(self, a: Value, b: Value, position: int) -> Value:
        """a - b*floor(a/b): the result has the sign of b, as in Python."""
        self._nonzero_divisor(b, position)
        if is_exact(a) and is_exact(b):
            numerator = b.numerator.bit_length() + a.denominator.bit_length()
            denominator = a.denominator.bit_length() + b.denominator.bit_length()
            if self.fits(numerator, denominator):
                self._charge_exact(a, b, max(numerator, denominator), "this remainder", position, additive=False)
                return a % b
        quotient = self.floor_divide(a, b, position)
        return self.add(a, self.multiply(b, quotient, position), position, subtract=True)

    def compare(self, symbol: str, a: Value, b: Value, position: int) -> bool:
        direction = self.order(a, b, position)
        if direction is None:
            difference = self.add(a, b, position, subtract=True)
            bound = f"1e{inexact.magnitude(difference) + 1}"
            advice = (
                "Whether they are equal could not be decided: digits alone cannot prove that two different "
                "expressions are equal (sqrt(2)**2 == 2), only that they differ."
            )
            self.undetermined(f"the two sides of {symbol} agree to within {bound}", position, advice)
        return COMPARISONS[symbol](direction, 0)

    def order(self, a: Value, b: Value, position: int) -> int | None:
        """-1, 0 or 1 as a is below, equal to or above b; None when the intervals cannot tell yet."""
        if is_exact(a) and is_exact(b):
            self._charge_exact(a, b, max(bits(a), bits(b)), "this comparison", position, additive=False)
            return (a > b) - (a < b)
        direction = self.sign(self.add(a, b, position, subtract=True))
        return None if direction == 0 else direction  # an interval difference of exactly 0 is two equal points

    def integer_part(self, value: Value, rounding: Callable[[Fraction], Any], name: str, position: int) -> Fraction:
        """floor/ceil/trunc/round of a value: exact even for an interval, once both ends agree."""
        if is_exact(value):
            self.budget.charge(quadratic_us("integer", bits(value)), name, position)
            return Fraction(rounding(value))
        low, high = inexact.bounds(value)
        first, second = Fraction(rounding(low)), Fraction(rounding(high))
        if first != second:
            self.undetermined(f"{name} cannot be decided: the value is too close to {describe(second)}", position)
        return first

    # --- powers -----------------------------------------------------------------------------------------

    def power(self, base: Value, exponent: Value, position: int) -> Value:
        if is_exact(exponent) and exponent.denominator == 1:
            return self._integer_power(base, exponent.numerator, position)
        if is_exact(base) and is_exact(exponent):
            return self._rational_power(base, exponent, position)
        return self._real_power(base, exponent, position)

    def _integer_power(self, base: Value, n: int, position: int) -> Value:
        if is_exact(base):
            if base == 0:
                if n < 0:
                    raise CalculationError(DIVISION_BY_ZERO, "0 to a negative power.", position)
                return _ONE if n == 0 else _ZERO
            if abs(base) == 1:
                return _ONE if base == 1 or n % 2 == 0 else -_ONE
            top, bottom = (base.numerator, base.denominator) if n >= 0 else (base.denominator, base.numerator)
            top_bits, bottom_bits = _power_bits(abs(top), n), _power_bits(abs(bottom), n)
            if self.fits(top_bits, bottom_bits) or bottom_bits == 1:  # an integer: its digits are its magnitude
                size = self.sized(top_bits, bottom_bits, "this power", position)
                self.budget.charge(quadratic_us("power", size), "this power", position)
                return base**n
        if n in (0, 1):
            return _ONE if n == 0 else base  # x**0 is exactly 1 even when x is irrational
        direction = self.sign(base)
        if n < 0 and direction is None:
            self.undetermined("the base of this negative power is zero to within its error", position)
        size = _times(n, _log10_abs(base))
        if direction not in (0, None) and abs(size) > self.limits.max_digits + 1:
            detail = f"this power would be about {_power_of_ten(size)}"
            raise CalculationError(
                DIGIT_LIMIT, f"{detail}; values must stay within 1e±{self.limits.max_digits}.", position
            )
        weight = 1 + abs(n).bit_length() / 8
        x = self.interval(base)
        return self.function("this power", lambda ctx: inexact.integer_power(ctx, x, n), position, weight)

    def _rational_power(self, base: Fraction, exponent: Fraction, position: int) -> Value:
        p, q = exponent.numerator, exponent.denominator
        if base == 0:
            if p < 0:
                raise CalculationError(DIVISION_BY_ZERO, "0 to a negative power.", position)
            return _ZERO
        if base < 0 and q % 2 == 0:
            detail = f"a negative number to the power {describe(exponent)} (an even root) has no real value."
            raise CalculationError(DOMAIN, detail, position)
        size = abs(base)
        if q <= bits(size):  # a q-th root of anything else but 1 is irrational
            self.budget.charge(quadratic_us("root", bits(size)), "this root", position)
            root = rational_root(size, q)
            if root is not None:
                result = self._integer_power(root, p, position)
                return -result if base < 0 and p % 2 else result
        self._check_power_magnitude(size, exponent, position)
        x, y = self.interval(size), self.interval(exponent)
        result = self.function("this power", lambda ctx: x**y, position, weight=3)
        return -result if base < 0 and p % 2 else result

    def _real_power(self, base: Value, exponent: Value, position: int) -> Value:
        direction = self.sign(base)
        if direction is None:
            self.undetermined("the base of this power is zero to within its error", position)
        if direction == -1:
            detail = "a negative number to a non-integer power has no real value."
            raise CalculationError(DOMAIN, detail, position)
        if direction == 0:
            if self.sign(exponent) == 1:
                return _ZERO
            self.undetermined("0 to this power is undefined or infinite", position)
        self._check_power_magnitude(base, exponent, position)
        x, y = self.interval(base), self.interval(exponent)
        return self.function("this power", lambda ctx: x**y, position, weight=3)

    def _check_power_magnitude(self, base: Value, exponent: Value, position: int) -> None:
        """|exponent * log10(base)| must stay within max_digits: checked before mpmath is asked."""
        log_base = _log10_abs(base)
        log_exponent = _log10_abs(exponent)
        if log_base == 0 or log_exponent + math.log10(abs(log_base)) <= math.log10(self.limits.max_digits):
            return
        size = _power_of_ten(10**log_exponent * log_base) if log_exponent < 300 else "far beyond that"
        detail = f"this power would be about {size}; values must stay within 1e±{self.limits.max_digits}"
        raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)


def _power_bits(value: int, n: int) -> int:
    """Bits of value**|n| (value >= 1), without computing it."""
    if value == 1:
        return 1
    if abs(n) > 2**53:  # a lower bound, and already far beyond any digit limit
        return abs(n) * (value.bit_length() - 1) + 1
    return int(abs(n) * math.log2(value)) + 1


def _power_of_ten(exponent: float) -> str:
    if not math.isfinite(exponent):
        return "10^(more than 1e308)"
    return f"1e{exponent:.0f}" if abs(exponent) < 1e15 else f"10^({exponent:.3g})"


def _times(n: int, x: float) -> float:
    """n * x for an integer n of any size (infinite when it would overflow)."""
    try:
        return n * x
    except OverflowError:
        return math.copysign(math.inf, x) * (1 if n > 0 else -1)


def _log10_abs(value: Value) -> float:
    """Roughly log10(|value|) (0 for zero), exact values included."""
    if is_exact(value):
        return math.log10(abs(value.numerator)) - math.log10(value.denominator) if value else 0.0
    if inexact.sign(value) == 0:
        return 0.0
    low, high = inexact.bounds(value)
    largest = max(abs(low), abs(high))
    return math.log10(largest.numerator) - math.log10(largest.denominator)
