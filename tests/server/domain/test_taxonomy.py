"""The label taxonomy against SPEC §1's rules for groups, aliases and names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.domain import taxonomy
from finseg.server.errors import InvalidArgument

DEFAULT = taxonomy.default()

SPEC_GROUPS = {
    "INCOME": ["SALARY", "PENSION", "BENEFITS", "CAPITALINCOME", "OTHER"],
    "RENTANDLIVING": ["RENT", "UTILITIES", "ENERGY", "TELECOM"],
    "INSURANCE": ["HEALTH", "CAR", "LIFE", "LIABILITY", "HOUSEHOLD", "LEGAL", "TRAVEL", "OTHER"],
    "LOANANDINTEREST": ["CARLOAN", "REALESTATELOAN", "CONSUMERLOAN"],
    **{top: [] for top in ("INVESTMENTS", "SAVINGS", "GROCERIES", "SHOPPING", "LEISURE",
                           "TRAVEL", "TRANSPORT", "CASH", "TAX", "BANKING", "TRANSFER",
                           "OTHER")},
}


def test_the_default_has_at_least_the_specs_groups():
    for top, children in SPEC_GROUPS.items():
        assert DEFAULT.group(top, "g") == top
        for child in children:
            assert DEFAULT.group(f"{top}.{child}", "g") == f"{top}.{child}"
    assert DEFAULT.group("SALARY", "g") == "INCOME.SALARY"


@pytest.mark.parametrize("group, label, inside", [
    ("INCOME", "SALARY", True),
    ("INCOME", "INCOME.SALARY", True),
    ("SALARY", "SALARY", True),
    ("SALARY", "INCOME.SALARY", True),
    ("SALARY", "SALARY.BONUS", True),
    ("INCOME.SALARY", "SALARY.BONUS", True),
    ("SALARY", "INCOME.PENSION", False),
    ("INCOME", "INCOMETAX", False),
    ("INSURANCE", "INSURANCE.PET", True),
    ("INSURANCE", "INSURANCE", True),
    ("INSURANCE.CAR", "INSURANCE", False),
    ("OTHER", "INCOME.OTHER", False),
    ("INCOME", "income.salary", False),  # labels are case-sensitive
    ("TRAVEL", "INSURANCE.TRAVEL", False),
])
def test_membership(group, label, inside):
    assert DEFAULT.contains(group, label) is inside


@pytest.mark.parametrize("name", ["INSURANCE.PET", "income", "INCOMETAX", "", "SALARY.BONUS"])
def test_unknown_groups_are_invalid_and_list_the_known_ones(name):
    with pytest.raises(InvalidArgument) as error:
        DEFAULT.group(name, "spec.financial_breakdown.label_groups[0]")
    assert error.value.violations[0].field == "spec.financial_breakdown.label_groups[0]"
    assert "INSURANCE.CAR" in error.value.message and "SALARY" in error.value.message


@pytest.mark.parametrize("raw, problem", [
    ({"groups": []}, "at least one group"),
    ({"groups": ["A", "A"]}, "repeats"),
    ({"groups": ["A.B"]}, "parent 'A'"),
    ({"groups": ["A B"]}, "without spaces"),
    ({"groups": ["A", "A..B"]}, "without spaces"),
    ({"groups": ["A"], "aliases": {"B": "C"}}, "not a group"),
    ({"groups": ["A", "B"], "aliases": {"B": "A"}}, "not a group"),
])
def test_a_replacement_taxonomy_is_checked(raw, problem):
    with pytest.raises(InvalidArgument, match=problem):
        taxonomy.parse(raw)


def test_a_tenant_taxonomy_with_its_own_alias():
    mine = taxonomy.parse({"groups": ["FOOD", "FOOD.GROCERIES"],
                           "aliases": {"GROCERIES": "FOOD.GROCERIES"}})
    assert mine.contains("FOOD", "GROCERIES") and mine.contains("GROCERIES", "FOOD.GROCERIES.BIO")
    with pytest.raises(InvalidArgument):
        mine.group("INCOME", "g")


labels = st.sampled_from(["SALARY", "INCOME", "INCOME.SALARY", "INCOMETAX", "INSURANCE.CAR",
                          "INSURANCE.PET.DOG", "SALARY.BONUS", "", "OTHER", "X"])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(labels, max_size=20), st.lists(st.sampled_from(
    ["INCOME", "SALARY", "INSURANCE", "INSURANCE.CAR", "OTHER"]), min_size=1, max_size=5))
def test_membership_matrix_matches_contains(labels_, groups):
    canonical = [DEFAULT.group(g, "g") for g in groups]
    matrix = DEFAULT.membership(canonical, labels_)
    for i, label in enumerate(labels_):
        for j, group in enumerate(canonical):
            assert matrix[i, j] == DEFAULT.contains(group, label)
