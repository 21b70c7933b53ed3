"""What every segment type shares: its request, the account filter, the walk
over a snapshot's blocks with progress and cancellation, and the members
table (one row per user, ordered by user_id, accounts ordered by id)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import Cancelled, InvalidArgument, Reason, Violation, quoted
from ...kernels import slots
from ...storage.store import Snapshot
from ...storage.transactions import Block
from ..model import ACCOUNT_TYPE_CODES, CURRENCY_EXPONENTS
from ..taxonomy import Taxonomy


@dataclass(frozen=True)
class Common:
    """Parameters of every segment type."""

    account_types: tuple[str, ...]
    as_of: dt.date


@dataclass(frozen=True)
class Threshold:
    currency: str
    amount: int


@dataclass
class Progress:
    """Reports the share of rows processed and stops the job on cancel."""

    report: Callable[[float], None]
    cancelled: Callable[[], bool]


def parse_threshold(raw: Any, field: str) -> Threshold:
    if not isinstance(raw, dict) or not raw.get("currency"):
        raise InvalidArgument(f"{field}.currency is required: an ISO 4217 code such as EUR",
                              [Violation(f"{field}.currency", "is required")],
                              reason=Reason.INVALID_SPEC)
    return Threshold(parse_currency(raw["currency"], f"{field}.currency"),
                     int(raw.get("amount", 0)))


def parse_currency(currency: Any, field: str) -> str:
    """A currency code finseg knows (there is no FX: amounts of other
    currencies are never compared or added)."""
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidArgument(f"{field} {quoted(str(currency))} is not an ISO 4217 "
                              "currency code", [Violation(field, "must be an ISO 4217 code")],
                              reason=Reason.INVALID_SPEC)
    return str(currency)


def parse_date(raw: Any, field: str) -> dt.date:
    """A required "YYYY-MM-DD" date; fromisoformat alone would also take
    "20260325" and week dates."""
    text = raw if isinstance(raw, str) else ""
    if len(text) == 10 and text[4] == text[7] == "-":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    why = "is required: a date YYYY-MM-DD" if not text else "must be a date YYYY-MM-DD"
    raise InvalidArgument(f"{field} {why}, e.g. 2026-03-25", [Violation(field, why)],
                          reason=Reason.INVALID_SPEC)


def parse_count(raw: Any, field: str, upper: int) -> int:
    """A required whole number from 1 to `upper`: months, days."""
    count = int(raw or 0)
    if not 1 <= count <= upper:
        raise InvalidArgument(f"{field} must be between 1 and {upper}, got {count}",
                              [Violation(field, f"must be between 1 and {upper}")],
                              reason=Reason.INVALID_SPEC)
    return count


parse_months = parse_count


def parse_label_groups(raw: dict[str, Any], field: str, taxonomy: Taxonomy | None,
                       upper: int, required: bool
                       ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """(groups as requested, the taxonomy nodes they stand for, the
    taxonomy's aliases) of raw["label_groups"]: at most `upper` distinct
    groups, at least one if `required`. A new request is resolved against
    the tenant's taxonomy; a stored job's params carry the resolution made
    when it was created (its "nodes"), so a later taxonomy does not change
    it."""
    groups = tuple(str(g) for g in raw.get("label_groups") or [])
    if required and not groups:
        raise InvalidArgument(f"{field} must name at least one label group",
                              [Violation(field, "is required")], reason=Reason.INVALID_SPEC)
    if len(groups) > upper or len(set(groups)) != len(groups):
        allowed = f"1 to {upper}" if required else f"at most {upper}"
        raise InvalidArgument(f"{field} takes {allowed} groups, no repeats",
                              [Violation(field, f"{allowed} distinct groups")],
                              reason=Reason.INVALID_SPEC)
    if "nodes" in raw:
        return groups, tuple(raw["nodes"]), dict(raw["aliases"])
    assert taxonomy is not None, "a new request is checked against the tenant's taxonomy"
    nodes = tuple(taxonomy.group(g, f"{field}[{i}]") for i, g in enumerate(groups))
    return groups, nodes, dict(taxonomy.aliases)


def eligible_accounts(snapshot: Snapshot, common: Common, currency: str | None = None
                      ) -> np.ndarray:
    """Accounts that pass the request's filters: not erased, of an allowed
    type, and, for a threshold, in its currency (there is no FX)."""
    accounts = snapshot.accounts
    mask = ~accounts["deleted"]
    if currency is not None:
        # Byte by byte: comparing a million S3 codes as strings took 3 ms.
        raw = np.ascontiguousarray(accounts["currency"]).view(np.uint8).reshape(-1, 3)
        for k, byte in enumerate(currency.encode().ljust(3, b"\0")[:3]):
            mask &= raw[:, k] == byte
    if common.account_types:
        codes = [ACCOUNT_TYPE_CODES[t] for t in common.account_types]
        mask &= np.isin(accounts["type"], codes)
    return mask


AccountBlock = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def account_block(snapshot: Snapshot, eligible: np.ndarray, accounts: slice) -> AccountBlock:
    """The per-account kernel arguments of a block: balance, balance_date,
    opened_on, closed_on and the eligibility mask (views, no copies)."""
    acc = snapshot.accounts
    return (acc["balance"][accounts], acc["balance_date"][accounts], acc["opened_on"][accounts],
            acc["closed_on"][accounts], eligible[accounts])


def walk(snapshot: Snapshot, progress: Progress) -> Iterator[tuple[Block, slice]]:
    """Blocks of the snapshot with the slice of account columns each covers;
    reports progress by rows and checks for cancellation between blocks."""
    total = max(snapshot.n_transactions, 1)
    done = 0
    for block in snapshot.blocks():
        if progress.cancelled():
            raise Cancelled("the job was cancelled", reason=Reason.SEGMENT_CANCELLED)
        yield block, slice(block.first, block.first + block.count)
        done += block.rows
        progress.report(min(done / total, 0.99))
    if progress.cancelled():  # before the result is assembled
        raise Cancelled("the job was cancelled", reason=Reason.SEGMENT_CANCELLED)


@dataclass(frozen=True)
class Slots:
    """The (user, currency) pairs of the eligible accounts, numbered in
    result order: by user_id bytes, then currency. Types that add amounts up
    per user and currency accumulate straight into slots, so the result
    needs no grouping or sorting afterwards."""

    of_account: np.ndarray    # int64[n_accounts]: the account's slot, -1 if not eligible
    user: np.ndarray          # int64[n_slots]: user index
    user_starts: np.ndarray   # int64[n_users + 1]: slots of the k-th user, CSR
    slot_account: np.ndarray  # int64[n_slots]: an account of each slot
    codes: np.ndarray         # S3[n_accounts]: every account's currency

    @functools.cached_property
    def currency(self) -> np.ndarray:
        """S3[n_slots]: each slot's currency, taken when a type first asks
        (RFM and RULE never do; the take cost them 2 ms)."""
        return self.codes[self.slot_account]

    @property
    def count(self) -> int:
        return int(self.user.shape[0])

    @property
    def users(self) -> np.ndarray:
        """User indexes in result order, one per run of slots."""
        return self.user[self.user_starts[:-1]]

    @property
    def user_position(self) -> np.ndarray:
        """int64[n_slots]: the position of each slot's user in `users`."""
        return np.repeat(np.arange(self.user_starts.shape[0] - 1), np.diff(self.user_starts))


def user_currency_slots(snapshot: Snapshot, eligible: np.ndarray) -> Slots:
    accounts = snapshot.accounts
    keys = slots.currency_keys(accounts["currency"])
    chosen = keys[eligible]
    if chosen.size and bool((chosen == chosen[0]).all()):
        # One currency (most banks): a user is one slot, numbered without
        # the counting sort, three times faster for a million accounts.
        of_account, slot_account, user_starts = slots.number_user_slots(
            eligible, accounts["user"], snapshot.user_rank())
    else:
        of_account, slot_account, user_starts = slots.number_slots(
            eligible, accounts["user"], snapshot.user_rank(), keys)
    return _slots(snapshot, of_account, slot_account, user_starts)


def currency_user_slots(snapshot: Snapshot, common: Common, currency: str) -> Slots:
    """The slots of the eligible accounts in `currency`: one per user, so
    they are numbered without sorting."""
    of_account, slot_account, user_starts = slots.number_user_slots(
        eligible_accounts(snapshot, common, currency), snapshot.accounts["user"],
        snapshot.user_rank())
    return _slots(snapshot, of_account, slot_account, user_starts)


def _slots(snapshot: Snapshot, of_account: np.ndarray, slot_account: np.ndarray,
           user_starts: np.ndarray) -> Slots:
    accounts = snapshot.accounts
    return Slots(of_account, accounts["user"][slot_account].astype(np.int64), user_starts,
                 slot_account, accounts["currency"])


def nest(snapshot: Snapshot, users: np.ndarray, user_rows: np.ndarray, list_name: str,
         rows: dict[str, pa.Array]) -> pa.Table:
    """Rows already in result order nested per user: `users` (user indexes,
    ordered by user_id) with `user_rows` rows each, zero counts allowed."""
    keep = user_rows > 0
    offsets = np.concatenate([[0], np.cumsum(user_rows[keep])]).astype(np.int32)
    struct = pa.StructArray.from_arrays(list(rows.values()), names=list(rows))
    return pa.table({"user_id": snapshot.user_ids(users[keep]),
                     list_name: pa.ListArray.from_arrays(pa.array(offsets), struct)})


def members_table(snapshot: Snapshot, accounts: np.ndarray, fields: dict[str, pa.Array],
                  ) -> pa.Table:
    """One row per user: user_id and the list of their accounts, each with
    account_id, currency and `fields` (aligned with `accounts`)."""
    return by_user(snapshot, snapshot.accounts["user"][accounts],
                   snapshot.account_rank()[accounts], "accounts", {
                       "account_id": snapshot.account_ids(accounts),
                       "currency": currency_array(snapshot.accounts["currency"][accounts]),
                       **fields})


def currency_array(codes: np.ndarray, at: np.ndarray | None = None) -> pa.Array:
    """Currency codes (numpy S3), or codes[at], as an Arrow dictionary of
    strings: the few distinct codes are found by hashing integer keys
    (np.unique's sort of millions of byte strings took most of this) and
    decoded once, not once per row, and each row keeps the number of its
    code (the encoder copies the code's bytes; no string column of millions
    of rows is built). `at` picks rows after the hashing, so a result of
    millions of rows over a few hundred thousand slots hashes the slots."""
    encoded = pa.array(slots.currency_keys(codes)).dictionary_encode()
    names = pa.array([bytes([k >> 16 & 0xFF, k >> 8 & 0xFF, k & 0xFF]).rstrip(b"\0").decode()
                      for k in encoded.dictionary.to_pylist()], pa.string())
    indices = encoded.indices if at is None else pa.array(encoded.indices.to_numpy()[at])
    return pa.DictionaryArray.from_arrays(indices, names)


def by_user(snapshot: Snapshot, users: np.ndarray, row_rank: np.ndarray, list_name: str,
            rows: dict[str, pa.Array]) -> pa.Table:
    """Rows (aligned with the user indexes `users`) nested per user: one row
    per user with user_id and the list `list_name` of their rows, users
    ordered by user_id and each list by `row_rank` (distinct int64 >= 0)."""
    n = users.shape[0]
    # Integer ranks cached per snapshot version (Catalog), not strings
    # sorted for every job: the sort is of one int64 key per row.
    user_rank = snapshot.user_rank()[users]
    span = int(row_rank.max()) + 1 if n else 1
    order = np.argsort(user_rank * span + row_rank)
    sorted_user = user_rank[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_user)) + 1]) if n \
        else np.zeros(0, np.int64)
    offsets = pa.array(np.concatenate([starts, [n]]).astype(np.int32))
    take = pa.array(order)
    struct = pa.StructArray.from_arrays([rows[name].take(take) for name in rows],
                                        names=list(rows))
    return pa.table({"user_id": snapshot.user_ids(users[order[starts]]),
                     list_name: pa.ListArray.from_arrays(offsets, struct)})
