"""An error, never a guess: values and comparisons that hinge on tiny non-zero numbers (issue 10, part 1).

Every expected value is computed here with mpmath's ordinary (non-interval) context at 400 digits, far
beyond what the calculator is asked for, then rounded to each precision with `decimal`; nothing of the
calculator's own code is used. Each case goes through a real `deskmcp calculator` over its pipes at several
precisions. A value is 0 only when it is exactly 0: expressions whose value is exactly 0, or whose two sides
are exactly equal, cannot be decided by digits and must be refused as undetermined, never answered.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import mpmath
import pytest
from hostpipes import deskmcp_command, pipe_server

PRECISIONS = (5, 15, 40)
ORACLE = mpmath.MPContext()
ORACLE.dps = 400
mp = ORACLE

TINY_VALUES: dict[str, Callable[[], Any]] = {
    "1 - tanh(100)": lambda: 1 - mp.tanh(100),
    "ln(tanh(80))": lambda: mp.log(mp.tanh(80)),
    "(pi + exp(-150)) - pi": lambda: mp.exp(-150),
    "1/(1 - tanh(100))": lambda: 1 / (1 - mp.tanh(100)),
    "exp(-200) + 1 - 1": lambda: mp.exp(-200),
    "tanh(40) - 1": lambda: mp.tanh(40) - 1,
    "sqrt(1 + 1e-100) - 1": lambda: mp.sqrt(1 + mp.mpf("1e-100")) - 1,
    "1 - cos(1e-40)": lambda: 1 - mp.cos(mp.mpf("1e-40")),
    "cosh(1e-30) - 1": lambda: mp.cosh(mp.mpf("1e-30")) - 1,
    "ln(1 + exp(-120))": lambda: mp.log(1 + mp.exp(-120)),
    "atan(1e40) - pi/2": lambda: mp.atan(mp.mpf("1e40")) - mp.pi / 2,
    "sin(pi + 1e-70)": lambda: mp.sin(mp.pi + mp.mpf("1e-70")),
    "e**(1e-80) - 1": lambda: mp.expm1(mp.mpf("1e-80")),
    "1/(e**(1e-80) - 1)": lambda: 1 / mp.expm1(mp.mpf("1e-80")),
    "(1 - tanh(100)) * 1e86": lambda: (1 - mp.tanh(100)) * mp.mpf("1e86"),
}

COMPARISONS: dict[str, Callable[[], bool]] = {
    "1 + exp(-200) > 1": lambda: 1 + mp.exp(-200) > 1,
    "tanh(100) < 1": lambda: mp.tanh(100) < 1,
    "tanh(100) == 1": lambda: mp.tanh(100) == 1,
    "tanh(100) != 1": lambda: mp.tanh(100) != 1,
    "pi + exp(-150) > pi": lambda: mp.pi + mp.exp(-150) > mp.pi,
    "pi + exp(-150) == pi": lambda: mp.pi + mp.exp(-150) == mp.pi,
    "1 - tanh(100) > 0": lambda: 1 - mp.tanh(100) > 0,
    "ln(tanh(80)) < 0": lambda: mp.log(mp.tanh(80)) < 0,
    "cos(1e-40) < 1": lambda: mp.cos(mp.mpf("1e-40")) < 1,
    "sqrt(1 + 1e-100) >= 1 + 1e-101": lambda: mp.sqrt(1 + mp.mpf("1e-100")) >= 1 + mp.mpf("1e-101"),
    "exp(-300) <= 0": lambda: mp.exp(-300) <= 0,
    "1 < 1 + exp(-200) < 1 + 2*exp(-200)": lambda: True,
}

# Exactly 0, or exactly equal: digits can narrow these forever without proving them.
UNDECIDABLE = {
    "sin(pi)": "Undetermined: the value is 0 to within 1e-",
    "tan(pi) * 1e50": "Undetermined: the value is 0 to within 1e-",
    "pi - pi": "Undetermined: the value is 0 to within 1e-",
    "ln(e) - 1": "Undetermined: the value is 0 to within 1e-",
    "sqrt(2)**2 == 2": "Undetermined: the two sides of == agree to within 1e-",
    "exp(ln(3)) > 3": "Undetermined: the two sides of > agree to within 1e-",
    "1/(pi - pi)": "Undetermined: the divisor is 0 to within 1e-",
    "1/sin(pi)": "Undetermined: the divisor is 0 to within 1e-",
    "floor(sqrt(2)**2)": "Undetermined: floor cannot be decided",
}


def rounded(value: Any, precision: int) -> Decimal:
    text = mpmath.nstr(value, 380, strip_zeros=False, min_fixed=1, max_fixed=0)
    return Context(prec=precision, rounding=ROUND_HALF_EVEN).plus(Decimal(text))


@pytest.fixture(scope="module")
def server() -> Any:
    with pipe_server(deskmcp_command("calculator")) as process:
        process.initialize()
        yield process
        assert process.close() == 0


def test_the_oracle_is_independent_and_sharp() -> None:
    assert mp.dps == 400 and mpmath.mp.dps == 15  # its own context: the calculator's is not touched
    assert rounded(1 - mp.tanh(100), 5) == Decimal("2.7678E-87")


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("expression", list(TINY_VALUES))
def test_a_tiny_value_is_given_to_every_digit_asked_for(server: Any, expression: str, precision: int) -> None:
    result = server.call_tool("calculate", {"expression": expression, "precision": precision})
    assert not result.get("isError"), result
    answer = result["structuredContent"]
    assert answer["exact"] is False and answer["value"] != "0", answer
    assert Decimal(answer["decimal"]) == rounded(TINY_VALUES[expression](), precision), answer


@pytest.mark.parametrize("precision", (5, 40))
@pytest.mark.parametrize("expression", list(COMPARISONS))
def test_a_comparison_that_hinges_on_a_tiny_value_is_decided_right(
    server: Any, expression: str, precision: int
) -> None:
    result = server.call_tool("calculate", {"expression": expression, "precision": precision})
    assert not result.get("isError"), result
    expected = "true" if COMPARISONS[expression]() else "false"
    assert result["structuredContent"] == {"value": expected, "exact": True, "decimal": expected}
    assert result["content"][0]["text"] == expected


@pytest.mark.parametrize("expression", list(UNDECIDABLE))
def test_what_digits_cannot_decide_is_an_error(server: Any, expression: str) -> None:
    result = server.call_tool("calculate", {"expression": expression})
    text = result["content"][0]["text"]
    assert result.get("isError") is True and "structuredContent" not in result, result
    assert text.startswith(UNDECIDABLE[expression]), text
    assert "digits of working precision" in text, text


def test_an_exact_zero_is_zero(server: Any) -> None:
    for expression in ("0 * pi", "sin(0)", "pi**0 - 1", "(1 + 1e-60) - 1 - 1e-60", "atan2(0, 1)"):
        result = server.call_tool("calculate", {"expression": expression})
        assert result["structuredContent"] == {"value": "0", "exact": True, "decimal": "0"}, (expression, result)
