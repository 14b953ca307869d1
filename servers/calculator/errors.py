"""The one error type of the calculator: a kind the model can recognise, a detail, and where it happened."""

from __future__ import annotations

from typing import Final

SYNTAX: Final = "Syntax error"
NOT_ALLOWED: Final = "Not allowed"
UNKNOWN_NAME: Final = "Unknown name"
ARGUMENT: Final = "Invalid argument"
LENGTH_LIMIT: Final = "Length limit"
DEPTH_LIMIT: Final = "Depth limit"
NODE_LIMIT: Final = "Complexity limit"
DIGIT_LIMIT: Final = "Digit limit"
TIME_LIMIT: Final = "Time limit"
DIVISION_BY_ZERO: Final = "Division by zero"
DOMAIN: Final = "Domain error"
UNDETERMINED: Final = "Undetermined"
BUSY: Final = "Busy"
WORKER: Final = "Worker stopped"

_EXCERPT: Final = 36


class CalculationError(Exception):
    """An expression or a data set that could not be evaluated; `str()` is the message the model reads.

    `position` is a 0-based index into `source` (the expression); when both are known the message shows the
    spot with a caret.
    """

    def __init__(self, kind: str, detail: str, position: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.position = position
        self.source: str | None = None

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled whole (kind, detail, position and source), to come back from the worker process."""
        return (_restore, (self.kind, self.detail, self.position, self.source))

    def __str__(self) -> str:
        message = f"{self.kind}: {self.detail}"
        if self.position is None or self.source is None:
            return message
        return f"{message}\n{caret(self.source, self.position)}"


def _restore(kind: str, detail: str, position: int | None, source: str | None) -> CalculationError:
    error = CalculationError(kind, detail, position)
    error.source = source
    return error


class Undetermined(Exception):
    """The value is not known well enough at this working precision; the evaluator retries with more digits.

    `digits` is the working precision a retry needs, when the step can tell (else the evaluator doubles it);
    `advice` is the sentence the final error ends with.
    """

    def __init__(self, detail: str, position: int | None, *, advice: str = "", digits: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position
        self.advice = advice
        self.digits = digits

    def error(self, working_digits: int, *, time_limited: bool) -> CalculationError:
        """The refusal once no more digits can be tried: at the digit cap, or when the time limit is reached."""
        most = " (as many as DESKMCP_CALCULATOR_TIME_LIMIT_MS allows)" if time_limited else ""
        text = f"{self.detail}, even with {working_digits:,} digits of working precision{most}."
        return CalculationError(UNDETERMINED, f"{text} {self.advice}" if self.advice else text, self.position)


def caret(source: str, position: int) -> str:
    """Two lines: the expression around `position` (1-based in the text) and a caret under it."""
    start = max(0, position - _EXCERPT)
    end = min(len(source), position + _EXCERPT)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(source) else ""
    excerpt = "".join(" " if ch in "\t\r\n" else ch for ch in source[start:end])
    label = f"  at position {position + 1}: "
    return f"{label}{prefix}{excerpt}{suffix}\n{' ' * (len(label) + len(prefix) + position - start)}^"
