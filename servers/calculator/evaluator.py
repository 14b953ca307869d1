"""Evaluate a parsed expression: exact where possible, otherwise correct to the requested significant digits.

Inexact values are intervals. A round evaluates the tree at some working precision; if the result's
interval does not round to a single value at the requested digits (or a sign, floor or comparison could not
be decided), the next round uses more digits. Exact sub-results are kept between rounds. Rounds go on while
the time budget allows, up to the digit limit; then the answer is a definite error that says what could not
be decided. A value is 0 only when it is exactly 0: an interval around 0 is never rounded to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from deskmcp.servers.calculator import inexact
from deskmcp.servers.calculator.arithmetic import Arithmetic, Value, is_exact
from deskmcp.servers.calculator.errors import TIME_LIMIT, CalculationError, Undetermined
from deskmcp.servers.calculator.exact import bits
from deskmcp.servers.calculator.functions import FUNCTIONS
from deskmcp.servers.calculator.limits import LOG10_2, STEP_US, Budget, Limits, quadratic_us
from deskmcp.servers.calculator.parser import Call, Chain, Comparison, Constant, Negate, Node, Number, Power
from deskmcp.servers.calculator.render import Rounded, format_rounded, round_significant

GUARD_DIGITS: Final = 10


@dataclass(frozen=True, slots=True)
class Outcome:
    """An exact rational, a truth value, or a value rounded to the requested significant digits."""

    exact: Fraction | None = None
    truth: bool | None = None
    rounded: Rounded | None = None


def evaluate(tree: Node | Comparison, precision: int, limits: Limits, budget: Budget) -> Outcome:
    cache: dict[int, Fraction] = {}
    start = precision + GUARD_DIGITS
    cap = limits.max_digits + start
    digits = start
    undecided: Undetermined | None = None
    while True:
        arithmetic = Arithmetic(limits, budget, digits)
        try:
            return _round(_Walker(arithmetic, budget, cache), tree, precision)
        except Undetermined as why:
            if digits >= cap:
                raise why.error(digits, time_limited=False) from None
            undecided, tried = why, digits
        except CalculationError as error:
            if error.kind != TIME_LIMIT or undecided is None:
                raise
            raise undecided.error(tried, time_limited=True) from None  # the digits it needs cost too much
        # An exact number of 60 digits in the expression needs 60 working digits to stay distinct from its
        # neighbours (1 + 1e-60 - 1): jump there, but at most 4x, since a round costs ~digits^2.
        hint = min(start + arithmetic.magnitude, 4 * digits)
        digits = min(cap, undecided.digits or max(2 * digits, hint))


def _round(walker: _Walker, tree: Node | Comparison, precision: int) -> Outcome:
    """The outcome of one round, or `Undetermined` to try again with more digits."""
    if isinstance(tree, Comparison):
        return Outcome(truth=walker.comparison(tree))
    value = walker.value(tree)
    if is_exact(value):
        return Outcome(exact=value)
    if inexact.sign(value) == 0:  # the point interval [0, 0]: exactly 0
        return Outcome(exact=Fraction(0))
    low, high = inexact.bounds(value)
    walker.budget.charge(2 * quadratic_us("render", max(bits(low), bits(high))), "rounding the result")
    if low <= 0 <= high:
        bound = f"1e{inexact.magnitude(value) + 1}"
        advice = (
            "Whether it is exactly 0 (as sin(pi) is) or a smaller number could not be decided: digits alone "
            "cannot prove a 0."
        )
        raise Undetermined(f"the value is 0 to within {bound}", None, advice=advice)
    first, last = round_significant(low, precision), round_significant(high, precision)
    if first == last:
        return Outcome(rounded=first)
    ulp = Fraction(10) ** (first.exponent - precision + 1)
    if high - low <= ulp / 10**GUARD_DIGITS:  # astride the halfway point between two roundings: maybe exactly
        width = high - low
        bound = (width.numerator.bit_length() - width.denominator.bit_length()) * 30103 // 100000 + 1
        halves = f"{format_rounded(first, precision)} and {format_rounded(last, precision)}"
        advice = f"Ask for precision={precision + 1} or more: to {precision} digits it could round either way."
        raise Undetermined(f"the value is halfway between {halves} to within 1e{bound}", None, advice=advice)
    known = _digits_known(low, high)
    retry = walker.arithmetic.digits + max(precision + GUARD_DIGITS - known, GUARD_DIGITS)
    detail, advice = _too_few_digits(first, last)
    raise Undetermined(detail, None, advice=advice, digits=retry)


def _digits_known(low: Fraction, high: Fraction) -> int:
    """Roughly how many leading significant digits the interval [low, high] (not containing 0) pins down."""
    smallest = min(abs(low), abs(high))
    ratio = (high - low) / smallest
    return max(0, int((ratio.denominator.bit_length() - ratio.numerator.bit_length()) * LOG10_2))


def _too_few_digits(first: Rounded, last: Rounded) -> tuple[str, str]:
    known = 0
    if first.exponent == last.exponent:
        pairs = zip(first.digits, last.digits, strict=False)
        known = next((index for index, (a, b) in enumerate(pairs) if a != b), min(len(first.digits), len(last.digits)))
    detail = f"only {known} significant digits of the result could be determined"
    advice = f"Ask for precision={max(known, 1)}, or rearrange the expression: it loses digits to cancellation."
    return detail, advice


class _Walker:
    """One walk over the tree with one `Arithmetic`; exact results are remembered across rounds."""

    def __init__(self, arithmetic: Arithmetic, budget: Budget, cache: dict[int, Fraction]) -> None:
        self.arithmetic = arithmetic
        self.budget = budget
        self.cache = cache

    def value(self, node: Node) -> Value:
        key = id(node)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        self.budget.charge(STEP_US, "this step")
        result = _DISPATCH[type(node)](self, node)
        if is_exact(result):
            self.cache[key] = result
        return result

    def number(self, node: Number) -> Value:
        return node.value

    def constant(self, node: Constant) -> Value:
        return self.arithmetic.constant(node.name)

    def negate(self, node: Negate) -> Value:
        return -self.value(node.operand)

    def chain(self, node: Chain) -> Value:
        arithmetic = self.arithmetic
        result = self.value(node.first)
        for symbol, operand, position in node.rest:
            self.budget.check_clock(position)
            right = self.value(operand)
            if symbol == "+":
                result = arithmetic.add(result, right, position)
            elif symbol == "-":
                result = arithmetic.add(result, right, position, subtract=True)
            elif symbol == "*":
                result = arithmetic.multiply(result, right, position)
            elif symbol == "/":
                result = arithmetic.divide(result, right, position)
            elif symbol == "//":
                result = arithmetic.floor_divide(result, right, position)
            else:
                result = arithmetic.modulo(result, right, position)
        return result

    def power(self, node: Power) -> Value:
        base = self.value(node.base)
        exponent = self.value(node.exponent)
        self.budget.check_clock(node.position)
        return self.arithmetic.power(base, exponent, node.position)

    def call(self, node: Call) -> Value:
        arguments = [self.value(argument) for argument in node.arguments]
        self.budget.check_clock(node.position)
        return FUNCTIONS[node.function].apply(self.arithmetic, arguments, node.position)

    def comparison(self, node: Comparison) -> bool:
        values = [self.value(operand) for operand in node.operands]
        truth = True
        for (symbol, position), left, right in zip(node.operators, values, values[1:], strict=False):
            truth = self.arithmetic.compare(symbol, left, right, position) and truth
        return truth


_DISPATCH: Final[dict[type, Callable[[_Walker, Any], Value]]] = {
    Number: _Walker.number,
    Constant: _Walker.constant,
    Negate: _Walker.negate,
    Chain: _Walker.chain,
    Power: _Walker.power,
    Call: _Walker.call,
}
