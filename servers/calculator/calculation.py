"""One request end to end: caller numbers in, parse, evaluate, and the answer as the text a model reads."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from deskmcp.servers.calculator.arithmetic import describe
from deskmcp.servers.calculator.errors import ARGUMENT, DIGIT_LIMIT, LENGTH_LIMIT, CalculationError
from deskmcp.servers.calculator.evaluator import Outcome, evaluate
from deskmcp.servers.calculator.exact import bits, digits_of_bits, parse_literal
from deskmcp.servers.calculator.functions import CONSTANTS, FUNCTIONS
from deskmcp.servers.calculator.limits import PARSE_US_PER_CHARACTER, Budget, Limits, quadratic_us, reading_us
from deskmcp.servers.calculator.parser import parse
from deskmcp.servers.calculator.render import approximate, exact_text, format_rounded, in_base
from deskmcp.servers.calculator.tokens import NUMBER_PATTERN

Number = int | float | str
_VARIABLE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_NUMBER_TEXT: Final = re.compile(rf"\s*([-+−]?)\s*({NUMBER_PATTERN})(?:\s*/\s*({NUMBER_PATTERN}))?\s*\Z", re.VERBOSE)


@dataclass(frozen=True, slots=True)
class Answer:
    value: str  # exact: integer, terminating decimal or p/q; otherwise rounded; true/false for comparisons
    exact: bool
    decimal: str  # the value to `precision` significant digits
    text: str  # what the model reads


def calculate(
    expression: str,
    *,
    precision: int,
    variables: Mapping[str, Number],
    base: int,
    limits: Limits,
    budget: Budget,
) -> Answer:
    try:
        if len(expression) <= limits.max_length:
            budget.charge(len(expression) * PARSE_US_PER_CHARACTER, "reading the expression")
        tree = parse(expression, limits, read_variables(variables, limits, budget))
        return present(evaluate(tree, precision, limits, budget), precision, base, budget)
    except CalculationError as error:
        error.source = expression
        raise


def read_number(raw: Number, limits: Limits, what: str, budget: Budget) -> Fraction:
    """A caller's number, exactly: JSON floats by their shortest decimal text (0.1 is 1/10), strings by the
    calculator's own number syntax, with an optional sign and an optional /denominator ("-1/3").

    A string is priced by its length before it is converted: 10,000 digits take a millisecond or two."""
    if isinstance(raw, bool):
        raise CalculationError(ARGUMENT, f"{what} is a boolean; give a number.")
    if isinstance(raw, int):
        if digits_of_bits(raw.bit_length()) > limits.max_digits:
            detail = f"{what} has more than {limits.max_digits:,} digits (DESKMCP_CALCULATOR_MAX_DIGITS)."
            raise CalculationError(DIGIT_LIMIT, detail)
        return Fraction(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise CalculationError(ARGUMENT, f"{what} is {raw}; give a finite number.")
        value = parse_literal(repr(abs(raw)), limits.max_digits, 0)
        return -value if raw < 0 else value
    return _read_text(raw, limits, what, budget)


def _read_text(raw: str, limits: Limits, what: str, budget: Budget) -> Fraction:
    if len(raw) > limits.max_length:
        detail = f"{what} is {len(raw):,} characters long; a number may have at most {limits.max_length:,}."
        raise CalculationError(LENGTH_LIMIT, detail)
    budget.charge(reading_us(len(raw)), f"reading {what}")
    found = _NUMBER_TEXT.match(raw)
    if found is None:
        detail = f"{what} is {raw[:40]!r}; give a number such as 12, -0.5, 1e-9, 0xff or 1/3."
        raise CalculationError(ARGUMENT, detail)
    sign, numerator, denominator = found.groups()
    value = parse_literal(numerator, limits.max_digits, 0)
    if denominator is not None:
        divisor = parse_literal(denominator, limits.max_digits, 0)
        if divisor == 0:
            raise CalculationError(ARGUMENT, f"{what} divides by zero.")
        value /= divisor
    return -value if sign in ("-", "−") else value


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


def present(outcome: Outcome, precision: int, base: int, budget: Budget) -> Answer:
    notes = f" ({'; '.join(outcome.notes)})" if outcome.notes else ""
    if outcome.truth is not None:
        value = "true" if outcome.truth else "false"
        return Answer(value, not outcome.notes, value, value + notes)
    if base != 10:
        return _in_base(outcome, base, budget)
    if outcome.exact is not None:
        return present_exact(outcome.exact, precision, budget, notes)
    if outcome.rounded is not None:
        value = format_rounded(outcome.rounded, precision)
        return Answer(value, False, value, f"≈ {value}{notes}")
    return Answer("0", False, "0", f"≈ 0 (|value| < 1e{outcome.zero_within}){notes}")


def present_exact(value: Fraction, precision: int, budget: Budget, notes: str = "") -> Answer:
    budget.charge(quadratic_us("render", bits(value)), "writing out the result")
    text = exact_text(value)
    short_integer = value.denominator == 1 and len(text) - (value < 0) <= precision
    decimal = text if short_integer else approximate(value, precision)
    if "/" in text:
        return Answer(text, True, decimal, f"{text} ≈ {decimal}{notes}")
    return Answer(text, True, decimal, text + notes)


def _in_base(outcome: Outcome, base: int, budget: Budget) -> Answer:
    value = outcome.exact
    if value is None or value.denominator != 1:
        shown = describe(value) if value is not None else "not exact"
        raise CalculationError(ARGUMENT, f"base {base} output needs an exact integer result; the result is {shown}.")
    budget.charge(quadratic_us("render", bits(value)), "writing out the result")
    text = in_base(value.numerator, base)
    decimal = exact_text(value)
    return Answer(text, True, decimal, f"{text} (= {decimal})")
