"""Evaluate a parsed expression: exact where possible, otherwise correct to the requested significant digits.

Inexact values are intervals. A round evaluates the tree at some working precision; if the result's
interval does not round to a single value at the requested digits (or a sign, floor or comparison could not
be decided), the next round uses twice the digits. Exact sub-results are kept between rounds. The last round
gives a definite answer: a value that rounds uniquely, a zero within a stated bound, or an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from deskmcp.servers.calculator import inexact
from deskmcp.servers.calculator.arithmetic import Arithmetic, Value, is_exact
from deskmcp.servers.calculator.errors import UNDETERMINED, CalculationError, Undetermined
from deskmcp.servers.calculator.exact import bits
from deskmcp.servers.calculator.functions import FUNCTIONS
from deskmcp.servers.calculator.limits import LOG10_2, STEP_US, Budget, Limits, quadratic_us
from deskmcp.servers.calculator.parser import Call, Chain, Comparison, Constant, Negate, Node, Number, Power
from deskmcp.servers.calculator.render import Rounded, round_significant

GUARD_DIGITS: Final = 10
ROUNDS_OF_DOUBLING: Final = 1  # beyond the first round and the magnitudes the expression itself involves


@dataclass(slots=True)
class Outcome:
    """An exact rational, a truth value, or a value rounded to the requested significant digits."""

    exact: Fraction | None = None
    truth: bool | None = None
    rounded: Rounded | None = None
    zero_within: int | None = None  # the value is 0 to within 10^zero_within
    notes: list[str] = field(default_factory=list)


def evaluate(tree: Node | Comparison, precision: int, limits: Limits, budget: Budget) -> Outcome:
    cache: dict[int, Fraction] = {}
    start = precision + GUARD_DIGITS
    cap = limits.max_digits + start
    digits, magnitude = start, 0
    while True:
        # How far to go when a value is indistinguishable from zero: twice the start, plus room for
        # cancellation between the largest values involved (10**50 + pi - 10**50).
        ceiling = min((start + 2 * magnitude) << ROUNDS_OF_DOUBLING, cap)
        arithmetic = Arithmetic(limits, budget, digits, final=digits >= ceiling)
        try:
            outcome = _round(_Walker(arithmetic, budget, cache), tree, precision, arithmetic.final)
        except Undetermined:
            outcome = None
        if isinstance(outcome, Outcome):
            return outcome
        magnitude = max(magnitude, arithmetic.magnitude)
        if outcome is None:
            ceiling = min((start + 2 * magnitude) << ROUNDS_OF_DOUBLING, cap)
            digits = min(digits * 2, max(ceiling, digits + 1))
        else:
            digits = min(outcome, cap)


def _round(walker: _Walker, tree: Node | Comparison, precision: int, final: bool) -> Outcome | int | None:
    """The outcome; or None to retry a value indistinguishable from zero; or the digits a retry needs."""
    if isinstance(tree, Comparison):
        truth = walker.comparison(tree)
        return Outcome(truth=truth, notes=walker.arithmetic.notes)
    value = walker.value(tree)
    if is_exact(value):
        return Outcome(exact=value, notes=walker.arithmetic.notes)
    low, high = inexact.bounds(value)
    walker.budget.charge(2 * quadratic_us("render", max(bits(low), bits(high))), "rounding the result")
    if low <= 0 <= high:
        return _zero(walker, value, precision) if final else None
    first, last = round_significant(low, precision), round_significant(high, precision)
    if first == last:
        return Outcome(rounded=first, notes=walker.arithmetic.notes)
    ulp = Fraction(10) ** (first.exponent - precision + 1)
    if high - low <= ulp / 10**GUARD_DIGITS:  # a near-tie: the midpoint rounds faithfully
        return Outcome(rounded=round_significant((low + high) / 2, precision), notes=walker.arithmetic.notes)
    digits = walker.arithmetic.digits
    if digits >= walker.arithmetic.limits.max_digits + precision + GUARD_DIGITS:
        raise CalculationError(UNDETERMINED, _too_few_digits(first, last, digits))
    known = _digits_known(low, high)
    return digits + max(precision + GUARD_DIGITS - known, GUARD_DIGITS)


def _zero(walker: _Walker, value: Any, precision: int) -> Outcome:
    if inexact.sign(value) == 0:
        return Outcome(exact=Fraction(0), notes=walker.arithmetic.notes)
    bound = inexact.magnitude(value) + 1
    if bound > -precision:
        detail = (
            f"the result cancels to within 1e{bound} of zero and its sign could not be decided even with "
            f"{walker.arithmetic.digits} digits of working precision. Rearrange the expression to avoid "
            "subtracting nearly equal large numbers."
        )
        raise CalculationError(UNDETERMINED, detail)
    return Outcome(zero_within=bound, notes=walker.arithmetic.notes)


def _digits_known(low: Fraction, high: Fraction) -> int:
    """Roughly how many leading significant digits the interval [low, high] (not containing 0) pins down."""
    smallest = min(abs(low), abs(high))
    ratio = (high - low) / smallest
    return max(0, int((ratio.denominator.bit_length() - ratio.numerator.bit_length()) * LOG10_2))


def _too_few_digits(first: Rounded, last: Rounded, digits: int) -> str:
    known = 0
    if first.exponent == last.exponent:
        pairs = zip(first.digits, last.digits, strict=False)
        known = next((index for index, (a, b) in enumerate(pairs) if a != b), min(len(first.digits), len(last.digits)))
    return (
        f"only {known} significant digits of the result could be determined with {digits} digits of working "
        f"precision (the expression loses digits to cancellation). Ask for precision={max(known, 1)} or rearrange "
        "the expression."
    )


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
