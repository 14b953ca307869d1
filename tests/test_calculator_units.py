"""The calculator's domain functions without a server: rounding, fallbacks at the precision cap, the cost
budget, number reading, big-number text, and the whole-number parser of its settings."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from deskmcp.servers.calculator.calculation import Answer, calculate
from deskmcp.servers.calculator.errors import CalculationError
from deskmcp.servers.calculator.exact import int_from_digits, int_to_text, rational_log, rational_root
from deskmcp.servers.calculator.limits import Budget, Limits, Offload
from deskmcp.servers.calculator.reading import read_number
from deskmcp.servers.calculator.render import approximate, exact_text
from deskmcp.servers.calculator.stats import summarize
from deskmcp.shared.settings import whole_number


def run(expression: str, precision: int = 15, limits: Limits | None = None, on_loop: bool = False) -> Answer:
    limits = limits or Limits()
    budget = Budget(limits.time_limit_ms, on_loop=on_loop)
    return calculate(expression, precision=precision, variables={}, base=10, limits=limits, budget=budget)


def error(expression: str, **options: object) -> str:
    with pytest.raises(CalculationError) as caught:
        run(expression, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_rounding_is_half_to_even_on_exact_values() -> None:
    assert approximate(Fraction(25, 100), 1) == "0.2"
    assert approximate(Fraction(35, 100), 1) == "0.4"
    assert approximate(Fraction(-25, 100), 1) == "-0.2"
    assert approximate(Fraction(999_999, 1), 3) == "1e+6"
    assert approximate(Fraction(1, 3), 5) == "0.33333"
    assert approximate(Fraction(2, 3 * 10**9), 3) == "6.67e-10"


def test_an_inexact_value_on_a_rounding_tie_is_refused_with_the_precision_that_decides_it() -> None:
    """0.25 exactly, but from intervals: digits cannot tell whether it is just above or below the tie."""
    tie = error("sin(pi/6) / 2", precision=1)
    assert tie.startswith("Undetermined: the value is halfway between 0.2 and 0.3 to within 1e-"), tie
    assert tie.endswith("Ask for precision=2 or more: to 1 digits it could round either way.")
    assert run("sin(pi/6) / 2", precision=2).value == "0.25"
    assert error("sin(pi/6) * 3", precision=1).startswith("Undetermined: the value is halfway between 1 and 2")
    assert run("log1p(1e-30)", precision=30).value == "1e-30"  # 1e-30 - 5e-61: just past a tie, decided


def test_results_that_cannot_be_pinned_down_are_refused() -> None:
    small = Limits(max_digits=100)
    message = error("(10**99 + 10**-20 * pi) - 10**99", limits=small)
    assert message.startswith("Undetermined: only ") and "Ask for precision=" in message
    assert "even with 125 digits of working precision." in message  # the digit cap: 100 + 15 + 10 guard digits
    zero = error("(10**99 + 10**-99 * pi) - 10**99", limits=small)
    assert zero.startswith("Undetermined: the value is 0 to within 1e-"), zero
    assert "Whether it is exactly 0" in zero


def test_exact_text_of_large_and_long_values() -> None:
    big = 7**20_000  # 16,902 digits: past CPython's 4,300-digit str() guard
    text = int_to_text(big)
    assert len(text) == 16_902 and text.endswith(str(big % 10**30).rjust(30, "0"))
    assert text.startswith(str(big // 10**16_872)) and int_from_digits(text) == big
    assert exact_text(Fraction(1, 2**100)).endswith("e-31")
    assert exact_text(Fraction(1, 3)) == "1/3"
    assert exact_text(Fraction(-5, 2)) == "-2.5"


def test_rational_roots_and_logarithms() -> None:
    assert rational_root(Fraction(27, 8), 3) == Fraction(3, 2)
    assert rational_root(Fraction(2), 2) is None
    assert rational_log(Fraction(1, 1000), Fraction(10), 10_000) == -3
    assert rational_log(Fraction(4), Fraction(8), 10_000) == Fraction(2, 3)
    assert rational_log(Fraction(3), Fraction(2), 10_000) is None


def test_cheap_work_stays_on_the_loop_and_heavy_work_asks_for_the_worker() -> None:
    assert run("2*(3+4)**2/7", on_loop=True).value == "14"
    with pytest.raises(Offload):
        run("factorial(3000)", on_loop=True)
    assert len(run("factorial(3000)").value) == 9131


def test_a_step_over_the_whole_budget_is_refused_on_the_loop() -> None:
    """Sending it to the worker would only have it refused there: the loop refuses it at once."""
    assert error("comb(33000, 16500)", on_loop=True).startswith("Time limit: this comb would take about")
    budget = Budget(25, on_loop=True)
    budget.charge(900, "a step")
    with pytest.raises(Offload):
        budget.charge(200, "a step past the loop's slice but within the budget")


def test_the_budget_refuses_before_running() -> None:
    budget = Budget(1, on_loop=False)
    budget.charge(900, "a step")
    with pytest.raises(CalculationError) as caught:
        budget.charge(200, "the next step", 4)
    assert caught.value.kind == "Time limit" and caught.value.position == 4
    assert budget.spent_us == 900  # the refused step was not counted as done


def test_the_clock_is_a_backstop_for_a_wrong_cost_model() -> None:
    budget = Budget(25, on_loop=False)
    budget.deadline = time.monotonic() - 1
    with pytest.raises(CalculationError, match="ran past its deadline"):
        budget.check_clock()


def test_statistics_of_the_largest_data_accepted() -> None:
    limits = Limits()
    summary = summarize(
        list(range(10_000)),
        precision=15,
        groups=4,
        method="exclusive",
        limits=limits,
        budget=Budget(limits.time_limit_ms, on_loop=False),
    )
    assert (summary.count, summary.sum.value, summary.median.value) == (10_000, str(sum(range(10_000))), "4999.5")


def test_number_messages_and_exponents() -> None:
    assert run("1e0000000001").value == "10"  # leading zeros of an exponent count for nothing
    assert run("0e9999999999").value == "0"
    assert run("0.0e-99999999999").value == "0"
    assert error("1e9999999999").startswith("Digit limit: ")
    budget = Budget(25, on_loop=False)
    with pytest.raises(CalculationError) as caught:
        read_number("0." + "0" * 10_000, Limits(), "x", budget)
    assert str(caught.value) == "Length limit: x is 10,002 characters long; a number may have at most 10,000."
    unknown = error("f" + "o" * 1_000 + "(1)")
    assert unknown.startswith("Unknown name: 'f" + "o" * 39 + "'… is not a function"), unknown


def test_reading_numbers_exactly() -> None:
    limits = Limits()
    budget = Budget(limits.time_limit_ms, on_loop=False)
    assert read_number(0.1, limits, "x", budget) == Fraction(1, 10)
    assert read_number(-524.071, limits, "x", budget) == Fraction(-524071, 1000)
    assert read_number(1e300, limits, "x", budget) == 10**300
    assert read_number(" −1/3 ", limits, "x", budget) == Fraction(-1, 3)
    assert read_number("0x_ff", limits, "x", budget) == 255
    assert read_number(2**64, limits, "x", budget) == 2**64
    for bad in (True, float("nan"), "1/0", "2+2", "1e", ""):
        with pytest.raises(CalculationError):
            read_number(bad, limits, "x", budget)  # type: ignore[arg-type]


def test_random_expressions_give_an_answer_or_a_calculation_error() -> None:
    """A seeded fuzz over every function, operator and some awkward numbers: nothing else may escape."""
    import random
    from collections import Counter

    from deskmcp.servers.calculator.functions import FUNCTIONS

    atoms = ["0", "2", "-1", "0.5", "1e-9", "1e300", "pi", "e", "1/3", "0x10", "10**9999", "7**11000", "1e-5000"]
    atoms += ["10**-9000", "3**(1/2)", "0.999999", "1.000001", "33000", "e**100", "pi*10**50"]
    operators = ["+", "-", "*", "/", "//", "%", "**", "^"]
    generator = random.Random(20_26)

    def expression(depth: int = 0) -> str:
        roll = generator.random()
        if depth > 4 or roll < 0.3:
            return generator.choice(atoms)
        if roll < 0.6:
            return f"({expression(depth + 1)} {generator.choice(operators)} {expression(depth + 1)})"
        if roll < 0.7:
            return f"-{expression(depth + 1)}"
        name = generator.choice(list(FUNCTIONS))
        function = FUNCTIONS[name]
        count = generator.randint(function.minimum, function.maximum or function.minimum + 2)
        return f"{name}({', '.join(expression(depth + 1) for _ in range(count))})"

    slowest = 0.0
    kinds: Counter[str] = Counter()
    for _ in range(1500):
        text = expression()
        start = time.perf_counter()
        try:
            run(text, precision=generator.choice([1, 15, 100]))
            kinds["answer"] += 1
        except CalculationError as error:
            kinds["wrong arity" if " takes " in error.detail else error.kind] += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 1.0
    assert kinds["answer"] > 750 and kinds["wrong arity"] == kinds["Syntax error"] == 0, kinds  # cases are evaluated


def test_whole_number_settings() -> None:
    parse = whole_number(1, 60_000)
    assert [parse(raw) for raw in ("1", " 25\n", "60_000", "+7", "007")] == [1, 25, 60_000, 7, 7]
    for raw in ("0", "60001", "-5", "", "lots", "2.5", "1e3", "0x10", "1__0", "_1", "1_", "１２", "9" * 5000):
        with pytest.raises(ValueError) as caught:
            parse(raw)
        assert str(caught.value) == f"expected a whole number from 1 to 60,000, got {raw!r}"
    assert whole_number(-10, 10)("-10") == -10
