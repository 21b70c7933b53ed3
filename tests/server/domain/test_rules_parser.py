"""The RULE expression language: parser, tree and canonical text (pure, no
server). Error offsets are written out: they are what a user is shown."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from finseg.server.domain import rules
from finseg.server.domain.model import ACCOUNT_TYPES, CURRENCY_EXPONENTS
from finseg.server.domain.rules import And, Compare, Metric, Not, Or, parse, to_text
from finseg.server.errors import InvalidArgument, Reason

EUR = CURRENCY_EXPONENTS["EUR"]
JPY = CURRENCY_EXPONENTS["JPY"]
FREQ = Metric("frequency", days=30)
RECENCY = Metric("recency", days=30)
BALANCE = Metric("balance")


def tree(text: str, exponent: int = EUR) -> rules.Node:
    return parse(text, exponent).tree


def compare(metric: Metric, op: str, value: int | str) -> Compare:
    return Compare(metric, op, Fraction(value))


def error(text: str, exponent: int = EUR, currency: str | None = None) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse(text, exponent, currency=currency)
    message = caught.value.message
    assert message.startswith("spec.rule.expression at "), message
    return message.removeprefix("spec.rule.expression ")


def test_the_specs_example() -> None:
    got = tree("frequency(days=30) > 3 AND avg_spend(days=30) > 50")
    assert got == And((compare(FREQ, ">", 3), compare(Metric("avg_spend", days=30), ">", 5000)))
    assert to_text(got, EUR) == "frequency(days=30) > 3 AND avg_spend(days=30) > 50.00"


def test_the_canonical_text_of_a_mixed_tree() -> None:
    text = "frequency > 3 and (recency < 5 or not balance >= 0)"
    assert to_text(tree(text), EUR) == \
        "frequency(days=30) > 3 AND (recency(days=30) < 5 OR NOT balance() >= 0.00)"


@pytest.mark.parametrize("op", rules.OPERATORS)
@pytest.mark.parametrize("spacing", ["{m}{op}{n}", "{m} {op} {n}", "{m}\t{op}\n{n}"])
def test_every_operator_parses_with_and_without_space(op: str, spacing: str) -> None:
    got = tree(spacing.format(m="frequency", op=op, n="3"))
    assert got == compare(FREQ, op, 3)
    got = tree(spacing.format(m="balance()", op=op, n="-1.5"))
    assert got == compare(BALANCE, op, -150)


def test_each_operator_is_the_longest_one_written() -> None:
    """`>=` is one operator, never `>` and a stray `=`; `=` alone is none."""
    assert tree("frequency>=3") == compare(FREQ, ">=", 3)
    assert tree("frequency<=-3") == compare(FREQ, "<=", -3)
    assert error("frequency = 3") == \
        "at 10: expected '(' or a comparison (>, >=, <, <=, == or !=)"
    assert error("frequency => 3") == \
        "at 10: expected '(' or a comparison (>, >=, <, <=, == or !=)"
    assert error("frequency <> 3") == "at 11: expected a number after '<'"


A, B, C, D = (compare(FREQ, ">", n) for n in range(1, 5))


@pytest.mark.parametrize("text, expected", [
    ("frequency > 1 OR frequency > 2 AND frequency > 3", Or((A, And((B, C))))),
    ("frequency > 1 AND frequency > 2 OR frequency > 3 AND frequency > 4",
     Or((And((A, B)), And((C, D))))),
    ("NOT frequency > 1 AND frequency > 2", And((Not(A), B))),
    ("NOT frequency > 1 OR frequency > 2", Or((Not(A), B))),
    ("NOT (frequency > 1 AND frequency > 2)", Not(And((A, B)))),
    ("NOT NOT frequency > 1", Not(Not(A))),
    ("(frequency > 1 OR frequency > 2) AND frequency > 3", And((Or((A, B)), C))),
    ("frequency > 1 AND frequency > 2 AND frequency > 3", And((A, B, C))),
    ("frequency > 1 OR frequency > 2 OR frequency > 3", Or((A, B, C))),
    ("(frequency > 1 AND frequency > 2) AND frequency > 3", And((And((A, B)), C))),
    ("frequency > 1 AND (frequency > 2 AND frequency > 3)", And((A, And((B, C))))),
    ("((frequency > 1))", A),
])
def test_precedence_is_not_then_and_then_or(text: str, expected: rules.Node) -> None:
    assert tree(text) == expected
    assert tree(to_text(expected, EUR)) == expected


def test_explicit_nesting_is_kept_in_the_canonical_text() -> None:
    assert to_text(And((And((A, B)), C)), EUR) == \
        "(frequency(days=30) > 1 AND frequency(days=30) > 2) AND frequency(days=30) > 3"
    assert to_text(Or((A, Or((B, C)))), EUR) == \
        "frequency(days=30) > 1 OR (frequency(days=30) > 2 OR frequency(days=30) > 3)"
    assert to_text(Or((A, And((B, C)))), EUR) == \
        "frequency(days=30) > 1 OR frequency(days=30) > 2 AND frequency(days=30) > 3"
    assert to_text(Not(Or((A, B))), EUR) == \
        "NOT (frequency(days=30) > 1 OR frequency(days=30) > 2)"


def test_keywords_metric_and_argument_names_ignore_case() -> None:
    got = tree('FREQUENCY(DAYS=7, Group=INCOME) > 1 and NoT Spend(tYpE="SAVINGS") < 3 '
               "Or recency > 1")
    assert got == Or((And((compare(Metric("frequency", days=7, group="INCOME"), ">", 1),
                           Not(compare(Metric("spend", days=30, type="SAVINGS"), "<", 300)))),
                      compare(RECENCY, ">", 1)))


def test_group_and_type_values_keep_their_case() -> None:
    assert tree("frequency(group=income) > 1") != tree("frequency(group=INCOME) > 1")
    assert tree("frequency(group=Income.Salary) > 1") == \
        compare(Metric("frequency", days=30, group="Income.Salary"), ">", 1)
    assert error("frequency(type=checking) > 1").startswith("at 15: unknown account type")


def test_two_spellings_of_one_metric_are_one_metric() -> None:
    rule = parse('frequency > 3 AND FREQUENCY(days=30) < 10 AND Frequency ( ) != 5 '
                 'AND frequency(days=030) > 0 AND frequency(group="INCOME") > 1 '
                 'AND frequency(GROUP=INCOME, days=30) > 2', EUR)
    assert rules.metrics(rule.tree) == [FREQ, Metric("frequency", days=30, group="INCOME")]
    assert [m.text(EUR) for m in rules.metrics(rule.tree)] == \
        ["frequency(days=30)", "frequency(days=30, group=INCOME)"]


def test_metrics_are_listed_in_order_of_first_appearance() -> None:
    got = tree("recency > 1 OR NOT (balance > 1 AND frequency > 2) OR recency(days=30) < 3")
    assert rules.metrics(got) == [RECENCY, BALANCE, FREQ]


@pytest.mark.parametrize("text, metric", [
    ("frequency", FREQ),
    ("frequency()", FREQ),
    ("spend", Metric("spend", days=30)),
    ("avg_spend(type=CHECKING)", Metric("avg_spend", days=30, type="CHECKING")),
    ("income(days=1)", Metric("income", days=1)),
    ("recency(days=3660)", Metric("recency", days=3660)),
    ("balance", BALANCE),
    ("balance(type=LOAN)", Metric("balance", type="LOAN")),
    ("low_balance_months(months=3, threshold=0)",
     Metric("low_balance_months", threshold=0, months=3)),
    ("low_balance_months(threshold=-100, months=24, type=SAVINGS)",
     Metric("low_balance_months", type="SAVINGS", threshold=-10000, months=24)),
])
def test_defaults_are_filled_in(text: str, metric: Metric) -> None:
    got = tree(f"{text} > 0")
    assert isinstance(got, Compare) and got.metric == metric


@pytest.mark.parametrize("metric, exponent, text", [
    (BALANCE, EUR, "balance()"),
    (Metric("balance", type="CHECKING"), EUR, "balance(type=CHECKING)"),
    (Metric("frequency", days=30, group="INCOME"), EUR, "frequency(days=30, group=INCOME)"),
    (Metric("spend", days=7, group="INCOME.SALARY", type="CREDIT_CARD"), EUR,
     "spend(days=7, group=INCOME.SALARY, type=CREDIT_CARD)"),
    (Metric("spend", days=7, group='a "b" \\ c'), EUR, 'spend(days=7, group="a \\"b\\" \\\\ c")'),
    (Metric("spend", days=7, group=""), EUR, 'spend(days=7, group="")'),
    (Metric("low_balance_months", threshold=0, months=3), EUR,
     "low_balance_months(threshold=0.00, months=3)"),
    (Metric("low_balance_months", threshold=5, months=3), JPY,
     "low_balance_months(threshold=5, months=3)"),
    (Metric("low_balance_months", type="LOAN", threshold=-10050, months=1), EUR,
     "low_balance_months(type=LOAN, threshold=-100.50, months=1)"),
    (Metric("low_balance_months", threshold=-5, months=1), EUR,
     "low_balance_months(threshold=-0.05, months=1)"),
])
def test_canonical_metric_text(metric: Metric, exponent: int, text: str) -> None:
    assert metric.text(exponent) == text
    got = tree(f"{text} > 0", exponent)
    assert isinstance(got, Compare) and got.metric == metric


def test_money_literals_are_minor_units_of_the_currency() -> None:
    assert tree("spend > 50.5") == compare(Metric("spend", days=30), ">", 5050)
    assert tree("spend > 50", JPY) == compare(Metric("spend", days=30), ">", 50)
    assert tree("income >= -0.01") == compare(Metric("income", days=30), ">=", -1)
    assert tree("balance < 1.234", 3) == compare(BALANCE, "<", 1234)
    assert to_text(tree("spend > 50.5"), EUR) == "spend(days=30) > 50.50"
    assert to_text(tree("balance < -0"), JPY) == "balance() < 0"


def test_count_literals_are_exact() -> None:
    assert tree("frequency > 2.5") == Compare(FREQ, ">", Fraction(5, 2))
    assert tree("recency < 007.500") == Compare(RECENCY, "<", Fraction(15, 2))
    assert tree("frequency > 0.000000000000000001") == Compare(FREQ, ">", Fraction(1, 10**18))
    assert tree("frequency > 000000000000000000000123.45000000000000000000") == \
        Compare(FREQ, ">", Fraction(12345, 100))
    assert to_text(Compare(FREQ, ">", Fraction(-1, 8)), EUR) == "frequency(days=30) > -0.125"
    assert to_text(tree("recency < 007.500"), JPY) == "recency(days=30) < 7.5"
    assert to_text(tree("frequency == -0"), EUR) == "frequency(days=30) == 0"


def test_group_values_are_kept_with_their_offsets() -> None:
    rule = parse('frequency(group=INCOME) > 1 AND spend(days=3, group="a b") > 2 '
                 "AND income(group=INCOME) > 0", EUR)
    assert rule.group_positions == (("INCOME", 16), ("a b", 52), ("INCOME", 80))
    assert parse("balance > 0", EUR).group_positions == ()


def test_trees_and_rules_are_hashable_values() -> None:
    text = "frequency(group=X) > 1 AND NOT (recency < 2 OR balance() > 3)"
    assert parse(text, EUR) == parse(text, EUR)
    assert hash(parse(text, EUR)) == hash(parse(text, EUR))
    assert len({tree(text), tree(to_text(tree(text), EUR))}) == 1


def test_an_error_carries_the_reason_field_and_position() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse("frequency > 3 x", EUR, "spec.rule")
    err = caught.value
    assert err.code == "INVALID_ARGUMENT" and err.reason == Reason.INVALID_RULE
    assert err.message == "spec.rule at 14: expected AND, OR or the end"
    assert [(v.field, v.description) for v in err.violations] == [
        ("spec.rule", "at 14: expected AND, OR or the end")]
    assert err.metadata == {"position": "14"}
    with pytest.raises(InvalidArgument) as caught:
        parse("x", EUR)
    assert caught.value.violations[0].field == "spec.rule.expression"


TYPES = ", ".join(ACCOUNT_TYPES)
METRIC_NAMES = "avg_spend, balance, frequency, income, low_balance_months, recency, spend"
OPS = "(>, >=, <, <=, == or !=)"


@pytest.mark.parametrize("text, message", [
    # Where an expression may end, or not.
    ("frequency > 3 x", "at 14: expected AND, OR or the end"),
    ("frequency > 3)", "at 13: expected AND, OR or the end"),
    ("frequency > 3 & balance > 1", "at 14: expected AND, OR or the end"),
    ("frequency > 3 AND", "at 17: expected a metric, NOT or '('"),
    ("frequency > 3 AND OR balance > 1", "at 18: expected a metric, NOT or '('"),
    ("NOT", "at 3: expected a metric, NOT or '('"),
    ("()", "at 1: expected a metric, NOT or '('"),
    ("5 > 3", "at 0: expected a metric, NOT or '('"),
    ('"frequency" > 3', "at 0: expected a metric, NOT or '('"),
    ("", "at 0: expected a metric, NOT or '('"),
    ("  \t\n ", "at 0: expected a metric, NOT or '('"),
    ("(frequency > 3", "at 14: expected AND, OR or ')'"),
    ("((frequency > 3) AND (balance > 1)", "at 34: expected AND, OR or ')'"),
    ("(frequency > 3 x)", "at 15: expected AND, OR or ')'"),
    # Comparisons and their numbers.
    ("frequency 3", f"at 10: expected '(' or a comparison {OPS}"),
    ("frequency() 3", f"at 12: expected a comparison {OPS}"),
    ("frequency ≥ 3", f"at 10: expected '(' or a comparison {OPS}"),
    ("frequency", f"at 9: expected '(' or a comparison {OPS}"),
    ("frequency >", "at 11: expected a number after '>'"),
    ("frequency(days=30) > 3 AND spend >= AND", "at 36: expected a number after '>='"),
    ("frequency(days=30) > 3 AND spend != x", "at 36: expected a number after '!='"),
    ("frequency > +5", "at 12: expected a number after '>'"),
    ("frequency > .5", "at 12: expected a number after '>'"),
    ("frequency > 1e3", "at 12: expected a number after '>'"),
    ("frequency > 1.", "at 12: expected a number after '>'"),
    ("frequency > 1.2.3", "at 12: expected a number after '>'"),
    ("frequency > - 5", "at 12: expected a number after '>'"),
    ("frequency > --5", "at 12: expected a number after '>'"),
    ("frequency > 3AND balance > 1", "at 12: expected a number after '>'"),
    ('frequency > "3"', "at 12: expected a number after '>'"),
    ("frequency > 1234567890123456789",
     "at 12: expected a number of at most 18 significant digits"),
    ("frequency > 0.1234567890123456789",
     "at 12: expected a number of at most 18 significant digits"),
    ("frequency > 1234567890.123456789",
     "at 12: expected a number of at most 18 significant digits"),
    # Metrics and arguments.
    ("freq > 3", f"at 0: unknown metric 'freq'; metrics are {METRIC_NAMES}"),
    ("frequency > 3 AND Spending > 1", f"at 18: unknown metric 'Spending'; metrics are "
                                       f"{METRIC_NAMES}"),
    ("frequency(dayz=3) > 1", "at 10: unknown argument 'dayz' of frequency; it takes days, "
                              "group, type"),
    ("balance(days=3) > 1", "at 8: unknown argument 'days' of balance; it takes type"),
    ("spend(months=3) > 1", "at 6: unknown argument 'months' of spend; it takes days, group, "
                            "type"),
    ("low_balance_months(days=3) > 1", "at 19: unknown argument 'days' of low_balance_months; "
                                       "it takes type, threshold, months"),
    ("frequency(days=3, DAYS=4) > 1", "at 18: expected each argument once; days is given "
                                      "twice"),
    ("balance(type=LOAN, type=LOAN) > 1", "at 19: expected each argument once; type is given "
                                          "twice"),
    ("frequency(, days=3) > 1", "at 10: expected an argument (days, group, type) or ')'"),
    ("frequency(3) > 1", "at 10: expected an argument (days, group, type) or ')'"),
    ("frequency(days=3,) > 1", "at 17: expected an argument (days, group, type)"),
    ("frequency(days=3 group=X) > 1", "at 17: expected ',' or ')'"),
    ("frequency(days=30", "at 17: expected ',' or ')'"),
    ("frequency(days", "at 14: expected '=' after days"),
    ("frequency(days==3) > 1", "at 14: expected '=' after days"),
    ("frequency(days 3) > 1", "at 15: expected '=' after days"),
    # Required arguments of low_balance_months.
    ("low_balance_months(months=3) > 1", "at 27: expected the argument threshold; "
                                         "low_balance_months needs threshold and months"),
    ("low_balance_months(threshold=0) > 1", "at 30: expected the argument months; "
                                            "low_balance_months needs threshold and months"),
    ("low_balance_months() > 1", "at 19: expected the argument threshold; "
                                 "low_balance_months needs threshold and months"),
    ("low_balance_months > 1", "at 19: expected '('; low_balance_months needs threshold and "
                               "months"),
    ("low_balance_months(threshold=0, months=0) > 1",
     "at 39: expected months as a whole number from 1 to 24"),
    ("low_balance_months(threshold=0, months=25) > 1",
     "at 39: expected months as a whole number from 1 to 24"),
    ("low_balance_months(threshold=0, months=1.0) > 1",
     "at 39: expected months as a whole number from 1 to 24"),
    ("low_balance_months(threshold=, months=1) > 1",
     "at 29: expected a number after threshold="),
    ("low_balance_months(threshold=+1, months=1) > 1",
     "at 29: expected a number after threshold="),
    # Days.
    ("frequency(days=0) > 1", "at 15: expected days as a whole number from 1 to 3660"),
    ("frequency(days=3661) > 1", "at 15: expected days as a whole number from 1 to 3660"),
    ("frequency(days=-1) > 1", "at 15: expected days as a whole number from 1 to 3660"),
    ("frequency(days=1.5) > 1", "at 15: expected days as a whole number from 1 to 3660"),
    ("frequency(days=99999999999999999999999) > 1",
     "at 15: expected days as a whole number from 1 to 3660"),
    ('frequency(days="30") > 1', "at 15: expected days as a whole number from 1 to 3660"),
    ("frequency(days=) > 1", "at 15: expected days as a whole number from 1 to 3660"),
    # Groups, types and strings.
    ("frequency(type=checking) > 1", f"at 15: unknown account type 'checking'; types are "
                                     f"{TYPES}"),
    ('balance(type="CHECKING ") > 1', f"at 13: unknown account type 'CHECKING '; types are "
                                      f"{TYPES}"),
    ("frequency(type=) > 1", "at 15: expected an account type (a name or a quoted string)"),
    ("frequency(group=) > 1", "at 16: expected a label group (a name or a quoted string)"),
    ("frequency(group=(a)) > 1", "at 16: expected a label group (a name or a quoted string)"),
    ('frequency(group="abc) > 1', "at 25: expected '\"' to end the string that starts at 16"),
    ('frequency(group="abc\\") > 1',
     "at 27: expected '\"' to end the string that starts at 16"),
    ('frequency(group="abc\\', "at 21: expected '\"' to end the string that starts at 16"),
    ('frequency(group="a\\n") > 1', 'at 19: expected \\" or \\\\ after a backslash'),
    ('frequency > 1 OR frequency(group="x) > "', "at 40: expected ',' or ')'"),
    ('frequency > 1 "', "at 14: expected AND, OR or the end"),
])
def test_errors_name_the_offset_and_what_was_expected(text: str, message: str) -> None:
    assert error(text) == message


def test_an_unclosed_parenthesis_or_string_fails_at_the_end() -> None:
    for text in ("(frequency > 3", "((frequency > 3)", "NOT (balance > 1 OR (spend > 1)",
                 'frequency(group="INC', 'frequency(group="INC\\"'):
        assert error(text).startswith(f"at {len(text)}: expected ")


@pytest.mark.parametrize("text, exponent, currency, message", [
    ("spend > 50.505", EUR, "EUR", "at 8: 50.505 has more decimals than EUR has (2 decimals)"),
    ("spend > 50.500", EUR, "EUR", "at 8: 50.500 has more decimals than EUR has (2 decimals)"),
    ("spend > 1.5", JPY, "JPY", "at 8: 1.5 has more decimals than JPY has (no decimals)"),
    ("spend > 1.0", JPY, "JPY", "at 8: 1.0 has more decimals than JPY has (no decimals)"),
    ("balance > 1.2345", CURRENCY_EXPONENTS["BHD"], "BHD",
     "at 10: 1.2345 has more decimals than BHD has (3 decimals)"),
    ("spend > 50.505", EUR, None,
     "at 8: 50.505 has more decimals than the tenant's currency has (2 decimals)"),
    ("low_balance_months(threshold=0.001, months=1) > 0", EUR, "EUR",
     "at 29: 0.001 has more decimals than EUR has (2 decimals)"),
    ("low_balance_months(threshold=-0.5, months=1) > 0", JPY, "JPY",
     "at 29: -0.5 has more decimals than JPY has (no decimals)"),
    ("spend > 10000000000000.01", EUR, "EUR",
     "at 8: expected an amount within ±10000000000000.00 (10^15 minor units)"),
    ("income < -1000000000000001", JPY, "JPY",
     "at 9: expected an amount within ±1000000000000000 (10^15 minor units)"),
    ("low_balance_months(threshold=-10000000000001, months=1) > 0", EUR, "EUR",
     "at 29: expected an amount within ±10000000000000.00 (10^15 minor units)"),
])
def test_money_literals_beyond_the_currency(text: str, exponent: int, currency: str | None,
                                            message: str) -> None:
    assert error(text, exponent, currency) == message


def test_money_at_its_bounds_parses() -> None:
    assert tree("spend > 10000000000000.00") == \
        compare(Metric("spend", days=30), ">", 10**15)
    assert tree("balance < -1000000000000000", JPY) == compare(BALANCE, "<", -(10**15))
    assert tree("frequency > 999999999999999999") == compare(FREQ, ">", 10**18 - 1)


def comparisons(n: int) -> str:
    return " AND ".join(["frequency > 1"] * n)


def test_the_length_limit() -> None:
    text = comparisons(2)
    assert parse(text.ljust(rules.MAX_LENGTH), EUR)
    assert error(text.ljust(rules.MAX_LENGTH + 1)) == \
        "at 4096: expected at most 4,096 characters; the expression has 4,097"


def test_the_depth_limit() -> None:
    deep = "(" * 32 + "frequency > 1" + ")" * 32
    assert tree(deep) == compare(FREQ, ">", 1)
    assert error("(" + deep + ")") == \
        "at 32: expected at most 32 levels of parentheses and NOT"
    nots = "NOT " * 32 + "frequency > 1"
    assert parse(nots, EUR)
    assert error("NOT " + nots) == "at 128: expected at most 32 levels of parentheses and NOT"
    mixed = "NOT (" * 16 + "frequency > 1" + ")" * 16
    assert parse(mixed, EUR)
    assert error("NOT (" * 16 + "NOT frequency > 1" + ")" * 16) == \
        "at 80: expected at most 32 levels of parentheses and NOT"


def test_the_comparison_limit() -> None:
    assert parse(comparisons(64), EUR)
    # The 65th starts after 64 comparisons of 13 characters and their " AND ".
    assert error(comparisons(65)) == "at 1152: expected at most 64 comparisons"
    assert error(f"({comparisons(40)}) OR ({comparisons(25)})") == \
        "at 1154: expected at most 64 comparisons"


def test_huge_nesting_is_an_error_not_a_recursion_error(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    for text in ("(" * 100_000 + "frequency > 1" + ")" * 100_000, "NOT " * 100_000):
        assert error(text).startswith("at 4096: expected at most 4,096 characters")
    # Without the length limit the depth limit stops the parser as early.
    monkeypatch.setattr(rules, "MAX_LENGTH", 10**7)
    assert error("(" * 100_000 + "frequency > 1" + ")" * 100_000) == \
        "at 32: expected at most 32 levels of parentheses and NOT"
    assert error("NOT " * 100_000) == "at 128: expected at most 32 levels of parentheses and NOT"


def test_to_text_refuses_values_it_cannot_print_exactly() -> None:
    with pytest.raises(ValueError):
        to_text(Compare(FREQ, ">", Fraction(1, 3)), EUR)
    with pytest.raises(ValueError):
        to_text(Compare(BALANCE, ">", Fraction(1, 2)), EUR)


# Property tests.

WINDOWED = ["frequency", "spend", "avg_spend", "income", "recency"]
GROUPS = st.none() | st.text(max_size=10) | st.sampled_from(["INCOME", "INCOME.SALARY", "a-b"])
TYPES_OR_NONE = st.none() | st.sampled_from(ACCOUNT_TYPES)
MONEY = st.integers(-(10**15), 10**15)


@st.composite
def counts(draw: st.DrawFn) -> Fraction:
    """A decimal of at most 18 significant digits."""
    places = draw(st.integers(0, 18))
    return Fraction(draw(st.integers(-(10**18) + 1, 10**18 - 1)), 10**places)


METRIC_STRATEGY = st.one_of(
    st.builds(Metric, st.sampled_from(WINDOWED), days=st.integers(1, 3660), group=GROUPS,
              type=TYPES_OR_NONE),
    st.builds(Metric, st.just("balance"), type=TYPES_OR_NONE),
    st.builds(Metric, st.just("low_balance_months"), type=TYPES_OR_NONE, threshold=MONEY,
              months=st.integers(1, 24)),
)


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    metric = draw(METRIC_STRATEGY)
    value = Fraction(draw(MONEY)) if metric.name in rules.MONEY_METRICS else draw(counts())
    return Compare(metric, draw(st.sampled_from(rules.OPERATORS)), value)


def operands(children: st.SearchStrategy[rules.Node]) -> st.SearchStrategy[tuple[rules.Node, ...]]:
    return st.lists(children, min_size=2, max_size=4).map(tuple)


TREES = st.recursive(compares(), lambda children: st.one_of(
    st.builds(Not, children), operands(children).map(And), operands(children).map(Or)),
    max_leaves=12)


def depth(node: rules.Node) -> int:
    if isinstance(node, Compare):
        return 0
    if isinstance(node, Not):
        return 1 + depth(node.operand)
    return 1 + max(depth(o) for o in node.operands)


@settings(max_examples=200, deadline=None)
@given(TREES, st.sampled_from([EUR, JPY]))
def test_the_canonical_text_parses_back_to_the_tree(node: rules.Node, exponent: int) -> None:
    assume(depth(node) <= rules.MAX_DEPTH)
    text = to_text(node, exponent)
    assume(len(text) <= rules.MAX_LENGTH)
    assert parse(text, exponent).tree == node
    assert to_text(parse(text, exponent).tree, exponent) == text


FRAGMENTS = [*rules.METRICS, *rules.ARGUMENTS, "AND", "or", "Not", "(", ")", "=", ",", " ",
             *rules.OPERATORS, "!", "=", "30", "-1", "2.5", "0", "25", "1e3", ".5", "+", '"',
             "\\", "CHECKING", "INCOME", "x", "-", "."]
ALPHABET = st.sampled_from(sorted(set("".join(FRAGMENTS)))) | st.characters()


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A canonical text with a few slices replaced: errors deep inside."""
    text = to_text(draw(TREES), draw(st.sampled_from([EUR, JPY])))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 4)))
        piece = draw(st.sampled_from(FRAGMENTS) | st.text(ALPHABET, max_size=2))
        text = text[:start] + piece + text[end:]
    return text


TEXTS = st.one_of(
    mutated(),
    st.text(ALPHABET, max_size=60),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(ALPHABET, max_size=3), max_size=30)
    .map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join),
)


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.sampled_from([EUR, JPY]))
def test_any_text_parses_or_fails_with_a_position(text: str, exponent: int) -> None:
    try:
        rule = parse(text, exponent)
    except InvalidArgument as err:
        assert err.reason == Reason.INVALID_RULE
        head, _, _ = err.message.removeprefix("spec.rule.expression ").partition(":")
        assert head.startswith("at ") and head[3:].isdigit(), err.message
        assert 0 <= int(head[3:]) <= len(text)
        assert err.metadata == {"position": head[3:]}
    else:
        assert parse(to_text(rule.tree, exponent), exponent).tree == rule.tree
