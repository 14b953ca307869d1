"""Numbers a caller passes (variables, statistics data): priced from their text, then read exactly.

A number string is sized and priced before anything is built from it: "1e9999" is six characters but a
10,000-digit integer, and 10,000 of them would take seconds and tens of megabytes to build. `read_number`
reads the text first (its length, digits and exponent: its `Shape`), has the cost charged, and only then
builds the value.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Final

from deskmcp.servers.calculator.errors import ARGUMENT, DIGIT_LIMIT, LENGTH_LIMIT, CalculationError
from deskmcp.servers.calculator.exact import Shape, digits_of_bits, literal_shape, parse_literal
from deskmcp.servers.calculator.functions import CONSTANTS, FUNCTIONS
from deskmcp.servers.calculator.limits import Budget, Limits, power_of_ten_us, reading_us
from deskmcp.servers.calculator.tokens import NUMBER_PATTERN

Number = int | float | str
_VARIABLE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_NO_SHAPE: Final = Shape(0, 0, 0)  # nothing known beyond the text's length (the shape's counts are lower bounds)
_NUMBER_TEXT: Final = re.compile(rf"\s*([-+−]?)\s*({NUMBER_PATTERN})(?:\s*/\s*({NUMBER_PATTERN}))?\s*\Z", re.VERBOSE)


def read_number(
    raw: Number, limits: Limits, what: str, budget: Budget, price: Callable[[Shape], None] | None = None
) -> Fraction:
    """A caller's number, exactly: JSON floats by their shortest decimal text (0.1 is 1/10), strings by the
    calculator's own number syntax, with an optional sign and an optional /denominator ("-1/3").

    `price` charges for the value's `Shape` before it is built (by default, the power of ten it needs)."""
    shape, parts = _shape(raw, limits, what, budget)
    if price is None:
        budget.charge(power_of_ten_us(shape.power), f"reading {what}")
    else:
        price(shape)
    if isinstance(raw, int):
        return Fraction(raw)
    if isinstance(raw, float):
        value = parse_literal(repr(abs(raw)), limits.max_digits, 0)
        return -value if raw < 0 else value
    sign, numerator, denominator = parts
    value = parse_literal(numerator, limits.max_digits, 0)
    if denominator is not None:
        divisor = parse_literal(denominator, limits.max_digits, 0)
        if divisor == 0:
            raise CalculationError(ARGUMENT, f"{what} divides by zero.")
        value /= divisor
    return -value if sign in ("-", "−") else value


def _shape(raw: Number, limits: Limits, what: str, budget: Budget) -> tuple[Shape, tuple[str, str, str | None]]:
    """The `Shape` of a caller's number (its digits, decimals and the power of ten it needs), from its text,
    and a string's sign, numerator and denominator texts.

    Refuses what is not a number or is over the digit limit, and charges the reading of a string by its
    length; nothing big is built. The digits and decimals are lower bounds (p/q may cancel down), the power
    the largest either part builds."""
    no_text = ("", "", None)
    if isinstance(raw, bool):
        raise CalculationError(ARGUMENT, f"{what} is a boolean; give a number.")
    if isinstance(raw, int):
        digits = digits_of_bits(raw.bit_length())
        if digits > limits.max_digits:
            detail = f"{what} has more than {limits.max_digits:,} digits (DESKMCP_CALCULATOR_MAX_DIGITS)."
            raise CalculationError(DIGIT_LIMIT, detail)
        return Shape(digits, 0, 0), no_text
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise CalculationError(ARGUMENT, f"{what} is {raw}; give a finite number.")
        return literal_shape(repr(abs(raw)), limits.max_digits, 0), no_text
    parts = _match(raw, limits, what, budget)
    _, numerator, denominator = parts
    if "e" not in raw and "E" not in raw:  # no exponent: its size is its length, already charged for
        return _NO_SHAPE, parts
    shape = literal_shape(numerator, limits.max_digits, 0)
    if denominator is None:
        return shape, parts
    divisor = literal_shape(denominator, limits.max_digits, 0)
    integer_digits = max(0, shape.integer_digits - divisor.integer_digits)
    return Shape(integer_digits, 0, max(shape.power, divisor.power)), parts


def _match(raw: str, limits: Limits, what: str, budget: Budget) -> tuple[str, str, str | None]:
    """Sign, numerator and denominator texts, the string's reading charged by its length first."""
    if len(raw) > limits.max_length:
        detail = f"{what} is {len(raw):,} characters long; a number may have at most {limits.max_length:,}."
        raise CalculationError(LENGTH_LIMIT, detail)
    budget.charge(reading_us(len(raw)), f"reading {what}")
    found = _NUMBER_TEXT.match(raw)
    if found is None:
        detail = f"{what} is {raw[:40]!r}; give a number such as 12, -0.5, 1e-9, 0xff or 1/3."
        raise CalculationError(ARGUMENT, detail)
    return found.group(1), found.group(2), found.group(3)


def read_variables(variables: Mapping[str, Number], limits: Limits, budget: Budget) -> dict[str, Fraction]:
    if len(variables) > limits.max_variables:
        raise CalculationError(ARGUMENT, f"at most {limits.max_variables} variables are accepted.")
    values = {}
    for name, raw in variables.items():
        if not _VARIABLE_NAME.match(name) or keyword.iskeyword(name):
            detail = f"variable name {name[:40]!r} must be a letter followed by letters, digits or _ (64 at most)."
            raise CalculationError(ARGUMENT, detail)
        if name in FUNCTIONS or name in CONSTANTS:
            raise CalculationError(ARGUMENT, f"variable name {name!r} is taken by a function or constant.")
        values[name] = read_number(raw, limits, f"variable {name!r}", budget)
    return values
