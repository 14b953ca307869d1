"""Irrational values as rigorous intervals (mpmath's interval context), imported only when first needed.

An inexact value is an interval certain to contain the true value. The evaluator works at a given number of
digits and retries with more until the interval pins down the requested significant digits, so a printed
digit is never a guess. Functions mpmath has no interval version of are built from ones it has: for a
monotone function, the hull of its values at the two endpoints.

mpmath's working precision is a property of its context object, so each thread gets its own context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

from deskmcp.servers.calculator.limits import LOG10_2

Interval = Any  # mpmath.ctx_iv.ivmpf; mpmath is not imported until an irrational value is needed
_local = threading.local()
_loaded = False


def loaded() -> bool:
    """Whether `load` has finished (importing mpmath costs tens of milliseconds). Not "mpmath" in sys.modules:
    that is true from the moment another thread starts the import, and using it then waits for the import."""
    return _loaded


def load() -> None:
    """Import mpmath's interval context (tens of milliseconds: done off the event loop, once)."""
    global _loaded
    import mpmath.ctx_iv  # noqa: F401

    _loaded = True


def context(digits: int) -> Any:
    """This thread's interval context, set to `digits` significant digits."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        from mpmath.ctx_iv import MPIntervalContext

        ctx = _local.ctx = MPIntervalContext()
    ctx.dps = digits
    return ctx


def from_fraction(ctx: Any, value: Fraction) -> Interval:
    numerator = ctx.mpf(value.numerator)
    return numerator if value.denominator == 1 else numerator / value.denominator


def _to_fraction(raw: tuple[int, int, int, int]) -> Fraction:
    sign, mantissa, exponent, _ = raw
    value = Fraction(mantissa << exponent) if exponent >= 0 else Fraction(mantissa, 1 << -exponent)
    return -value if sign else value


def is_finite(value: Interval) -> bool:
    low, high = value._mpi_
    return bool(low[1] or low == (0, 0, 0, 0)) and bool(high[1] or high == (0, 0, 0, 0))


def bounds(value: Interval) -> tuple[Fraction, Fraction]:
    """The endpoints as exact rationals (the interval must be finite)."""
    low, high = value._mpi_
    return _to_fraction(low), _to_fraction(high)


def sign(value: Interval) -> int | None:
    """1 or -1 when the whole interval is on one side of zero, 0 for the point zero, else None."""
    low, high = value._mpi_
    if low[0] == 0 and low[1]:
        return 1
    if high[0] == 1 and high[1]:
        return -1
    if not low[1] and not high[1]:
        return 0
    return None


def magnitude(value: Interval) -> int:
    """Roughly log10 of the largest absolute value in the interval (finite, not the point zero)."""
    return max(_decimal_exponent(raw) for raw in value._mpi_ if raw[1])


def smallest_magnitude(value: Interval) -> int:
    """Roughly log10 of the smallest absolute value in the interval (which must not contain zero)."""
    return min(_decimal_exponent(raw) for raw in value._mpi_)


def _decimal_exponent(raw: tuple[int, int, int, int]) -> int:
    """About floor(log10 |raw|) (within one): |raw| is in [2^(exponent + bits - 1), 2^(exponent + bits))."""
    _, _, exponent, bit_count = raw
    return (2 * (exponent + bit_count) - 1) * 30103 // 200000  # integers: exponents can be beyond any float


def _at_least_power_of_ten(raw: tuple[int, int, int, int], k: int) -> bool:
    """|raw| >= 10^k, exactly; from the exponent alone unless |raw| is within a factor of 2 of 10^k."""
    _, mantissa, exponent, bit_count = raw
    if abs(exponent + bit_count) > 2**52:  # far beyond any limit (and any float)
        return exponent + bit_count > 0
    if (exponent + bit_count) * LOG10_2 < k - 1e-6:
        return False
    if (exponent + bit_count - 1) * LOG10_2 > k + 1e-6:
        return True
    scaled, power = (mantissa << max(exponent, 0), 1 << max(-exponent, 0))  # |raw| = scaled / power
    return scaled * 10 ** max(-k, 0) >= power * 10 ** max(k, 0)


def reaches_power_of_ten(value: Interval, k: int) -> bool:
    """Whether some |v| in the (finite) interval is at least 10^k."""
    return any(raw[1] and _at_least_power_of_ten(raw, k) for raw in value._mpi_)


def falls_below_power_of_ten(value: Interval, k: int) -> bool:
    """Whether some |v| in the interval (which must not contain 0) is below 10^k."""
    return not all(_at_least_power_of_ten(raw, k) for raw in value._mpi_)


def hull(ctx: Any, first: Interval, second: Interval) -> Interval:
    from mpmath.libmp import mpf_lt

    (low, high), (other_low, other_high) = first._mpi_, second._mpi_
    return ctx.make_mpf(
        (other_low if mpf_lt(other_low, low) else low, high if mpf_lt(other_high, high) else other_high)
    )


def extreme(ctx: Any, first: Interval, second: Interval, *, largest: bool) -> Interval:
    """max (or min) of two intervals: it contains the max (or min) of any two values taken from them."""
    from mpmath.libmp import mpf_lt

    def pick(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (b if mpf_lt(a, b) else a) if largest else (a if mpf_lt(a, b) else b)

    (low, high), (other_low, other_high) = first._mpi_, second._mpi_
    return ctx.make_mpf((pick(low, other_low), pick(high, other_high)))


def monotone(ctx: Any, value: Interval, point: Callable[[Any, Interval], Interval]) -> Interval:
    """A monotone (increasing or decreasing) function of an interval: the hull of its endpoint values."""
    low, high = value._mpi_
    if low == high:
        return point(ctx, value)
    return hull(ctx, point(ctx, ctx.make_mpf((low, low))), point(ctx, ctx.make_mpf((high, high))))


def integer_power(ctx: Any, x: Interval, n: int) -> Interval:
    """x**n for an integer n, with real results for negative x (mpmath would go through a complex log)."""
    direction = sign(x)
    if direction == 1:
        return x**n
    if direction == -1:
        magnitude_power = (-x) ** n
        return -magnitude_power if n % 2 else magnitude_power
    if n % 2 == 0:  # x straddles zero (n > 0 here): [0, max |x|^n]
        top = max(abs(_to_fraction(raw)) for raw in x._mpi_)
        upper = (ctx.mpf(top.numerator) / top.denominator) ** n
        return ctx.make_mpf(((0, 0, 0, 0), upper._mpi_[1]))
    return monotone(ctx, x, lambda ctx, point: integer_power(ctx, point, n) if sign(point) else point)


# Point formulas chosen to avoid cancellation (expm1/log1p near zero); each encloses the true value.


@contextmanager
def more_digits(ctx: Any, extra: int) -> Iterator[None]:
    digits = ctx.dps
    ctx.dps = digits + extra
    try:
        yield
    finally:
        ctx.dps = digits


def tiny(ctx: Any, x: Interval) -> bool:
    """|x| < 10^-(dps+5): a two-term Taylor enclosure is as tight as the working precision (and |x| < 1/2)."""
    return magnitude(x) < -(ctx.dps + 5)


def _cancelling_digits(x: Interval) -> int:
    """Digits lost when a function near 1 (exp, ln(1 + x)) is shifted by 1 for a small x: about -log10|x|."""
    return max(0, -smallest_magnitude(x)) + 5


def _expm1(ctx: Any, x: Interval) -> Interval:
    """e^x - 1 for a point x: Taylor with its Lagrange remainder, e^x - 1 - x in [0, 2x^2] for |x| <= 1."""
    if sign(x) == 0:
        return x
    if tiny(ctx, x):
        return x + ctx.mpf([0, 2]) * (x * x)
    with more_digits(ctx, _cancelling_digits(x)):
        return ctx.exp(x) - 1


def _log1p(ctx: Any, x: Interval) -> Interval:
    """ln(1 + x) for a point x > -1; for |x| <= 1/2, ln(1 + x) - x is in [-x^2, 0]."""
    if sign(x) == 0:
        return x
    if tiny(ctx, x):
        return x + ctx.mpf([-1, 0]) * (x * x)
    with more_digits(ctx, _cancelling_digits(x)):
        return ctx.ln(1 + x)


def _sinh(ctx: Any, x: Interval) -> Interval:
    return (_expm1(ctx, x) - _expm1(ctx, -x)) / 2


def _tanh(ctx: Any, x: Interval) -> Interval:
    if sign(x) == -1:
        return -_tanh(ctx, -x)
    if _to_fraction(x._mpi_[0]) > Fraction(12 * ctx.dps + 100, 10):
        # 1 - tanh(x) < 2e^(-2x) < 10^-(dps+5): skip mpmath's exp of a huge argument, which can take minutes
        return ctx.make_mpf(((1 - ctx.mpf(10) ** -(ctx.dps + 5))._mpi_[0], ctx.mpf(1)._mpi_[1]))
    grown = _expm1(ctx, -2 * x)  # in (-1, 0]: no overflow for large x
    return -grown / (grown + 2)


def _asinh(ctx: Any, x: Interval) -> Interval:
    if sign(x) == -1:
        return -_asinh(ctx, -x)
    square = x * x
    return _log1p(ctx, x + square / (1 + ctx.sqrt(square + 1)))


def _acosh(ctx: Any, x: Interval) -> Interval:
    return ctx.ln(x + ctx.sqrt((x - 1) * (x + 1)))


def _atanh(ctx: Any, x: Interval) -> Interval:
    return _log1p(ctx, 2 * x / (1 - x)) / 2


def _asin(ctx: Any, x: Interval) -> Interval:
    return ctx.atan2(x, ctx.sqrt((1 - x) * (1 + x)))


def _acos(ctx: Any, x: Interval) -> Interval:
    return ctx.atan2(ctx.sqrt((1 - x) * (1 + x)), x)


def _atan(ctx: Any, x: Interval) -> Interval:
    return ctx.atan2(x, ctx.mpf(1))


def _cbrt(ctx: Any, x: Interval) -> Interval:
    direction = sign(x)
    if direction == 0:
        return x
    root = ctx.exp(ctx.ln(abs(x)) / 3)
    return -root if direction == -1 else root


def _cosh_of_magnitude(ctx: Any, x: Interval) -> Interval:
    return (ctx.exp(x) + ctx.exp(-x)) / 2


def monotone_function(point: Callable[[Any, Interval], Interval]) -> Callable[[Any, Interval], Interval]:
    """The interval function of a monotone point formula: the hull of its values at the two ends."""
    return lambda ctx, x: monotone(ctx, x, point)


def cosh(ctx: Any, x: Interval) -> Interval:
    return monotone(ctx, abs(x), _cosh_of_magnitude)  # even: monotone in |x|


expm1 = monotone_function(_expm1)
log1p = monotone_function(_log1p)
sinh = monotone_function(_sinh)
tanh = monotone_function(_tanh)
asinh = monotone_function(_asinh)
acosh = monotone_function(_acosh)
atanh = monotone_function(_atanh)
asin = monotone_function(_asin)
acos = monotone_function(_acos)
atan = monotone_function(_atan)
cbrt = monotone_function(_cbrt)
