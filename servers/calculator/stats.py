"""Descriptive statistics of a list of numbers, exact for exact inputs.

Every value is scaled to an integer over one common denominator first, so sorting, sums and sums of squares
are integer arithmetic (fast, and exact); only the standard deviations, square roots of exact variances,
may be irrational, and those go through the calculator's own `sqrt`. Quantiles follow Python's
`statistics.quantiles` (methods "exclusive", its default, and "inclusive").

Each value is priced from its text before it is built (`_Pricing`), and so are the sorts and sums it would
take part in: 10,000 strings "1e9999" are 97 KB of JSON but 10,000 numbers of 10,000 digits, refused at the
first one without building it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from deskmcp.servers.calculator.calculation import Answer, present, present_exact
from deskmcp.servers.calculator.errors import ARGUMENT, DIGIT_LIMIT, CalculationError
from deskmcp.servers.calculator.evaluator import evaluate
from deskmcp.servers.calculator.exact import Shape, bits, digits_of_bits
from deskmcp.servers.calculator.limits import (
    LOG10_2,
    READ_US_PER_VALUE,
    Budget,
    Limits,
    power_of_ten_us,
    quadratic_us,
)
from deskmcp.servers.calculator.parser import Call
from deskmcp.servers.calculator.parser import Number as NumberNode
from deskmcp.servers.calculator.reading import Number, read_number


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    sum: Answer
    mean: Answer
    median: Answer
    mode: list[Answer]  # the most frequent values, if any value occurs more than once
    min: Answer
    max: Answer
    variance: Answer | None  # sample (n - 1); None for a single value
    stdev: Answer | None
    pvariance: Answer  # population (n)
    pstdev: Answer
    quantiles: list[Answer]  # cut points into `groups` equal groups; empty for a single value


def summarize(
    data: Sequence[Number], *, precision: int, groups: int, method: str, limits: Limits, budget: Budget
) -> Summary:
    if not data:
        raise CalculationError(ARGUMENT, "data is empty; give at least one number.")
    if len(data) > limits.max_data:
        raise CalculationError(ARGUMENT, f"data has {len(data):,} values; at most {limits.max_data:,} are accepted.")
    budget.allow(len(data) * READ_US_PER_VALUE)  # the limit is for arithmetic, not for reading
    pricing = _Pricing(len(data), limits, budget)
    values = [read_number(raw, limits, f"data[{index}]", budget, pricing.add) for index, raw in enumerate(data)]
    scale, scaled = _common_denominator(values, limits, budget, pricing.charged)
    scaled.sort()
    n = len(scaled)
    total = sum(scaled)
    squares = sum(x * x for x in scaled)
    deviation = n * squares - total * total  # n^2 * L^2 * population variance, exactly

    def exact(numerator: int, denominator: int) -> Answer:
        return present_exact(Fraction(numerator, denominator * scale), precision, budget)

    def root(value: Fraction) -> Answer:
        outcome = evaluate(Call("sqrt", (NumberNode(value, 0),), 0), precision, limits, budget)
        return present(outcome, precision, 10, budget)

    middle = n // 2
    median = exact(scaled[middle], 1) if n % 2 else exact(scaled[middle - 1] + scaled[middle], 2)
    counts = Counter(scaled)
    most = max(counts.values())
    modes = sorted(x for x, count in counts.items() if count == most) if most > 1 else []
    sample = _sized(Fraction(deviation, n * (n - 1) * scale * scale), limits) if n > 1 else None
    population = _sized(Fraction(deviation, n * n * scale * scale), limits)
    return Summary(
        count=n,
        sum=exact(total, 1),
        mean=exact(total, n),
        median=median,
        mode=[exact(x, 1) for x in modes],
        min=exact(scaled[0], 1),
        max=exact(scaled[-1], 1),
        variance=present_exact(sample, precision, budget) if sample is not None else None,
        stdev=root(sample) if sample is not None else None,
        pvariance=present_exact(population, precision, budget),
        pstdev=root(population),
        quantiles=[exact(q, groups) for q in _quantiles(scaled, groups, method)] if n > 1 else [],
    )


def _sized(variance: Fraction, limits: Limits) -> Fraction:
    """A variance (which squares the values) within the digit limit, or a digit-limit error."""
    digits = digits_of_bits(bits(variance))
    if digits > limits.max_digits:
        detail = (
            f"the variance would have about {digits:,} digits; numbers may have at most {limits.max_digits:,} "
            "(DESKMCP_CALCULATOR_MAX_DIGITS)."
        )
        raise CalculationError(DIGIT_LIMIT, detail)
    return variance


class _Pricing:
    """Refuses data that cannot fit or cannot be afforded, value by value, from the shapes of the values alone.

    Every value is scaled to an integer over one common denominator L, and L is at least 2^decimals of the
    value with the most decimals; so the largest value's digits plus L's are a lower bound on the widest
    integer. Each value's reading and power of ten are charged as it is seen, and so is the growth of (a lower
    bound of) the sorts and sums, so hostile data is refused at the first value that makes it unaffordable:
    on the event loop, without a trip to the worker process.
    """

    def __init__(self, count: int, limits: Limits, budget: Budget) -> None:
        self.count = count
        self.limits = limits
        self.budget = budget
        self.largest = self.scale_digits = self.widest_bits = 0
        self.charged = 0.0  # for the sorts and sums, topped up by `_common_denominator` once sizes are known

    def add(self, shape: Shape) -> None:
        self.budget.charge(READ_US_PER_VALUE, "reading the data")
        self.largest = max(self.largest, shape.integer_digits)
        self.scale_digits = max(self.scale_digits, int(shape.decimals * LOG10_2))
        if self.largest + self.scale_digits - 2 > self.limits.max_digits:  # 2: both counts may be one over
            raise _span_error(self.limits)
        widest_bits = int((self.largest + self.scale_digits) / LOG10_2)
        if widest_bits > self.widest_bits:  # first: the largest charge, refused wherever it runs
            cost = _sums_us(self.count, widest_bits)
            self.budget.charge(cost - self.charged, "sorting and summing the values")
            self.widest_bits, self.charged = widest_bits, cost
        self.budget.charge(power_of_ten_us(shape.power), "reading the values")


def _sums_us(count: int, widest_bits: int) -> float:
    """A sort (n log n comparisons) and sums of the values and of their squares, at `widest_bits` each."""
    size = 2 * widest_bits + count.bit_length()
    return count * (count.bit_length() + 2) * quadratic_us("integer", size) / 20


def _span_error(limits: Limits) -> CalculationError:
    detail = (
        f"the values span more than {limits.max_digits:,} digits from the largest to the finest decimal "
        "(DESKMCP_CALCULATOR_MAX_DIGITS); round the small ones or leave out the huge ones."
    )
    return CalculationError(DIGIT_LIMIT, detail)


def _common_denominator(
    values: list[Fraction], limits: Limits, budget: Budget, charged: float
) -> tuple[int, list[int]]:
    """L and the values times L, as integers; L is refused if it would exceed the digit limit.

    `charged` is what `_Pricing` already charged for the sorts and sums."""
    scale = 1
    for value in values:
        if value.denominator != 1 and scale % value.denominator:
            size = scale.bit_length() + value.denominator.bit_length()
            budget.charge(2 * quadratic_us("gcd", size), "the common denominator of the values")
            scale = math.lcm(scale, value.denominator)
            if digits_of_bits(scale.bit_length()) > limits.max_digits:
                detail = (
                    f"the values' common denominator has more than {limits.max_digits:,} digits "
                    "(DESKMCP_CALCULATOR_MAX_DIGITS); round some of them."
                )
                raise CalculationError(DIGIT_LIMIT, detail)
    scaled = [value.numerator * (scale // value.denominator) for value in values]
    widest = max(x.bit_length() for x in scaled)
    if digits_of_bits(widest) > limits.max_digits:
        raise _span_error(limits)
    budget.charge(max(0.0, _sums_us(len(scaled), widest) - charged), "sorting and summing the values")
    return scale, scaled


def _quantiles(data: list[int], groups: int, method: str) -> list[int]:
    """Python's statistics.quantiles on sorted integers, each result times `groups` (to stay integral)."""
    count = len(data)
    cuts = []
    if method == "inclusive":
        m = count - 1
        for i in range(1, groups):
            j, delta = divmod(i * m, groups)
            cuts.append(data[j] * (groups - delta) + data[j + 1] * delta)
        return cuts
    m = count + 1
    for i in range(1, groups):
        j = min(max(i * m // groups, 1), count - 1)
        delta = i * m - j * groups
        cuts.append(data[j - 1] * (groups - delta) + data[j] * delta)
    return cuts
