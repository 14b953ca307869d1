"""The calculator's grammar: tokens to a small tree, with the allow-list and the size limits applied here.

    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)*     (top level only)
    sum        := term (("+" | "-") term)*
    product    := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("+" | "-") unary | atom "!"? SUPERSCRIPT? (("**" | "^") unary)?   (2^3^2 = 2^9; 3² = 3**2)
    atom       := NUMBER | CONSTANT | VARIABLE | FUNCTION "(" sum ("," sum)* ")" | "(" sum ")"

This is our own parser, not Python's: user text is never handed to `eval`, `compile` or `ast`, and nothing
outside this grammar can even be written. Names resolve while parsing (constants, functions with their
argument counts, caller variables); chains of + and * become one flat node, so the tree is never deeper
than the nesting the depth limit allows.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from deskmcp.servers.calculator.errors import (
    ARGUMENT,
    DEPTH_LIMIT,
    LENGTH_LIMIT,
    NODE_LIMIT,
    NOT_ALLOWED,
    SYNTAX,
    UNKNOWN_NAME,
    CalculationError,
)
from deskmcp.servers.calculator.exact import literal_shape, parse_literal
from deskmcp.servers.calculator.functions import CONSTANTS, FUNCTIONS, Function
from deskmcp.servers.calculator.limits import Budget, Limits, power_of_ten_us
from deskmcp.servers.calculator.tokens import END, INFINITY, NAME, NUMBER, SUPERSCRIPT, TIMES, Token, tokenize

COMPARISON_OPERATORS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ADDITIVE: Final = frozenset({"+", "-"})
_MULTIPLICATIVE: Final = frozenset({"*", "/", "//", "%"})
_SHOWN_NAME: Final = 40  # characters of an unknown name echoed in a message
# What can follow a '%' that is not the remainder: the end, a closing bracket, another operator, 'of'.
_NOT_AN_OPERAND: Final = frozenset({")", ",", "*", "/", "//", "%", "**", "!", *COMPARISON_OPERATORS})
PERCENT: Final = (
    "'%' is the remainder operator (7 % 3 is 1), not a percent sign. Write a percentage as a fraction: "
    "50% of 80 is 50/100*80 (or 0.5*80), and 80 plus 5% is 80*1.05."
)
_INFINITE_NAMES: Final = frozenset({"inf", "infinity", "nan"})


@dataclass(slots=True, eq=False)
class Number:
    value: Fraction
    position: int


@dataclass(slots=True, eq=False)
class Constant:
    name: str
    position: int


@dataclass(slots=True, eq=False)
class Negate:
    operand: Node
    position: int


@dataclass(slots=True, eq=False)
class Chain:
    """first (op operand)*, left to right: a sum or a product of any length."""

    first: Node
    rest: tuple[tuple[str, Node, int], ...]


@dataclass(slots=True, eq=False)
class Power:
    base: Node
    exponent: Node
    position: int


@dataclass(slots=True, eq=False)
class Call:
    function: str
    arguments: tuple[Node, ...]
    position: int


@dataclass(slots=True, eq=False)
class Comparison:
    operands: tuple[Node, ...]
    operators: tuple[tuple[str, int], ...]


Node = Number | Constant | Negate | Chain | Power | Call


def parse(source: str, limits: Limits, variables: Mapping[str, Fraction], budget: Budget) -> Node | Comparison:
    """The tree of `source`, or a `CalculationError` saying what is wrong and where.

    Literals are read as they are parsed; the power of ten a short one can need (1e9999) is charged first."""
    if len(source) > limits.max_length:
        detail = (
            f"the expression has {len(source):,} characters; at most {limits.max_length:,} are accepted. "
            "Split the calculation into steps."
        )
        raise CalculationError(LENGTH_LIMIT, detail)
    if not source.strip():
        raise CalculationError(SYNTAX, "the expression is empty.")
    return _Parser(tokenize(source), limits, variables, budget).comparison()


class _Parser:
    def __init__(
        self, tokens: Iterator[Token], limits: Limits, variables: Mapping[str, Fraction], budget: Budget
    ) -> None:
        self.stream = tokens  # read lazily: a refusal never tokenizes the rest of a long input
        self.token = next(tokens)
        self.previous: Token | None = None
        self.limits = limits
        self.variables = variables
        self.budget = budget
        self.depth = 0
        self.nodes = 0

    # --- bookkeeping ------------------------------------------------------------------------------------

    def advance(self) -> Token:
        token = self.previous = self.token
        if token.kind != END:
            self.token = next(self.stream)
        return token

    def at(self, text: str) -> bool:
        return self.token.text == text  # operator texts never collide with names or numbers

    def count(self, position: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            detail = (
                f"the expression has more than {self.limits.max_nodes:,} numbers, names and operators. "
                "Split the calculation into steps."
            )
            raise CalculationError(NODE_LIMIT, detail, position)

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            detail = f"parentheses, calls, signs and powers nest more than {self.limits.max_depth} levels deep."
            raise CalculationError(DEPTH_LIMIT, detail, position)

    # --- grammar ----------------------------------------------------------------------------------------

    def comparison(self) -> Node | Comparison:
        first = self.sum()
        operands, operators = [first], []
        while self.token.text in COMPARISON_OPERATORS:
            token = self.advance()
            self.count(token.position)
            operators.append((token.text, token.position))
            operands.append(self.sum())
        if self.token.kind != END:
            raise self.unexpected("an operator or the end of the expression")
        return Comparison(tuple(operands), tuple(operators)) if operators else first

    def sum(self) -> Node:
        first = self.product()
        rest = []
        while self.token.text in _ADDITIVE:
            token = self.advance()
            self.count(token.position)
            rest.append((token.text, self.product(), token.position))
        return Chain(first, tuple(rest)) if rest else first

    def product(self) -> Node:
        first = self.unary()
        rest = []
        while self.token.text in _MULTIPLICATIVE:
            token = self.advance()
            if token.text == "%" and self.after_percent_sign():
                raise CalculationError(SYNTAX, PERCENT, token.position)
            self.count(token.position)
            rest.append((token.text, self.unary(), token.position))
        return Chain(first, tuple(rest)) if rest else first

    def unary(self) -> Node:
        """Signs, then an atom with its optional `!` and `**` exponent (so -2**2 is -(2**2))."""
        token = self.token
        if token.text in _ADDITIVE:
            self.advance()
            self.enter(token.position)
            operand = self.unary()
            self.depth -= 1
            if token.text == "+":
                return operand
            self.count(token.position)
            return Negate(operand, token.position)
        node = self.atom()
        if self.at("!"):
            node = self.factorial(node)
        if self.token.kind == SUPERSCRIPT:
            token = self.advance()
            self.count(token.position)
            node = Power(node, Number(Fraction(int(token.text)), token.position), token.position)
        if not self.at("**"):
            return node
        token = self.advance()
        self.count(token.position)
        self.enter(token.position)
        exponent = self.unary()
        self.depth -= 1
        return Power(node, exponent, token.position)

    def after_percent_sign(self) -> bool:
        """Whether the token after a '%' shows it was meant as a percent sign (80*50%, 50% of 80)."""
        token = self.token
        if token.kind == END or token.text in _NOT_AN_OPERAND:
            return True
        return token.kind == NAME and token.text == "of" and "of" not in self.variables

    def factorial(self, node: Node) -> Node:
        token = self.advance()
        if self.at("!"):
            detail = "'!!' is ambiguous (double factorial or factorial twice?); write factorial(factorial(n))."
            raise CalculationError(SYNTAX, detail, token.position)
        self.count(token.position)
        return Call("factorial", (node,), token.position)

    def atom(self) -> Node:
        token = self.token
        if token.kind == NUMBER:
            self.advance()
            self.count(token.position)
            return Number(self.literal(token), token.position)
        if token.kind == NAME:
            return self.name()
        if self.at("("):
            self.advance()
            self.enter(token.position)
            inner = self.sum()
            self.expect_closing(token.position)
            self.depth -= 1
            return inner
        raise self.unexpected("a number, a name or '('")

    def literal(self, token: Token) -> Fraction:
        if not token.text.isdigit():  # plain digits are covered by the cost of reading the expression
            shape = literal_shape(token.text, self.limits.max_digits, token.position)
            self.budget.charge(power_of_ten_us(shape.power), "reading this number", token.position)
        return parse_literal(token.text, self.limits.max_digits, token.position)

    def name(self) -> Node:
        token = self.advance()
        name, position = token.text, token.position
        self.count(position)
        calling = self.at("(")
        if name in FUNCTIONS:
            if not calling:
                raise CalculationError(SYNTAX, f"{name} is a function; call it like {name}(2).", position)
            return self.call(name, position)
        if calling:
            kind = "a constant" if name in CONSTANTS else "a variable" if name in self.variables else None
            if kind:
                detail = f"{name} is {kind}, not a function; write {name}*(...) to multiply."
                raise CalculationError(SYNTAX, detail, position)
        if name in CONSTANTS:
            return Constant(name, position)
        if name in self.variables:
            return Number(self.variables[name], position)
        if name.lower() in _INFINITE_NAMES:
            raise CalculationError(NOT_ALLOWED, f"{INFINITY}.", position)
        raise unknown_name(name, position)

    def call(self, name: str, position: int) -> Node:
        opening = self.advance()
        self.enter(opening.position)
        arguments = []
        if not self.at(")"):
            arguments.append(self.sum())
            while self.at(","):
                self.advance()
                arguments.append(self.sum())
        self.expect_closing(opening.position)
        self.depth -= 1
        function = FUNCTIONS[name]
        if len(arguments) < function.minimum or (function.maximum is not None and len(arguments) > function.maximum):
            raise CalculationError(ARGUMENT, f"{name} takes {_arity(function)}; got {len(arguments)}.", position)
        return Call(name, tuple(arguments), position)

    def expect_closing(self, opening: int) -> None:
        if self.at(")"):
            self.advance()
            return
        if self.token.text in COMPARISON_OPERATORS:
            detail = "comparisons are only allowed at the top level, e.g. 2**10 > 1000."
            raise CalculationError(SYNTAX, detail, self.token.position)
        if self.token.kind == END:
            raise CalculationError(SYNTAX, "this '(' is never closed.", opening)
        raise self.unexpected("')'" if not self.at(",") else "')' (',' separates function arguments only)")

    def unexpected(self, wanted: str) -> CalculationError:
        token = self.token
        if token.kind == END:
            return CalculationError(SYNTAX, f"the expression ends early; expected {wanted}.", token.position)
        if token.kind == NAME and (keyword.iskeyword(token.text) or keyword.issoftkeyword(token.text)):
            return unknown_name(token.text, token.position)
        previous = self.previous
        times = token.kind == NAME and token.text in ("x", "X") and token.text not in self.variables
        if times and previous is not None and (previous.kind == NUMBER or previous.text == ")"):
            return CalculationError(SYNTAX, f"{TIMES}.", token.position)
        if token.kind in (NUMBER, NAME) or token.text == "(":
            if previous is not None and (previous.kind in (NUMBER, NAME) or previous.text in (")", "!")):
                detail = f"missing operator before {token.text!r}; write 2*x, not 2x or 2 x."
                return CalculationError(SYNTAX, detail, token.position)
        if token.text == "!":
            return CalculationError(SYNTAX, "'!' (factorial) goes after a number, e.g. 5!.", token.position)
        return CalculationError(SYNTAX, f"unexpected {token.text!r}; expected {wanted}.", token.position)


def _arity(function: Function) -> str:
    minimum, maximum = function.minimum, function.maximum
    if maximum is None:
        return f"{minimum} or more arguments"
    if minimum == maximum:
        return f"{minimum} argument{'s' if minimum != 1 else ''}"
    return f"{minimum} to {maximum} arguments"


def unknown_name(name: str, position: int | None) -> CalculationError:
    cut = "…" if len(name) > _SHOWN_NAME else ""
    shown = f"{name[:_SHOWN_NAME]!r}{cut}"
    if name.startswith("_"):
        detail = f"names starting with '_' ({name[:_SHOWN_NAME]}{cut}) are not supported."
        return CalculationError(NOT_ALLOWED, detail, position)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        detail = f"{shown} is Python syntax; the calculator evaluates arithmetic only."
        return CalculationError(NOT_ALLOWED, detail, position)
    import difflib

    close = difflib.get_close_matches(name[: _SHOWN_NAME + 1], [*FUNCTIONS, *CONSTANTS], n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    detail = (
        f"{shown} is not a function or constant here.{hint} Functions: {', '.join(FUNCTIONS)}. "
        f"Constants: {', '.join(CONSTANTS)}. Other names can be given numbers in `variables`."
    )
    return CalculationError(UNKNOWN_NAME, detail, position)
