"""The calculator's functions and constants: the allow-list the parser checks names against.

Each function takes its evaluated arguments (exact rationals or intervals) and returns a value. Exact inputs
give exact results wherever the mathematics allows (sqrt(16/9) = 4/3, log(8, 2) = 3, cos(0) = 1, floor of
anything decidable); otherwise the result is an interval from `inexact`. Integer functions size their
result from a log-gamma estimate before computing it. The names follow Python's `math` module, so what a
model writes from habit (fabs, fmod, expm1, lgamma, erf) works as it would there, but exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from deskmcp.servers.calculator import inexact, special
from deskmcp.servers.calculator.arithmetic import Arithmetic, Value, describe, is_exact
from deskmcp.servers.calculator.errors import ARGUMENT, DIGIT_LIMIT, DOMAIN, CalculationError
from deskmcp.servers.calculator.exact import bits, digits_of_bits, rational_log, rational_root, round_half_away
from deskmcp.servers.calculator.limits import LOG10_2, gamma_us, interval_us, quadratic_us

CONSTANTS: Final = ("pi", "e", "tau")
_LN10: Final = math.log(10)
_ZERO: Final = Fraction(0)
_ONE: Final = Fraction(1)

Apply = Callable[[Arithmetic, list[Value], int], Value]


@dataclass(frozen=True, slots=True)
class Function:
    minimum: int
    maximum: int | None  # None: any number of arguments
    apply: Apply


# --- helpers ---------------------------------------------------------------------------------------------


def _whole(value: Value, name: str, position: int, *, minimum: int | None = 0) -> int:
    if not is_exact(value) or value.denominator != 1:
        detail = f"{name} needs whole numbers; got {describe(value)}."
        raise CalculationError(ARGUMENT, detail, position)
    if minimum is not None and value.numerator < minimum:
        raise CalculationError(DOMAIN, f"{name} needs non-negative whole numbers; got {describe(value)}.", position)
    return value.numerator


def _digits_limit(ar: Arithmetic, digits: float, what: str, position: int) -> int:
    """Bits of a result estimated at `digits` decimal digits, or a digit-limit error."""
    return ar.sized(int(digits / LOG10_2) + 1, 1, what, position)


def _log10_factorial(n: int) -> float:
    return math.lgamma(n + 1) / _LN10


def _check_exponent(ar: Arithmetic, x: Value, name: str, position: int) -> None:
    """exp(x) must stay within 10^±max_digits: |x| <= max_digits * ln(10)."""
    limit = Fraction(ar.limits.max_digits) * Fraction(_LN10)
    low, high = (x, x) if is_exact(x) else inexact.bounds(x)
    if high > limit or low < -limit:
        detail = f"{name} of {describe(x)} is beyond 1e±{ar.limits.max_digits}, the range values must stay in"
        raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)


def _unary(name: str, compute: Callable[..., Value], special: dict[Fraction, Fraction], weight: float = 4) -> Function:
    """A one-argument function built from mpmath primitives (see `inexact`), exact at `special` points.

    Priced by default as four primitive calls: two primitives at each end of the argument's interval.
    """

    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        if is_exact(x) and x in special:
            return special[x]
        return ar.function(name, lambda ctx: compute(ctx, ar.interval(x)), position, weight)

    return Function(1, 1, apply)


def _guarded(function: Function, check: Callable[[Arithmetic, Value, int], None]) -> Function:
    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        check(ar, args[0], position)
        return function.apply(ar, args, position)

    return Function(function.minimum, function.maximum, apply)


def _domain(name: str, needs: str, **bounds: object) -> Callable[[Arithmetic, Value, int], None]:
    return lambda ar, x, position: ar.require(x, name, needs, position, **bounds)


# --- rounding, sign, extremes ---------------------------------------------------------------------------


def _rounding(name: str, rounding: Callable[[Fraction], object]) -> Function:
    return Function(1, 1, lambda ar, args, position: ar.integer_part(args[0], rounding, name, position))


def _round(ar: Arithmetic, args: list[Value], position: int) -> Value:
    places = _whole(args[1], "round", position, minimum=None) if len(args) > 1 else 0
    if abs(places) > ar.limits.max_digits:
        detail = f"round to {describe(args[1])} decimal places is beyond the digit limit."
        raise CalculationError(ARGUMENT, detail, position)
    ar.magnitude = max(ar.magnitude, places)  # deciding the last of `places` decimals needs that many digits
    return ar.integer_part(args[0], lambda v: round_half_away(v, places), "round", position)


def _abs(ar: Arithmetic, args: list[Value], position: int) -> Value:
    return abs(args[0])


def _extreme(largest: bool) -> Apply:
    """max or min; two values too close to order are merged into an interval that holds either."""

    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        best = args[0]
        for value in args[1:]:
            direction = ar.order(best, value, position)
            if direction is None:
                ar.budget.charge(interval_us(ar.digits, function=False), "max" if largest else "min", position)
                best = inexact.extreme(ar.ctx, ar.interval(best), ar.interval(value), largest=largest)
            elif (direction < 0) == largest:
                best = value
        return best

    return apply


# --- integer functions -----------------------------------------------------------------------------------


def _factorial(ar: Arithmetic, args: list[Value], position: int) -> Value:
    n = _whole(args[0], "factorial", position)
    what = f"factorial({n})" if n < 10**12 else "this factorial"
    if n > ar.max_bits:
        ar.sized(n * max(n.bit_length() - 3, 1), 1, what, position)  # n! > (n/e)^n: always refused
    size = _digits_limit(ar, _log10_factorial(n), what, position)
    ar.budget.charge(quadratic_us("factorial", size), what, position)
    return Fraction(math.factorial(n))


def _log10_falling(n: int, k: int) -> float:
    """log10 of n*(n-1)*...*(n-k+1), accurate for moderate n and an upper bound beyond."""
    if n < 2**53:
        return (math.lgamma(n + 1) - math.lgamma(n - k + 1)) / _LN10
    return k * math.log10(n)


def _comb(ar: Arithmetic, args: list[Value], position: int) -> Value:
    n, k = (_whole(value, "comb", position) for value in args)
    if k > n:
        return _ZERO
    k = min(k, n - k)
    if k > ar.max_bits:  # comb(n, k) >= 2^k when k <= n/2
        ar.sized(k, 1, "this comb", position)
    size = _digits_limit(ar, _log10_falling(n, k) - _log10_factorial(k), "this comb", position)
    ar.budget.charge(quadratic_us("comb", size), "this comb", position)
    return Fraction(math.comb(n, k))


def _perm(ar: Arithmetic, args: list[Value], position: int) -> Value:
    n = _whole(args[0], "perm", position)
    k = _whole(args[1], "perm", position) if len(args) > 1 else n
    if k > n:
        return _ZERO
    if k > ar.max_bits and n > 1:  # perm(n, k) >= k! > 2^k
        ar.sized(k, 1, "this perm", position)
    size = _digits_limit(ar, _log10_falling(n, k), "this perm", position)
    ar.budget.charge(quadratic_us("perm", size), "this perm", position)
    return Fraction(math.perm(n, k))


def _gcd(ar: Arithmetic, args: list[Value], position: int) -> Value:
    numbers = [_whole(value, "gcd", position, minimum=None) for value in args]
    ar.budget.charge(len(numbers) * quadratic_us("gcd", max(n.bit_length() for n in numbers)), "gcd", position)
    return Fraction(math.gcd(*numbers))


def _lcm(ar: Arithmetic, args: list[Value], position: int) -> Value:
    numbers = [_whole(value, "lcm", position, minimum=None) for value in args]
    size = ar.sized(sum(n.bit_length() for n in numbers), 1, "this lcm", position)
    ar.budget.charge(len(numbers) * quadratic_us("gcd", size), "lcm", position)
    return Fraction(math.lcm(*numbers))


def _isqrt(ar: Arithmetic, args: list[Value], position: int) -> Value:
    n = _whole(args[0], "isqrt", position)
    ar.budget.charge(quadratic_us("root", n.bit_length()), "isqrt", position)
    return Fraction(math.isqrt(n))


# --- roots, exponentials, logarithms ---------------------------------------------------------------------


def _root(name: str, degree: int, compute: Callable[..., Value], weight: float) -> Apply:
    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        if degree % 2 == 0:
            ar.require(x, name, "numbers >= 0", position, low=_ZERO)
        if is_exact(x):
            ar.budget.charge(quadratic_us("root", bits(x)), name, position)
            root = rational_root(abs(x), degree)
            if root is not None:
                return root if x >= 0 else -root
        return ar.function(name, lambda ctx: compute(ctx, ar.interval(x)), position, weight)

    return apply


def _exp(ar: Arithmetic, args: list[Value], position: int) -> Value:
    x = args[0]
    if is_exact(x) and x == 0:
        return _ONE
    _check_exponent(ar, x, "exp", position)
    return ar.function("exp", lambda ctx: ctx.exp(ar.interval(x)), position)


def _logarithm(ar: Arithmetic, x: Value, base: Value | None, name: str, position: int) -> Value:
    ar.require(x, name, "numbers > 0", position, low=_ZERO, open_low=True)
    if base is None:
        if is_exact(x) and x == 1:
            return _ZERO
        return ar.function(name, lambda ctx: ctx.ln(ar.interval(x)), position, weight=2)
    ar.require(base, f"the base of {name}", "numbers > 0", position, low=_ZERO, open_low=True)
    if is_exact(base) and base == 1:
        raise CalculationError(DOMAIN, f"{name} to base 1 is undefined.", position)
    if is_exact(x) and is_exact(base):
        ar.budget.charge(quadratic_us("power", max(bits(x), bits(base))), name, position)
        exact = rational_log(x, base, ar.limits.max_digits)
        if exact is not None:
            return exact
    numerator = ar.function(name, lambda ctx: ctx.ln(ar.interval(x)), position, weight=2)
    divisor = ar.function(name, lambda ctx: ctx.ln(ar.interval(base)), position, weight=2)
    return ar.divide(numerator, divisor, position)


def _power_of_two(ar: Arithmetic, args: list[Value], position: int) -> Value:
    return ar.power(Fraction(2), args[0], position)


def _fmod(ar: Arithmetic, args: list[Value], position: int) -> Value:
    """x - y * trunc(x / y), with the sign of x (C's fmod; Python's % takes the sign of y)."""
    x, y = args
    quotient = ar.integer_part(ar.divide(x, y, position), math.trunc, "fmod", position)
    return ar.add(x, ar.multiply(y, quotient, position), position, subtract=True)


def _erf_function(name: str, compute: Callable[..., Value], at_zero: Fraction) -> Function:
    """erf or erfc: priced by the terms of the series at the argument's largest size (see `inexact`)."""
    unary = _unary(name, compute, {_ZERO: at_zero})

    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        low, high = (x, x) if is_exact(x) else inexact.bounds(x)
        if name == "erfc" and low > 0 and low**2 > ar.limits.max_digits * _LN10 + 10:  # erfc(x) < e^(-x^2)
            detail = f"erfc of {describe(x)} is below 1e-{ar.limits.max_digits}, the range values must stay in"
            raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)
        terms = special.series_terms(max(abs(low), abs(high)), ar.digits)
        ar.budget.charge(2 * terms * 3 * interval_us(2 * ar.digits, function=False), name, position)
        return unary.apply(ar, args, position)

    return Function(1, 1, apply)


def _gamma_function(name: str, compute: Callable[..., Value]) -> Apply:
    """gamma or lgamma of a non-integer (or of an interval): mpmath's log-gamma, priced by its cold cost."""

    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        low, high = (x, x) if is_exact(x) else inexact.bounds(x)
        size = max(abs(low), abs(high))
        if name == "gamma" and size > 2 and math.lgamma(float(min(size, 10**6))) / _LN10 > ar.limits.max_digits:
            detail = f"gamma of {describe(x)} is beyond 1e±{ar.limits.max_digits}, the range values must stay in"
            raise CalculationError(DIGIT_LIMIT, detail + " (DESKMCP_CALCULATOR_MAX_DIGITS).", position)
        # below 0, sin(pi x) reduces an argument of that many more digits (as sin does)
        extra = digits_of_bits(int(size).bit_length()) if low < 0 else 0
        cost = gamma_us(ar.digits) * ((ar.digits + extra) / ar.digits) ** 2
        ar.budget.charge(cost, name, position)
        return ar.function(name, lambda ctx: compute(ctx, ar.interval(x, extra)), position, weight=0)

    return apply


def _pole(ar: Arithmetic, x: Value, name: str, position: int) -> int | None:
    """x as an integer when it is one (a domain error at 0, -1, -2, ...), else None."""
    if not is_exact(x) or x.denominator != 1:
        return None
    if x <= 0:
        detail = f"{name} is undefined at 0 and the negative whole numbers (its poles); got {describe(x)}."
        raise CalculationError(DOMAIN, detail, position)
    return x.numerator


def _gamma(ar: Arithmetic, args: list[Value], position: int) -> Value:
    n = _pole(ar, args[0], "gamma", position)
    if n is not None:
        return _factorial(ar, [Fraction(n - 1)], position)  # gamma(n) = (n - 1)!, exactly
    return _gamma_function("gamma", special.gamma)(ar, args, position)


def _lgamma(ar: Arithmetic, args: list[Value], position: int) -> Value:
    """ln|gamma(x)|, as Python's math.lgamma."""
    n = _pole(ar, args[0], "lgamma", position)
    if n in (1, 2):
        return _ZERO
    return _gamma_function("lgamma", special.log_gamma)(ar, args, position)


def _log(ar: Arithmetic, args: list[Value], position: int) -> Value:
    return _logarithm(ar, args[0], args[1] if len(args) > 1 else None, "log", position)


def _log_base(name: str, base: int) -> Apply:
    return lambda ar, args, position: _logarithm(ar, args[0], Fraction(base), name, position)


# --- trigonometry ----------------------------------------------------------------------------------------


def _periodic(name: str, compute: Callable[..., Value], at_zero: Fraction) -> Function:
    """sin/cos/tan: an exact argument is converted with as many extra digits as its integer part has."""

    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        if not is_exact(x):
            low, high = inexact.bounds(x)
            if high - low > 6:  # wider than a period: more digits are needed, and mpmath would reduce in vain
                ar.undetermined(f"the argument of {name} is too large for the digits it is known to", position)
            size = max(0, inexact.magnitude(x)) if inexact.sign(x) != 0 else 0
            weight = ((ar.digits + size) / ar.digits) ** 2  # argument reduction works with the integer part
            return ar.function(name, lambda ctx: compute(ctx, x), position, weight)
        if x == 0:
            return at_zero
        extra = max(0, int((abs(x.numerator).bit_length() - x.denominator.bit_length()) * LOG10_2) + 2)
        argument = ar.interval(x, extra)
        weight = ((ar.digits + extra) / ar.digits) ** 2
        return ar.function(name, lambda ctx: compute(ctx, argument), position, weight)

    return Function(1, 1, apply)


def _atan2(ar: Arithmetic, args: list[Value], position: int) -> Value:
    y, x = args
    if is_exact(y) and y == 0:  # on the x axis: mpmath gives pi whenever x's interval reaches below zero
        direction = ar.sign(x)
        if direction is None:
            ar.undetermined("atan2(0, x) cannot be decided: x is too close to 0", position)
        return ar.constant("pi") if direction == -1 else _ZERO
    return ar.function("atan2", lambda ctx: ctx.atan2(ar.interval(y), ar.interval(x)), position, weight=2)


def _angle(name: str, to_degrees: bool) -> Function:
    def apply(ar: Arithmetic, args: list[Value], position: int) -> Value:
        x = args[0]
        if is_exact(x) and x == 0:
            return _ZERO
        pi = ar.constant("pi")
        if to_degrees:
            return ar.divide(ar.multiply(x, Fraction(180), position), pi, position)
        return ar.divide(ar.multiply(x, pi, position), Fraction(180), position)

    return Function(1, 1, apply)


def _hypot(ar: Arithmetic, args: list[Value], position: int) -> Value:
    total: Value = _ZERO
    for value in args:
        total = ar.add(total, ar.multiply(value, value, position), position)
    return _root("hypot", 2, lambda ctx, x: ctx.sqrt(x), weight=1)(ar, [total], position)


FUNCTIONS: Final[dict[str, Function]] = {
    "abs": Function(1, 1, _abs),
    "fabs": Function(1, 1, _abs),
    "round": Function(1, 2, _round),
    "floor": _rounding("floor", math.floor),
    "ceil": _rounding("ceil", math.ceil),
    "trunc": _rounding("trunc", math.trunc),
    "min": Function(1, None, _extreme(largest=False)),
    "max": Function(1, None, _extreme(largest=True)),
    "sqrt": Function(1, 1, _root("sqrt", 2, lambda ctx, x: ctx.sqrt(x), weight=1)),
    "cbrt": Function(1, 1, _root("cbrt", 3, inexact.cbrt, weight=4)),
    "exp": Function(1, 1, _exp),
    "exp2": Function(1, 1, _power_of_two),
    "expm1": _guarded(
        _unary("expm1", inexact.expm1, {_ZERO: _ZERO}, weight=8), lambda ar, x, p: _check_exponent(ar, x, "expm1", p)
    ),
    "pow": Function(2, 2, lambda ar, args, position: ar.power(args[0], args[1], position)),
    "ln": Function(1, 1, lambda ar, args, position: _logarithm(ar, args[0], None, "ln", position)),
    "log": Function(1, 2, _log),
    "log2": Function(1, 1, _log_base("log2", 2)),
    "log10": Function(1, 1, _log_base("log10", 10)),
    "log1p": _guarded(
        _unary("log1p", inexact.log1p, {_ZERO: _ZERO}, weight=8),
        _domain("log1p", "x > -1", low=-_ONE, open_low=True),
    ),
    "sin": _periodic("sin", lambda ctx, x: ctx.sin(x), _ZERO),
    "cos": _periodic("cos", lambda ctx, x: ctx.cos(x), _ONE),
    "tan": _periodic("tan", lambda ctx, x: ctx.tan(x), _ZERO),
    "asin": _guarded(
        _unary("asin", inexact.asin, {_ZERO: _ZERO}), _domain("asin", "-1 <= x <= 1", low=-_ONE, high=_ONE)
    ),
    "acos": _guarded(
        _unary("acos", inexact.acos, {_ONE: _ZERO}), _domain("acos", "-1 <= x <= 1", low=-_ONE, high=_ONE)
    ),
    "atan": _unary("atan", inexact.atan, {_ZERO: _ZERO}),
    "atan2": Function(2, 2, _atan2),
    "sinh": _guarded(_unary("sinh", inexact.sinh, {_ZERO: _ZERO}), lambda ar, x, p: _check_exponent(ar, x, "sinh", p)),
    "cosh": _guarded(_unary("cosh", inexact.cosh, {_ZERO: _ONE}), lambda ar, x, p: _check_exponent(ar, x, "cosh", p)),
    "tanh": _unary("tanh", inexact.tanh, {_ZERO: _ZERO}),
    "asinh": _unary("asinh", inexact.asinh, {_ZERO: _ZERO}),
    "acosh": _guarded(_unary("acosh", inexact.acosh, {_ONE: _ZERO}), _domain("acosh", "x >= 1", low=_ONE)),
    "atanh": _guarded(
        _unary("atanh", inexact.atanh, {_ZERO: _ZERO}),
        _domain("atanh", "-1 < x < 1", low=-_ONE, high=_ONE, open_low=True, open_high=True),
    ),
    "degrees": _angle("degrees", to_degrees=True),
    "radians": _angle("radians", to_degrees=False),
    "hypot": Function(1, None, _hypot),
    "factorial": Function(1, 1, _factorial),
    "comb": Function(2, 2, _comb),
    "perm": Function(1, 2, _perm),
    "gcd": Function(1, None, _gcd),
    "lcm": Function(1, None, _lcm),
    "isqrt": Function(1, 1, _isqrt),
    "fmod": Function(2, 2, _fmod),
    "gamma": Function(1, 1, _gamma),
    "lgamma": Function(1, 1, _lgamma),
    "erf": _erf_function("erf", special.erf, _ZERO),
    "erfc": _erf_function("erfc", special.erfc, _ONE),
}
