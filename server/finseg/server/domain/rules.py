"""The RULE segment's expression language: a predicate over per-user
metrics written as text, `frequency(days=30) > 3 AND avg_spend > 50`.

    expr   := term (OR term)*
    term   := factor (AND factor)*
    factor := NOT factor | '(' expr ')' | metric OP number
    metric := NAME [ '(' [arg (',' arg)*] ')' ]
    arg    := NAME '=' value
    OP     := > | >= | < | <= | == | !=

A hand-written recursive-descent parser over a tokenizer whose tokens carry
their character offsets; an error names the offset of the first token that
cannot continue a valid expression and what was expected there. Nesting is
counted explicitly, so deep input meets MAX_DEPTH long before Python's
recursion limit. Nothing is ever evaluated as Python.

The tree is what the evaluator reads: metrics with every default filled in,
money literals as exact minor units, count literals as exact fractions.
to_text() prints a tree canonically and parse(to_text(tree)) is that tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import NoReturn, TypeAlias

from finseg.server.domain.model import ACCOUNT_TYPE_CODES, MAX_ABS_AMOUNT
from finseg.server.errors import InvalidArgument, Reason, Violation, quoted

MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_COMPARISONS = 64
#: Digits a number may have, not counting leading zeros nor zeros that end
#: its decimals: it bounds both its size and its precision.
MAX_DIGITS = 18
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 3660, 30
MIN_MONTHS, MAX_MONTHS = 1, 24

#: Every argument, in the order a canonical text lists them.
ARGUMENTS = ("days", "group", "type", "threshold", "months")
_WINDOWED = ("days", "group", "type")
#: Metric name -> the arguments it takes, in canonical order.
METRICS: dict[str, tuple[str, ...]] = {
    "frequency": _WINDOWED,
    "spend": _WINDOWED,
    "avg_spend": _WINDOWED,
    "income": _WINDOWED,
    "recency": _WINDOWED,
    "balance": ("type",),
    "low_balance_months": ("type", "threshold", "months"),
}
#: Metrics in money: their literals are minor units of the tenant's currency.
MONEY_METRICS: frozenset[str] = frozenset({"spend", "avg_spend", "income", "balance"})
#: Arguments a metric cannot do without.
REQUIRED: dict[str, tuple[str, ...]] = {"low_balance_months": ("threshold", "months")}
OPERATORS = (">", ">=", "<", "<=", "==", "!=")

#: What a group or type may be written as without quotes, and what a token
#: of words and numbers is made of.
_BARE = re.compile(r"[A-Za-z0-9_.-]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_WHOLE = re.compile(r"[0-9]+")
_SPACE = " \t\r\n"
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
_LISTED_OPERATORS = ", ".join(OPERATORS[:-1]) + f" or {OPERATORS[-1]}"


@dataclass(frozen=True)
class Metric:
    """One metric with all its arguments; None where it takes none (or no
    group or type was given). `threshold` is in minor units."""

    name: str
    days: int | None = None
    group: str | None = None
    type: str | None = None
    threshold: int | None = None
    months: int | None = None

    def text(self, exponent: int) -> str:
        """The canonical text, which names the metric's result column:
        `frequency(days=30, group=INCOME)`, `balance()`."""
        parts = []
        for name in ARGUMENTS:
            value = getattr(self, name)
            if value is None:
                continue
            if name in ("group", "type"):
                parts.append(f"{name}={_word(value)}")
            elif name == "threshold":
                parts.append(f"{name}={_major(value, exponent)}")
            else:
                parts.append(f"{name}={value}")
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class Compare:
    """metric op value; value in minor units (integral) for MONEY_METRICS,
    else the exact count."""

    metric: Metric
    op: str
    value: Fraction


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    """Two or more operands; `a AND b AND c` is one And of three, while a
    parenthesised And inside stays a nested And."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Compare | Not | And | Or


@dataclass(frozen=True)
class Rule:
    """A parsed expression. group_positions: each group value as written,
    with the offset of its first character (the quote of a quoted one), in
    order of appearance, for the caller's check against the taxonomy."""

    tree: Node
    group_positions: tuple[tuple[str, int], ...]


def parse(text: str, exponent: int, field: str = "spec.rule.expression", *,
          currency: str | None = None) -> Rule:
    """The rule `text` stands for, with money in a currency of `exponent`
    decimals (`currency`, its code, only names it in messages). Raises
    InvalidArgument (INVALID_RULE) at the first token that cannot continue."""
    return _Parser(text, exponent, field, currency).rule()


def to_text(node: Node, exponent: int) -> str:
    """The canonical text: keywords upper-case, canonical metrics, money with
    the currency's decimals, counts as their shortest exact decimal, and
    only the parentheses the tree needs."""
    if isinstance(node, Compare):
        if node.metric.name in MONEY_METRICS:
            if node.value.denominator != 1:
                raise ValueError(f"a money value must be whole minor units: {node.value}")
            value = _major(node.value.numerator, exponent)
        else:
            value = _decimal(node.value)
        return f"{node.metric.text(exponent)} {node.op} {value}"
    if isinstance(node, Not):
        inner = to_text(node.operand, exponent)
        return f"NOT ({inner})" if isinstance(node.operand, And | Or) else f"NOT {inner}"
    if isinstance(node, And):
        return " AND ".join(_inside(o, exponent, isinstance(o, And | Or))
                            for o in node.operands)
    return " OR ".join(_inside(o, exponent, isinstance(o, Or)) for o in node.operands)


def metrics(node: Node) -> list[Metric]:
    """The distinct metrics of a tree in order of first appearance."""
    seen: dict[Metric, None] = {}
    stack: list[Node] = [node]
    while stack:
        top = stack.pop()
        if isinstance(top, Compare):
            seen.setdefault(top.metric)
        elif isinstance(top, Not):
            stack.append(top.operand)
        else:
            stack.extend(reversed(top.operands))
    return list(seen)


def _inside(node: Node, exponent: int, bracketed: bool) -> str:
    text = to_text(node, exponent)
    return f"({text})" if bracketed else text


def _word(value: str) -> str:
    """A group or type as written: bare when it can be, else quoted."""
    if _BARE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _major(minor: int, exponent: int) -> str:
    """Minor units as a decimal with exactly `exponent` decimals."""
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def _decimal(value: Fraction) -> str:
    """The shortest exact decimal of a value with a finite one."""
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        raise ValueError(f"{value} has no finite decimal")
    places = max(twos, fives)
    return _major(value.numerator * 10**places // value.denominator, places)


def _decimals(exponent: int) -> str:
    if exponent == 0:
        return "no decimals"
    return f"{exponent} decimal" + ("s" if exponent > 1 else "")


@dataclass(frozen=True)
class _Token:
    """kind: "word" (names, keywords, numbers and bare values alike:
    [A-Za-z0-9_.-]+), "string" (text holds its value), "op", one of "(",
    ")", ",", "=", "char" (anything else) or "end". A string that does not
    end well carries its error: where, and what was expected there."""

    kind: str
    text: str
    start: int
    error: tuple[int, str] | None = None


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i == n:
            out.append(_Token("end", "", n))
            return out
        char = text[i]
        word = _BARE.match(text, i)
        if word:
            out.append(_Token("word", word.group(), i))
            i = word.end()
        elif char == '"':
            token, i = _string(text, i)
            out.append(token)
        elif text.startswith(_OPERATORS, i):
            op = next(o for o in _OPERATORS if text.startswith(o, i))
            out.append(_Token("op", op, i))
            i += len(op)
        elif char in "(),=":
            out.append(_Token(char, char, i))
            i += 1
        else:
            out.append(_Token("char", char, i))
            i += 1


def _string(text: str, start: int) -> tuple[_Token, int]:
    """The string token that starts at the quote text[start], and where the
    next token starts. A malformed one takes the rest of the text: the
    parser stops at it whatever it expects."""
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return _Token("string", "".join(chars), start), i + 1
        if char == "\\":
            if i + 1 == len(text):
                break
            if text[i + 1] not in '"\\':
                error = (i + 1, 'expected \\" or \\\\ after a backslash')
                return _Token("string", "", start, error), len(text)
            i += 1
            char = text[i]
        chars.append(char)
        i += 1
    error = (len(text), f"expected '\"' to end the string that starts at {start}")
    return _Token("string", "", start, error), len(text)


class _Parser:
    def __init__(self, text: str, exponent: int, field: str, currency: str | None) -> None:
        self.text = text
        self.exponent = exponent
        self.field = field
        self.currency = currency or "the tenant's currency"
        self.tokens: list[_Token] = []
        self.at = 0
        self.comparisons = 0
        self.groups: list[tuple[str, int]] = []

    def rule(self) -> Rule:
        if len(self.text) > MAX_LENGTH:
            self.fail(MAX_LENGTH, f"expected at most {MAX_LENGTH:,} characters; the "
                                  f"expression has {len(self.text):,}")
        if not self.text.strip(_SPACE):
            self.fail(0, "expected a metric, NOT or '('")
        self.tokens = _tokens(self.text)
        tree = self.expr(0)
        if self.peek().kind != "end":
            self.unexpected("expected AND, OR or the end")
        return Rule(tree, tuple(self.groups))

    # The grammar; `depth` counts the parentheses and NOTs around.

    def expr(self, depth: int) -> Node:
        return self.chain(depth, "or", self.term, Or)

    def term(self, depth: int) -> Node:
        return self.chain(depth, "and", self.factor, And)

    def chain(self, depth: int, keyword: str, operand: Callable[[int], Node],
              node: type[And] | type[Or]) -> Node:
        """operand (keyword operand)*: one node of all, flat."""
        operands = [operand(depth)]
        while self.keyword(keyword):
            self.next()
            operands.append(operand(depth))
        return operands[0] if len(operands) == 1 else node(tuple(operands))

    def factor(self, depth: int) -> Node:
        token = self.peek()
        if self.keyword("not") or token.kind == "(":
            if depth == MAX_DEPTH:
                self.fail(token.start, f"expected at most {MAX_DEPTH} levels of parentheses "
                                       "and NOT")
            self.next()
            if token.kind == "word":
                return Not(self.factor(depth + 1))
            node = self.expr(depth + 1)
            if self.peek().kind != ")":
                self.unexpected("expected AND, OR or ')'")
            self.next()
            return node
        if token.kind == "word" and token.text.lower() in METRICS:
            return self.comparison()
        if token.kind == "word" and _NAME.fullmatch(token.text) and not self.keyword("and", "or"):
            self.fail(token.start, f"unknown metric {quoted(token.text)}; metrics are "
                                   f"{', '.join(sorted(METRICS))}")
        self.unexpected("expected a metric, NOT or '('")

    def comparison(self) -> Compare:
        name_token = self.next()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            self.fail(name_token.start, f"expected at most {MAX_COMPARISONS} comparisons")
        metric, bracketed = self.metric(name_token.text.lower())
        op = self.peek()
        if op.kind != "op":
            either = "" if bracketed else "'(' or "
            self.unexpected(f"expected {either}a comparison ({_LISTED_OPERATORS})")
        self.next()
        literal = self.peek()
        if not self.number(literal):
            self.unexpected(f"expected a number after {op.text!r}")
        self.next()
        if metric.name in MONEY_METRICS:
            return Compare(metric, op.text, Fraction(self.money(literal)))
        return Compare(metric, op.text, self.exact(literal))

    def metric(self, name: str) -> tuple[Metric, bool]:
        """The metric whose name was just read, and whether its arguments
        were in parentheses."""
        takes = METRICS[name]
        args: dict[str, int | str] = {}
        bracketed = self.peek().kind == "("
        if bracketed:
            self.next()
            if self.peek().kind != ")":
                self.argument(name, args, f"expected an argument ({', '.join(takes)}) or ')'")
                while self.peek().kind == ",":
                    self.next()
                    self.argument(name, args, f"expected an argument ({', '.join(takes)})")
                if self.peek().kind != ")":
                    self.unexpected("expected ',' or ')'")
            missing_at = self.next().start
        else:
            missing_at = self.peek().start
        needs = REQUIRED.get(name, ())
        for arg in needs:
            if arg not in args:
                what = f"the argument {arg}" if bracketed else "'('"
                self.fail(missing_at, f"expected {what}; {name} needs {' and '.join(needs)}")
        if "days" in takes:
            args.setdefault("days", DEFAULT_DAYS)
        # Each value has its argument's type (argument() parsed it so).
        return Metric(name, **args), bracketed  # type: ignore[arg-type]

    def argument(self, metric: str, args: dict[str, int | str], expected: str) -> None:
        token = self.peek()
        if token.kind != "word" or not _NAME.fullmatch(token.text):
            self.unexpected(expected)
        name = token.text.lower()
        if name not in METRICS[metric]:
            self.fail(token.start, f"unknown argument {quoted(token.text)} of {metric}; "
                                   f"it takes {', '.join(METRICS[metric])}")
        if name in args:
            self.fail(token.start, f"expected each argument once; {name} is given twice")
        self.next()
        if self.peek().kind != "=":
            self.unexpected(f"expected '=' after {name}")
        self.next()
        value = self.peek()
        if name == "days":
            args[name] = self.whole(value, "days", MIN_DAYS, MAX_DAYS)
        elif name == "months":
            args[name] = self.whole(value, "months", MIN_MONTHS, MAX_MONTHS)
        elif name == "threshold":
            if not self.number(value):
                self.unexpected("expected a number after threshold=")
            args[name] = self.money(value)
        else:
            text = self.word(value, "a label group" if name == "group" else "an account type")
            if name == "group":
                self.groups.append((text, value.start))
            elif text not in ACCOUNT_TYPE_CODES:
                self.fail(value.start, f"unknown account type {quoted(text)}; types are "
                                       f"{', '.join(ACCOUNT_TYPE_CODES)}")
            args[name] = text
        self.next()

    # Values: each checks the token under the cursor, which the caller skips.

    def whole(self, token: _Token, name: str, low: int, high: int) -> int:
        digits = token.text.lstrip("0") if token.kind == "word" else ""
        if (token.kind == "word" and _WHOLE.fullmatch(token.text)
                and len(digits) <= len(str(high)) and low <= int(digits or "0") <= high):
            return int(digits or "0")
        self.fail(token.start, f"expected {name} as a whole number from {low} to {high}")

    def word(self, token: _Token, what: str) -> str:
        if token.kind == "string":
            if token.error:
                self.fail(*token.error)
            return token.text
        if token.kind != "word":
            self.fail(token.start, f"expected {what} (a name or a quoted string)")
        return token.text

    def number(self, token: _Token) -> bool:
        """Whether the token is a number literal; one with too many digits
        is an error here."""
        found = _NUMBER.fullmatch(token.text) if token.kind == "word" else None
        if found is None:
            return False
        _, whole, decimals = found.groups()
        if len(whole.lstrip("0")) + len((decimals or "").rstrip("0")) > MAX_DIGITS:
            self.fail(token.start, f"expected a number of at most {MAX_DIGITS} significant "
                                   "digits")
        return True

    def exact(self, token: _Token) -> Fraction:
        sign, whole, decimals = _parts(token.text)
        decimals = decimals.rstrip("0")
        return Fraction(int(sign + (whole or "0") + decimals), 10 ** len(decimals))

    def money(self, token: _Token) -> int:
        """Minor units of a number literal in major units."""
        sign, whole, decimals = _parts(token.text)
        if len(decimals) > self.exponent:
            self.fail(token.start, f"{token.text} has more decimals than {self.currency} has "
                                   f"({_decimals(self.exponent)})")
        minor = int(sign + (whole or "0") + decimals.ljust(self.exponent, "0"))
        if abs(minor) > MAX_ABS_AMOUNT:
            self.fail(token.start, f"expected an amount within ±"
                                   f"{_major(MAX_ABS_AMOUNT, self.exponent)} (10^15 minor "
                                   "units)")
        return minor

    # The cursor.

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def next(self) -> _Token:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def unexpected(self, expected: str) -> NoReturn:
        """Fails at the token under the cursor. (A malformed string fails
        at its start here: a string can only continue as a group or type
        value, where word() names the fault inside it.)"""
        self.fail(self.peek().start, expected)

    def fail(self, at: int, message: str) -> NoReturn:
        # The message names the field like every other error of a request;
        # the violation, which carries the field, only where and what.
        text = f"at {at}: {message}"
        raise InvalidArgument(f"{self.field} {text}", [Violation(self.field, text)],
                              reason=Reason.INVALID_RULE,
                              metadata={"position": str(at)})


def _parts(literal: str) -> tuple[str, str, str]:
    """(sign, whole digits without leading zeros, decimals) of a literal
    that number() accepted."""
    found = _NUMBER.fullmatch(literal)
    assert found is not None
    sign, whole, decimals = found.groups()
    return sign, whole.lstrip("0"), decimals or ""
