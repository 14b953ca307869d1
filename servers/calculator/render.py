"""Numbers as text a model reads: exact integers and decimals in full, fractions as p/q, others rounded.

Rounding is done on exact rationals (round half to even at the last significant digit), so the printed
digits are the correctly rounded digits of whatever rational is given, never a float's.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from deskmcp.servers.calculator.exact import decimal_places, int_to_text
from deskmcp.servers.calculator.limits import LOG10_2

MAX_DECIMAL_PLACES: Final = 100  # exact values with more decimals are shown as p/q
# The text a model reads shows an exact form up to these lengths; past them, the decimal and the exact form's
# size (a 6,000-character fraction is noise to a reader). The structured `value` keeps the exact form up to
# VALUE_CHARACTERS.
TEXT_NUMBER_CHARACTERS: Final = 1_000
TEXT_FRACTION_CHARACTERS: Final = 100
VALUE_CHARACTERS: Final = 100_000
TOO_LONG_FOR_TEXT: Final = "too long to show here; the structured result's `value` has it in full"
TOO_LONG_FOR_VALUE: Final = f"too long to return (more than {VALUE_CHARACTERS:,} characters)"
_SMALLEST_POSITIONAL: Final = -7  # 1e-7 and below print in scientific notation
_PREFIXES: Final = {2: ("0b", "b"), 8: ("0o", "o"), 16: ("0x", "x")}


@dataclass(frozen=True, slots=True)
class Rounded:
    """sign, significant digits (no trailing zeros) and the decimal exponent of the first digit."""

    negative: bool
    digits: str
    exponent: int


def _at_least_power(numerator: int, denominator: int, exponent: int) -> bool:
    """numerator/denominator >= 10**exponent."""
    if exponent >= 0:
        return numerator >= denominator * 10**exponent
    return numerator * 10**-exponent >= denominator


def round_significant(value: Fraction, precision: int) -> Rounded:
    """`value` (not zero) rounded to `precision` significant digits."""
    numerator, denominator = abs(value.numerator), value.denominator
    exponent = int((numerator.bit_length() - denominator.bit_length()) * LOG10_2)
    while not _at_least_power(numerator, denominator, exponent):
        exponent -= 1
    while _at_least_power(numerator, denominator, exponent + 1):
        exponent += 1
    shift = precision - 1 - exponent
    if shift >= 0:
        scaled, divisor = numerator * 10**shift, denominator
    else:
        scaled, divisor = numerator, denominator * 10**-shift
    quotient, remainder = divmod(scaled, divisor)
    if 2 * remainder > divisor or (2 * remainder == divisor and quotient % 2):
        quotient += 1
    if quotient == 10**precision:
        quotient //= 10
        exponent += 1
    return Rounded(value < 0, str(quotient).rstrip("0") or "0", exponent)


def format_rounded(rounded: Rounded, largest_positional: int) -> str:
    """Positional notation for exponents in [-7, largest_positional), scientific otherwise."""
    digits, exponent = rounded.digits, rounded.exponent
    if _SMALLEST_POSITIONAL <= exponent < largest_positional:
        if exponent < 0:
            text = "0." + "0" * (-exponent - 1) + digits
        elif len(digits) <= exponent + 1:
            text = digits + "0" * (exponent + 1 - len(digits))
        else:
            text = digits[: exponent + 1] + "." + digits[exponent + 1 :]
    else:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return ("-" if rounded.negative else "") + text


def approximate(value: Fraction, precision: int) -> str:
    """`value` to `precision` significant digits."""
    return "0" if value == 0 else format_rounded(round_significant(value, precision), precision)


def _exact_decimal(value: Fraction) -> Rounded | None:
    """All the digits of a terminating decimal with at most MAX_DECIMAL_PLACES decimals."""
    places = decimal_places(value)
    if places is None or places > MAX_DECIMAL_PLACES:
        return None
    digits = int_to_text(abs(value.numerator) * 10**places // value.denominator)
    return Rounded(value < 0, digits.rstrip("0"), len(digits) - 1 - places)


def exact_text(value: Fraction) -> str:
    """The exact value: an integer in full, a short terminating decimal, or p/q."""
    if value.denominator == 1:
        return int_to_text(value.numerator)
    decimal = _exact_decimal(value)
    if decimal is not None:
        return format_rounded(decimal, largest_positional=10**9)
    return f"{int_to_text(value.numerator)}/{int_to_text(value.denominator)}"


def shown_in_full(text: str) -> bool:
    return len(text) <= (TEXT_FRACTION_CHARACTERS if "/" in text else TEXT_NUMBER_CHARACTERS)


def _digits(value: int) -> int:
    """Decimal digits of |value| (exact, without writing it out)."""
    value = abs(value)
    estimate = max(1, int(value.bit_length() * LOG10_2))
    return estimate + (value >= 10**estimate)


def fits_in_value(value: Fraction) -> bool:
    numerator, denominator = value.numerator.bit_length(), value.denominator.bit_length()
    return int((numerator + denominator) * LOG10_2) + 3 <= VALUE_CHARACTERS


def exact_size(value: Fraction) -> str:
    """'exactly an integer of 2,568 digits', 'exactly a fraction, 3,001 digits over 3,001 digits'."""
    if value.denominator == 1:
        return f"exactly an integer of {_digits(value.numerator):,} digits"
    places = decimal_places(value)
    if places is not None and places <= MAX_DECIMAL_PLACES:
        return f"exactly a decimal of {_digits(value.numerator * 10**places // value.denominator):,} digits"
    return f"exactly a fraction, {_digits(value.numerator):,} digits over {_digits(value.denominator):,} digits"


def in_base(value: int, base: int) -> str:
    prefix, code = _PREFIXES[base]
    return ("-" if value < 0 else "") + prefix + format(abs(value), code)
