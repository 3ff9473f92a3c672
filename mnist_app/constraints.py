"""Constraints on settings, stated once and used twice: to validate a value and to parse a flag.

In the spirit of scikit-learn's ``_parameter_constraints``: a table maps each setting to the
constraints it may satisfy (``None`` in the list means "None is allowed"). The same table checks a
whole configuration (:func:`validate`) and turns command-line text into a value, so the command line
and the library can never disagree about what is allowed (:func:`parse`). Each constraint also
describes itself in words, which is what error messages and help texts print.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class Constraint:
    """One rule a value may satisfy."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """The value ``text`` spells (ValueError if it spells none this rule can check)."""
        return text

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of ``kind`` (int or float) between ``low`` and ``high`` (None = unbounded).
    ``closed`` says which ends belong: "both", "left", "right" or "neither". Floats must be finite."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed in ("right", "neither"))):
            return False
        if self.high is not None and (value > self.high or (value == self.high and self.closed in ("left", "neither"))):
            return False
        return True

    def parse(self, text: str) -> Any:
        return int(text) if self.kind is int else float(text)

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        low_in, high_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{noun} in {'[' if low_in else '('}{self.low:g}, {self.high:g}{']' if high_in else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if low_in else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if high_in else '<'} {self.high:g}"
        return noun


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of strings."""

    options: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        return f"one of {', '.join(self.options)}"


@dataclass(frozen=True)
class Literal(Constraint):
    """The exact string ``word`` stands for ``value`` (e.g. ``--seed random`` for None)."""

    word: str
    value: Any

    def accepts(self, value: Any) -> bool:
        return value is self.value

    def parse(self, text: str) -> Any:
        if text != self.word:
            raise ValueError(text)
        return self.value

    def describe(self) -> str:
        return repr(self.word)


@dataclass(frozen=True)
class Sizes(Constraint):
    """Layer sizes: at least ``min_layers`` integers >= 1."""

    min_layers: int = 2
    #: What one layer's size may be.
    layer: Interval = Interval(int, 1, None)

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, (tuple, list))
            and len(value) >= self.min_layers
            and all(self.layer.accepts(n) for n in value)
        )

    def describe(self) -> str:
        return f"at least {self.min_layers} layer sizes, each {self.layer.describe()}"


@dataclass(frozen=True)
class Check(Constraint):
    """A value for which ``check(value)`` does not raise ValueError; ``description`` says which."""

    check: Callable[[Any], Any]
    description: str

    def accepts(self, value: Any) -> bool:
        try:
            self.check(value)
        except (ValueError, TypeError):
            return False
        return True

    def describe(self) -> str:
        return self.description


Constraints = Mapping[str, Sequence[Constraint | None]]


def describe(constraints: Sequence[Constraint | None]) -> str:
    """``an integer >= 1 or None``."""
    return " or ".join("None" if c is None else c.describe() for c in constraints)


def problem(name: str, value: Any, constraints: Sequence[Constraint | None]) -> str | None:
    """None if ``value`` satisfies one of ``constraints``, else a one-line complaint."""
    for c in constraints:
        if (value is None) if c is None else c.accepts(value):
            return None
    return f"{name} must be {describe(constraints)}, got {value!r}"


def validate(values: Mapping[str, Any], table: Constraints) -> None:
    """Raise ValueError listing every value of ``values`` that breaks its constraints in ``table``."""
    problems = [p for name, allowed in table.items() if (p := problem(name, values[name], allowed))]
    if problems:
        raise ValueError("; ".join(problems))


def parse(text: str, constraints: Sequence[Constraint | None]) -> Any:
    """The value the command-line ``text`` spells under ``constraints`` (ValueError naming what is
    allowed otherwise). Each constraint tries to read the text; the first reading it accepts wins."""
    for c in constraints:
        if c is None:
            continue
        try:
            value = c.parse(text)
        except ValueError:
            continue
        if c.accepts(value):
            return value
    raise ValueError(f"must be {describe([c for c in constraints if c is not None])}, got {text!r}")
