"""One request end to end: caller numbers in, parse, evaluate, and the answer as the text a model reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from deskmcp.servers.calculator.arithmetic import describe
from deskmcp.servers.calculator.errors import ARGUMENT, CalculationError
from deskmcp.servers.calculator.evaluator import Outcome, evaluate
from deskmcp.servers.calculator.exact import bits
from deskmcp.servers.calculator.limits import PARSE_US_PER_CHARACTER, Budget, Limits, quadratic_us
from deskmcp.servers.calculator.parser import parse
from deskmcp.servers.calculator.reading import Number, read_variables
from deskmcp.servers.calculator.render import (
    TOO_LONG_FOR_TEXT,
    TOO_LONG_FOR_VALUE,
    approximate,
    exact_size,
    exact_text,
    fits_in_value,
    format_rounded,
    in_base,
    shown_in_full,
)


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
        tree = parse(expression, limits, read_variables(variables, limits, budget), budget)
        return present(evaluate(tree, precision, limits, budget), precision, base, budget)
    except CalculationError as error:
        error.source = expression
        raise


def present(outcome: Outcome, precision: int, base: int, budget: Budget) -> Answer:
    if outcome.truth is not None:
        value = "true" if outcome.truth else "false"
        return Answer(value, True, value, value)
    if base != 10:
        return _in_base(outcome, base, precision, budget)
    if outcome.exact is not None:
        return present_exact(outcome.exact, precision, budget)
    assert outcome.rounded is not None
    value = format_rounded(outcome.rounded, precision)
    return Answer(value, False, value, f"≈ {value}")


def present_exact(value: Fraction, precision: int, budget: Budget) -> Answer:
    """The exact form in `value`; in the text too when it is short, else the decimal and how long it is."""
    budget.charge(2 * quadratic_us("render", bits(value)), "writing out the result")
    if not fits_in_value(value):
        decimal = approximate(value, precision)
        return Answer(decimal, False, decimal, f"≈ {decimal} ({exact_size(value)}: {TOO_LONG_FOR_VALUE})")
    text = exact_text(value)
    short_integer = value.denominator == 1 and len(text) - (value < 0) <= precision
    decimal = text if short_integer else approximate(value, precision)
    if not shown_in_full(text):
        return Answer(text, True, decimal, f"≈ {decimal} ({exact_size(value)}: {TOO_LONG_FOR_TEXT})")
    return Answer(text, True, decimal, f"{text} ≈ {decimal}" if "/" in text else text)


def _in_base(outcome: Outcome, base: int, precision: int, budget: Budget) -> Answer:
    value = outcome.exact
    if value is None or value.denominator != 1:
        shown = describe(value) if value is not None else "not exact"
        raise CalculationError(ARGUMENT, f"base {base} output needs an exact integer result; the result is {shown}.")
    budget.charge(2 * quadratic_us("render", bits(value)), "writing out the result")
    text = in_base(value.numerator, base)
    decimal = present_exact(value, precision, budget)
    if not shown_in_full(text):
        size = f"in base {base}, {len(text) - 2 - (value < 0):,} base-{base} digits"
        return Answer(text, True, decimal.decimal, f"≈ {decimal.decimal} ({size}: {TOO_LONG_FOR_TEXT})")
    return Answer(text, True, decimal.decimal, f"{text} (= {decimal.text})")
