"""Results a person or a model can use (issue 10, part 4), through a real `deskmcp calculator` over its pipes.

A result too long to be exact within the digit limit is computed as a correctly rounded interval when its
magnitude fits; a long exact result is shown as a decimal with its size (the exact form stays in `value`);
the functions people reach for from Python's `math`; superscript powers; and refusals that say what to
write instead. Expected values come from exact `Fraction` arithmetic, `decimal`, or mpmath at 100 digits,
all computed here.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import mpmath
import pytest
from hostpipes import deskmcp_command, pipe_server

ROOT = Path(__file__).resolve().parent.parent
ORACLE = mpmath.MPContext()
ORACLE.dps = 100
mp = ORACLE


def significant(value: F, digits: int) -> Decimal:
    """An exact rational rounded to `digits` significant digits (half to even), by integer arithmetic."""
    numerator, denominator = abs(value.numerator), value.denominator
    exponent = (numerator.bit_length() - denominator.bit_length()) * 30103 // 100000
    while numerator * 10 ** max(-exponent, 0) < denominator * 10 ** max(exponent, 0):
        exponent -= 1
    while numerator * 10 ** max(-exponent - 1, 0) >= denominator * 10 ** max(exponent + 1, 0):
        exponent += 1
    shift = digits - 1 - exponent
    scaled = F(numerator * 10 ** max(shift, 0), denominator * 10 ** max(-shift, 0))
    quotient = round(scaled)  # Fraction rounds half to even
    sign = "-" if value < 0 else ""
    return Decimal(f"{sign}{quotient}e{-shift}")


def from_oracle(value: Any, digits: int) -> Decimal:
    text = mpmath.nstr(value, 90, strip_zeros=False, min_fixed=1, max_fixed=0)
    return Context(prec=digits, rounding=ROUND_HALF_EVEN).plus(Decimal(text))


@pytest.fixture(scope="module")
def server() -> Any:
    with pipe_server(deskmcp_command("calculator")) as process:
        process.initialize()
        yield process
        assert process.close() == 0


def calculate(server: Any, expression: str, **arguments: Any) -> dict[str, Any]:
    return server.call_tool("calculate", {"expression": expression, **arguments})


def text_of(result: dict[str, Any]) -> str:
    return result["content"][0]["text"]


@pytest.mark.parametrize(
    ("expression", "exact"),
    [
        ("1000*(1+0.05/365)**(365*30)", 1000 * F(7301, 7300) ** 10950),  # compound interest: 42,305 digits exactly
        ("0.99**5000", F(99, 100) ** 5000),
        ("(1 + 1/3**20)**(3**9)", (1 + F(1, 3**20)) ** (3**9)),
        ("1/3**20000 + 1/7**11000", F(1, 3**20000) + F(1, 7**11000)),
    ],
)
@pytest.mark.parametrize("precision", [15, 40])
def test_a_result_too_long_to_be_exact_is_correctly_rounded(
    server: Any, expression: str, exact: F, precision: int
) -> None:
    result = calculate(server, expression, precision=precision)
    assert not result.get("isError"), result
    answer = result["structuredContent"]
    assert answer["exact"] is False
    assert Decimal(answer["decimal"]) == significant(exact, precision), answer
    assert text_of(result) == f"≈ {answer['decimal']}"


def test_compound_interest_reads_as_a_person_expects(server: Any) -> None:
    assert text_of(calculate(server, "1000*(1+0.05/365)**(365*30)", precision=11)) == "≈ 4481.2286885"


def test_magnitudes_beyond_the_limit_are_still_refused(server: Any) -> None:
    for expression in ("1.01**(10**7)", "0.5**40000", "(1/3**20000) / 7**11000"):
        text = text_of(calculate(server, expression))
        assert text.startswith("Digit limit: "), text


def test_a_long_exact_result_is_a_decimal_with_its_size(server: Any) -> None:
    result = calculate(server, "(1+1/1000)**1000")
    exact = F(1001, 1000) ** 1000
    answer = result["structuredContent"]
    assert answer["exact"] is True and F(answer["value"]) == exact  # the exact form is kept
    assert answer["decimal"] == str(significant(exact, 15)) == "2.71692393223589"
    assert text_of(result) == (
        "≈ 2.71692393223589 (exactly a fraction, 3,001 digits over 3,001 digits: too long to show here; "
        "the structured result's `value` has it in full)"
    )
    factorial = calculate(server, "1000!")
    assert int(factorial["structuredContent"]["value"]) == math.factorial(1000)
    assert text_of(factorial).startswith("≈ 4.02387260077094e+2567 (exactly an integer of 2,568 digits: ")
    assert text_of(calculate(server, "2**1000")) == str(2**1000)  # 302 digits: short enough to show
    decimal = str(significant(F(1, 7**20), 15)).replace("E", "e")
    assert text_of(calculate(server, "1/7**20")) == f"1/{7**20} ≈ {decimal}"


def test_a_long_result_in_another_base(server: Any) -> None:
    result = calculate(server, "10**999", base=2)
    assert result["structuredContent"]["value"] == bin(10**999)
    assert text_of(result) == (
        "≈ 1e+999 (in base 2, 3,319 base-2 digits: too long to show here; the structured result's `value` has "
        "it in full)"
    )


FUNCTIONS: dict[str, Any] = {
    "pow(2, 10)": 1024,
    "pow(2, 0.5)": lambda: mp.sqrt(2),
    "pow(-8, 1/3)": -2,
    "fabs(-7/2)": F(7, 2),
    "fmod(-7, 3)": -1,
    "fmod(7.5, -2)": F(3, 2),
    "fmod(pi, 1)": lambda: mp.pi - 3,
    "exp2(10)": 1024,
    "exp2(-3)": F(1, 8),
    "exp2(0.5)": lambda: mp.sqrt(2),
    "expm1(1e-20)": lambda: mp.expm1(mp.mpf("1e-20")),
    "expm1(-1e-200)": lambda: mp.expm1(mp.mpf("-1e-200")),
    "expm1(2)": lambda: mp.expm1(2),
    "log1p(1e-30)": lambda: mp.log1p(mp.mpf("1e-30")),
    "log1p(-0.5)": lambda: mp.log1p(mp.mpf("-0.5")),
    "log1p(1e10)": lambda: mp.log1p(mp.mpf("1e10")),
    "gamma(5)": 24,
    "gamma(0.5)": lambda: mp.sqrt(mp.pi),
    "gamma(-0.5)": lambda: -2 * mp.sqrt(mp.pi),
    "gamma(-2.5)": lambda: mp.gamma(mp.mpf("-2.5")),
    "gamma(10.1)": lambda: mp.gamma(mp.mpf("10.1")),
    "gamma(170.5)": lambda: mp.gamma(mp.mpf("170.5")),
    "lgamma(1)": 0,
    "lgamma(0.5)": lambda: mp.log(mp.sqrt(mp.pi)),
    "lgamma(100)": lambda: mp.log(mp.factorial(99)),
    "lgamma(-0.5)": lambda: mp.log(2 * mp.sqrt(mp.pi)),
    "lgamma(1e6 + 0.5)": lambda: mp.loggamma(mp.mpf("1000000.5")),
    "erf(0)": 0,
    "erf(0.5)": lambda: mp.erf(mp.mpf("0.5")),
    "erf(-2)": lambda: mp.erf(-2),
    "erf(1e-30)": lambda: mp.erf(mp.mpf("1e-30")),
    "erf(5.5)": lambda: mp.erf(mp.mpf("5.5")),
    "erfc(0)": 1,
    "erfc(1)": lambda: mp.erfc(1),
    "erfc(-1.5)": lambda: mp.erfc(mp.mpf("-1.5")),
    "erfc(6.5)": lambda: mp.erfc(mp.mpf("6.5")),
    "erfc(30)": lambda: mp.erfc(30),
    "erfc(100)": lambda: mp.erfc(100),
}


@pytest.mark.parametrize("precision", [15, 30])
@pytest.mark.parametrize("expression", list(FUNCTIONS))
def test_functions_from_pythons_math(server: Any, expression: str, precision: int) -> None:
    result = calculate(server, expression, precision=precision)
    assert not result.get("isError"), result
    answer, expected = result["structuredContent"], FUNCTIONS[expression]
    if callable(expected):
        assert answer["exact"] is False, answer
        assert Decimal(answer["decimal"]) == from_oracle(expected(), precision), answer
    else:
        assert answer["exact"] is True and F(answer["value"]) == expected, answer


@pytest.mark.parametrize(
    ("expression", "start"),
    [
        ("gamma(0)", "Domain error: gamma is undefined at 0 and the negative whole numbers"),
        ("lgamma(-3)", "Domain error: lgamma is undefined at 0 and the negative whole numbers"),
        ("log1p(-1)", "Domain error: log1p is defined for x > -1"),
        ("fmod(1, 0)", "Division by zero"),
        ("gamma(4000.5)", "Digit limit: gamma of 8001/2 is beyond 1e±10000"),
        ("erfc(200)", "Digit limit: erfc of 200 is below 1e-10000"),
        ("expm1(10**5)", "Digit limit: expm1 of 100000 is beyond 1e±10000"),
    ],
)
def test_functions_refuse_what_math_refuses(server: Any, expression: str, start: str) -> None:
    result = calculate(server, expression)
    assert result.get("isError") is True and text_of(result).startswith(start), result


@pytest.mark.parametrize("expression", ["inf", "-inf", "nan", "Infinity", "1/inf", "∞", "2 * ∞"])
def test_infinity_is_refused_with_a_reason(server: Any, expression: str) -> None:
    text = text_of(calculate(server, expression))
    assert text.startswith("Not allowed: the calculator works with finite real numbers"), text
    assert "write one (1e100)" in text


def test_math_dot_names_are_pointed_at_the_bare_names(server: Any) -> None:
    text = text_of(calculate(server, "math.sqrt(2)"))
    assert text.startswith("Not allowed: write sqrt(2), not math.sqrt(2)"), text


@pytest.mark.parametrize(
    ("expression", "expected", "variables"),
    [
        ("3²", 9, None),
        ("2³²", 2**32, None),
        ("10⁻³", F(1, 1000), None),
        ("(1+1)³", 8, None),
        ("x² + y²", F(25, 4) + 4, {"x": 2.5, "y": 2}),
        ("-2²", -4, None),
        ("2²**3", 64, None),  # the superscript binds to its base: (2²)**3
        ("3!²", 36, None),
    ],
)
def test_superscript_powers(server: Any, expression: str, expected: F, variables: dict[str, Any] | None) -> None:
    result = calculate(server, expression, **({"variables": variables} if variables else {}))
    assert result["structuredContent"]["exact"] is True and F(result["structuredContent"]["value"]) == expected


@pytest.mark.parametrize("expression", ["50% of 80", "80*50%", "100 + 5%", "(20%)", "5% * 80", "10% > 5"])
def test_a_percent_sign_is_explained(server: Any, expression: str) -> None:
    text = text_of(calculate(server, expression))
    assert text.startswith("Syntax error: '%' is the remainder operator (7 % 3 is 1), not a percent sign."), text
    assert "50% of 80 is 50/100*80" in text
    assert text.split("\n")[2].index("^") - text.split("\n")[1].index(": ") - 2 == expression.index("%")


def test_the_remainder_still_works(server: Any) -> None:
    for expression, expected in (("7 % 3", "1"), ("-7 % 3", "2"), ("7 % -3", "-2"), ("(50 % 8) * 2", "4")):
        assert calculate(server, expression)["structuredContent"]["value"] == expected


@pytest.mark.parametrize("expression", ["2 x 3", "2x3", "(1+2) x 4", "3 X 4"])
def test_x_for_times_is_explained(server: Any, expression: str) -> None:
    text = text_of(calculate(server, expression))
    assert text.startswith("Syntax error:") and "x is not a multiplication sign here; write * (2 * 3) or ×" in text


def test_x_as_a_variable_is_still_a_variable(server: Any) -> None:
    assert calculate(server, "2*x", variables={"x": 3})["structuredContent"]["value"] == "6"
    assert text_of(calculate(server, "2 x", variables={"x": 3})).startswith("Syntax error: missing operator")


def test_the_docs_say_log_is_natural(server: Any) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`log(x)` is the natural logarithm" in readme
    description = server.result("tools/list")["tools"][0]["description"]
    assert "log(x) (natural)" in description and "% is the remainder, not percent" in description
    for name in ("pow", "fabs", "fmod", "exp2", "expm1", "log1p", "gamma", "lgamma", "erf", "erfc"):
        assert f" {name}," in description or f" {name}." in description, name
