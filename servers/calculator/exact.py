"""Exact rational helpers: literals, sizes, rational roots and logarithms, rounding, and big-integer text.

CPython refuses int<->str conversions beyond 4,300 digits (a guard against quadratic parsing); our own
digit limit is checked first, so the conversions here split larger numbers into chunks instead of
changing the process-wide setting.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Final, NamedTuple

from deskmcp.servers.calculator.errors import DIGIT_LIMIT, SYNTAX, CalculationError

_CHUNK: Final = 4_000
_DECIMAL: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\Z")
_MAX_EXPONENT_CHARS: Final = 9
_LOG2_5: Final = math.log2(5)


def bits(value: Fraction) -> int:
    """Bits of the larger of numerator and denominator."""
    return max(value.numerator.bit_length(), value.denominator.bit_length())


def digits_of_bits(bit_count: int) -> int:
    """Decimal digits of a number of `bit_count` bits, to within one (integer arithmetic: any size)."""
    return bit_count * 301_029_995_664 // 10**12 + 1


def count_text(count: int) -> str:
    """A count for a message: 12,345, or 10^600 when writing it out would be silly (or refused by CPython)."""
    return f"{count:,}" if count < 10**15 else f"10^{digits_of_bits(count.bit_length()) - 1}"


def int_from_digits(text: str) -> int:
    """`int(text)` for decimal digits of any length."""
    if len(text) <= _CHUNK:
        return int(text)
    head, tail = text[:-_CHUNK], text[-_CHUNK:]
    return int_from_digits(head) * 10**_CHUNK + int(tail)


def int_to_text(value: int) -> str:
    """`str(value)` for integers of any size."""
    if value < 0:
        return "-" + int_to_text(-value)
    if value.bit_length() < _CHUNK * 3:
        return str(value)
    half = digits_of_bits(value.bit_length()) // 2
    high, low = divmod(value, 10**half)
    return int_to_text(high) + int_to_text(low).rjust(half, "0")


class Shape(NamedTuple):
    """What a literal's exact value will look like, read from its text alone: the digits of its integer
    part, its decimals (of a mantissa without trailing zeros: its denominator is at least 2^decimals), and
    the power of ten reading it builds."""

    integer_digits: int
    decimals: int
    power: int


_BASE_BITS: Final = {"0x": 4, "0b": 1, "0o": 3}


def literal_shape(text: str, max_digits: int, position: int) -> Shape:
    """The `Shape` of a number literal, or the digit-limit error `parse_literal` would raise; builds nothing."""
    if text.isdigit():  # the common case, without the regular expression (the callers admit ASCII only)
        if len(text) > max_digits:
            raise _too_many_digits(text, len(text), max_digits, position)
        return Shape(len(text.lstrip("0")), 0, 0)
    prefix = text[:2].lower()
    if prefix in _BASE_BITS:
        digits = digits_of_bits((len(text) - 2) * _BASE_BITS[prefix])  # an upper bound ("_" counted too)
        return Shape(digits, 0, 0)
    mantissa, scale = _decimal_parts(text, max_digits, position)
    trailing = len(mantissa) - len(mantissa.rstrip("0"))
    return Shape(max(len(mantissa) + scale, 0), max(-scale - trailing, 0), abs(scale))


def _decimal_parts(text: str, max_digits: int, position: int) -> tuple[str, int]:
    """The significant digits and the power of ten of a decimal literal ("" for 0), its size checked."""
    match = _DECIMAL.match(text.replace("_", "") if "_" in text else text)
    if match is None:
        raise CalculationError(SYNTAX, f"{text!r} is not a number", position)
    whole, fraction, exponent = match.group(1), match.group(2) or "", match.group(3) or ""
    mantissa = (whole + fraction).lstrip("0")
    if not mantissa:
        return "", 0  # 0e9999999999 is still 0
    if len(exponent.lstrip("+-").lstrip("0")) > _MAX_EXPONENT_CHARS:  # 1e0000000001 is only 10
        raise _too_many_digits(text, 10**_MAX_EXPONENT_CHARS, max_digits, position)
    scale = (int(exponent) if exponent else 0) - len(fraction)
    size = max(len(mantissa) + max(scale, 0), -scale)
    if size > max_digits:
        raise _too_many_digits(text, size, max_digits, position)
    return mantissa, scale


def parse_literal(text: str, max_digits: int, position: int) -> Fraction:
    """The exact value of a number literal (decimal, scientific, 0x/0b/0o; `_` separators allowed).

    Building 10**scale is the costly part of a short literal (1e9999); callers price it from `literal_shape`.
    """
    if text.isdigit() and len(text) <= _CHUNK:  # the tokenizer admits ASCII digits only
        if len(text) > max_digits:
            raise _too_many_digits(text, len(text), max_digits, position)
        return Fraction(int(text))
    if text[:2].lower() in _BASE_BITS:
        value = int(text, 0)
        if digits_of_bits(value.bit_length()) > max_digits:
            raise _too_many_digits(text, digits_of_bits(value.bit_length()), max_digits, position)
        return Fraction(value)
    mantissa, scale = _decimal_parts(text, max_digits, position)
    if not mantissa:
        return Fraction(0)
    value = int_from_digits(mantissa)
    return Fraction(value * 10**scale) if scale >= 0 else Fraction(value, 10**-scale)


def _too_many_digits(text: str, digits: int, max_digits: int, position: int) -> CalculationError:
    shown = text if len(text) <= 24 else text[:20] + "…"
    detail = (
        f"the number {shown} has about {digits:,} digits; numbers may have at most {max_digits:,} "
        "(DESKMCP_CALCULATOR_MAX_DIGITS)."
    )
    return CalculationError(DIGIT_LIMIT, detail, position)


def integer_root(value: int, n: int) -> int:
    """floor(value ** (1/n)) for value >= 0, by Newton's method on integers."""
    if value < 2:
        return value
    if n == 2:
        return math.isqrt(value)
    guess = 1 << -(-value.bit_length() // n)
    while True:
        better = ((n - 1) * guess + value // guess ** (n - 1)) // n
        if better >= guess:
            return guess
        guess = better


def rational_root(value: Fraction, n: int) -> Fraction | None:
    """The n-th root of a non-negative rational when it is rational, else None."""
    roots = []
    for part in (value.numerator, value.denominator):
        root = integer_root(part, n)
        if root**n != part:
            return None
        roots.append(root)
    return Fraction(roots[0], roots[1])


def _log(value: Fraction) -> float:
    return math.log(value.numerator) - math.log(value.denominator)


def rational_log(value: Fraction, base: Fraction, max_digits: int) -> Fraction | None:
    """log(value, base) when it is a rational p/q with a small q (log(8, 2) = 3, log(2, 8) = 1/3), else None.

    Both arguments are positive and the base is not 1. Only candidates whose check stays within
    `max_digits` are tried, so the check itself is bounded.
    """
    if value == 1:
        return Fraction(0)
    estimate = _log(value) / _log(base)
    candidate = Fraction(estimate).limit_denominator(64)
    p, q = candidate.numerator, candidate.denominator
    if p == 0 or abs(candidate - Fraction(estimate)) > Fraction(1, 10**6):
        return None
    if digits_of_bits(bits(value) * q) > 2 * max_digits:
        return None  # value**q == base**p would cost more than the answer is worth
    return candidate if value**q == base**p else None


def round_half_away(value: Fraction, places: int = 0) -> Fraction:
    """Round to `places` decimals, halves away from zero (2.5 -> 3), as on a pocket calculator."""
    scale = Fraction(10) ** places
    scaled = abs(value) * scale
    rounded = math.floor(scaled + Fraction(1, 2))
    return Fraction(rounded if value >= 0 else -rounded) / scale


def decimal_places(value: Fraction) -> int | None:
    """How many decimals `value` has when its expansion ends (denominator 2^a * 5^b), else None."""
    denominator = value.denominator
    twos = (denominator & -denominator).bit_length() - 1
    odd = denominator >> twos
    estimate = round(odd.bit_length() / _LOG2_5)
    for fives in (estimate - 1, estimate, estimate + 1):
        if fives >= 0 and 5**fives == odd:
            return max(twos, fives)
    return None
