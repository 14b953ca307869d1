"""erf, erfc and gamma as rigorous intervals: mpmath has no interval erf, and its log-gamma needs help below 0.

erf and erfc are summed from series whose truncation error is bounded and added in as an interval, so the
result encloses the true value at any working precision; both are monotone, so an interval argument takes
the hull of the values at its two ends (`inexact.monotone_function`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from deskmcp.servers.calculator.inexact import (
    Interval,
    bounds,
    magnitude,
    monotone_function,
    more_digits,
    sign,
    smallest_magnitude,
    tiny,
)


def _erf_is_asymptotic(ctx: Any, x: Interval) -> bool:
    """Whether erfc(x) is best taken from its asymptotic series: for x^2 > (dps + 10) ln 10 its smallest
    term is below the working precision."""
    return sign(x) == 1 and smallest_magnitude(x) >= 0 and bounds(x)[0] ** 2 > (ctx.dps + 10) * 2.31


def _erfc_asymptotic(ctx: Any, x: Interval) -> Interval:
    """erfc(x) = e^(-x^2) / (x sqrt(pi)) * sum (-1)^n (2n-1)!! / (2x^2)^n (DLMF 7.12.1). For real x > 0 the
    remainder is bounded by the first omitted term and has its sign (DLMF 7.12(ii)), so it is added as an
    interval between 0 and that term."""
    half_inverse_square = 1 / (2 * x * x)
    total, term, n = ctx.mpf(1), ctx.mpf(1), 0
    negligible = ctx.mpf(10) ** -(ctx.dps + 5)
    smallest_term_at = bounds(x)[0] ** 2  # the terms fall until n is about x^2
    while True:
        n += 1
        term = -term * (2 * n - 1) * half_inverse_square
        if abs(term) < negligible:
            break
        if n > smallest_term_at:
            raise ValueError("erfc: the asymptotic series diverges before reaching the working precision")
        total += term
    low, high = term._mpi_
    remainder = ctx.make_mpf(((0, 0, 0, 0), high) if sign(term) == 1 else (low, (0, 0, 0, 0)))
    return ctx.exp(-x * x) / (x * ctx.sqrt(ctx.pi)) * (total + remainder)


def _erf_series(ctx: Any, x: Interval) -> Interval:
    """erf(x) for 0 < x = 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!! (DLMF 7.6.2): positive terms, so no
    cancellation; once the term ratio 2x^2/(2n+3) is below 1/2 the tail is at most the last term."""
    square = x * x
    with more_digits(ctx, 5 + len(str(int(bounds(x)[1] ** 2) + ctx.dps))):
        term = total = +x
        n = 0
        negligible = ctx.mpf(10) ** -(ctx.dps + 5)
        while True:
            term = term * 2 * square / (2 * n + 3)
            n += 1
            total += term
            if 4 * bounds(square)[1] < 2 * n + 3 and bounds(term)[1] < bounds(total * negligible)[0]:
                break
        tail = ctx.make_mpf(((0, 0, 0, 0), term._mpi_[1]))
        return 2 / ctx.sqrt(ctx.pi) * ctx.exp(-square) * (total + tail)


def series_terms(x: Fraction, digits: int) -> int:
    """At most how many terms erf's and erfc's series need at |x| (for pricing; the loops stop by themselves).

    The asymptotic series' terms at least halve while n < x^2/2; the positive series runs past 2x^2."""
    square = float(min(abs(x), 10**6)) ** 2
    if square > 2.31 * (digits + 10):
        return int(min(square, 3.33 * (digits + 5))) + 5
    return int(3 * square + 3 * digits) + 10


def _erf(ctx: Any, x: Interval) -> Interval:
    if sign(x) == -1:
        return -_erf(ctx, -x)
    if sign(x) == 0:
        return x
    if tiny(ctx, x):  # erf(x) = 2/sqrt(pi) (x - x^3/3 + ...), alternating with falling terms for x < 1
        return 2 / ctx.sqrt(ctx.pi) * (x - ctx.mpf([0, 1]) * x * x * x / 3)
    if bounds(x)[0] > 4 * ctx.dps + 40:  # 0 < erfc(x) < e^(-x^2) < 10^-(dps+5): skip computing it
        return ctx.make_mpf(((1 - ctx.mpf(10) ** -(ctx.dps + 5))._mpi_[0], ctx.mpf(1)._mpi_[1]))
    if _erf_is_asymptotic(ctx, x):
        return 1 - _erfc_asymptotic(ctx, x)
    return _erf_series(ctx, x)


def _erfc(ctx: Any, x: Interval) -> Interval:
    if sign(x) != 1:
        return 1 - _erf(ctx, x)  # at least 1: no cancellation
    if _erf_is_asymptotic(ctx, x):
        return _erfc_asymptotic(ctx, x)
    # 1 - erf(x) loses about x^2 / ln 10 digits to cancellation: erfc(x) > e^(-x^2) / (x + sqrt(x^2 + 2))
    lost = int(bounds(x)[1] ** 2 / Fraction(23, 10)) + len(str(int(bounds(x)[1]))) + 5
    with more_digits(ctx, lost):
        return 1 - _erf(ctx, x)


# Gamma: mpmath's interval log-gamma for x > 0, and the reflection formula below 0.


def log_gamma(ctx: Any, x: Interval) -> Interval:
    """ln|Gamma(x)| for an x that is not an integer <= 0: ln pi - ln|sin(pi x)| - lnGamma(1 - x) below 0."""
    if sign(x) == 1:
        return ctx.loggamma(x)
    with more_digits(ctx, max(0, magnitude(x)) + 5):  # pi x must keep its fractional part's digits
        turned = abs(ctx.sin(ctx.pi * x))
    return ctx.ln(ctx.pi) - ctx.ln(turned) - ctx.loggamma(1 - x)


def gamma(ctx: Any, x: Interval) -> Interval:
    """Gamma(x) = e^lnGamma(x), with the sign of sin(pi x) below 0 (Gamma(-0.5) < 0 < Gamma(-1.5))."""
    logarithm = log_gamma(ctx, x)
    with more_digits(ctx, max(0, magnitude(logarithm)) + 2):
        size = ctx.exp(logarithm)
    if sign(x) == 1:
        return size
    turns = math.floor(-bounds(x)[1])  # x in (-turns - 1, -turns): the sign is (-1)^(turns + 1)
    return size if turns % 2 else -size


erf = monotone_function(_erf)
erfc = monotone_function(_erfc)
