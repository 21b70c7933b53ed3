"""What ids and names may contain (issue 12).

Ids (accounts, users, transactions) and names (labels, taxonomy groups and
aliases) are printed, compared and used as keys, so they may not hold
characters that are invisible or break lines: Unicode's control, format,
surrogate, line and paragraph separator characters (U+0000, U+200B, U+FEFF,
U+2028, ...). Free text from the bank's records (a transaction's purpose
and counterparty name) is kept as sent.

The check is one RE2 regex run by Arrow over many values at once; only the
values that fail are looked at one by one, to name their first such
character.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The categories refused, and how a message calls a character of each.
FORBIDDEN_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
FORBIDDEN = "[" + "".join(rf"\p{{{c}}}" for c in FORBIDDEN_CATEGORIES) + "]"
RULE = "ids and names may not contain control, format, separator or surrogate characters"


def unprintable(values: pa.Array) -> np.ndarray:
    """bool per value: whether it holds a forbidden character."""
    found = pc.fill_null(pc.match_substring_regex(values, FORBIDDEN), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def why_unprintable(values: pa.Array) -> list[str]:
    """For values that each hold a forbidden character: the violation's
    description, naming the first one (as RE2 found it)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(pa.string())
    first = pc.struct_field(pc.extract_regex(values, f"(?P<c>{FORBIDDEN})"), [0])
    return [_describe(char or "") for char in first.to_pylist()]


def _describe(char: str) -> str:
    if not char:  # not expected: the values were chosen by the same regex
        return f"contains a forbidden character; {RULE}"
    kind = FORBIDDEN_CATEGORIES.get(unicodedata.category(char), "a forbidden character")
    return f"contains U+{ord(char):04X} ({kind}); {RULE}"


def unprintable_names(names: Sequence[str]) -> dict[int, str]:
    """Index -> description of each name that holds a forbidden character."""
    values = pa.array(names, pa.string())
    bad = np.nonzero(unprintable(values))[0]
    if bad.size == 0:
        return {}
    return dict(zip(bad.tolist(), why_unprintable(values.take(pa.array(bad))), strict=True))
