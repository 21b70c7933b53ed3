"""Result slots: the (user, currency) pairs that per-user results add up,
numbered in result order (user_id bytes, then currency code)."""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly
from .blocks import counting_sort, sort_run


@kernel
def _number(eligible, user, rank, currency, of_account, slot_account, user_starts):
    n_users = rank.shape[0]
    # Accounts bucketed by their user's rank; the ineligible go to a last
    # bucket that is never read.
    bucket = np.empty(eligible.shape[0], np.int64)
    for a in range(eligible.shape[0]):
        bucket[a] = rank[user[a]] if eligible[a] else n_users
    starts = np.empty(n_users + 2, np.int64)
    order = np.empty(eligible.shape[0], np.int64)
    counting_sort(bucket, n_users + 1, starts, order)
    n_slots = 0
    n_runs = 0
    for r in range(n_users):
        lo, hi = starts[r], starts[r + 1]
        if lo == hi:
            continue
        sort_run(order, lo, hi, currency)
        user_starts[n_runs] = n_slots
        n_runs += 1
        for q in range(lo, hi):
            a = order[q]
            if q == lo or currency[a] != currency[order[q - 1]]:
                slot_account[n_slots] = a
                n_slots += 1
            of_account[a] = n_slots - 1
    user_starts[n_runs] = n_slots
    return n_slots, n_runs


def number_slots(eligible: np.ndarray, user: np.ndarray, rank: np.ndarray,
                 currency: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slots of the eligible accounts (bool[n]) of users `user` (int[n],
    indexes into `rank`, each user's place in result order) and currencies
    `currency` (int64[n] keys ordered like the codes).

    Returns (of_account int64[n]: the account's slot or -1, slot_account
    int64[slots]: an account of each slot, user_starts int64[users + 1]: the
    slots of the k-th user in result order, CSR)."""
    n = eligible.shape[0]
    if eligible.dtype != np.bool_ or user.shape != (n,) or currency.shape != (n,):
        raise ValueError("eligible, user and currency must be 1-d of one length")
    if rank.dtype != np.int64 or currency.dtype != np.int64:
        raise ValueError("rank and currency must be int64")
    _check_users(user[eligible], rank)
    of_account = np.full(n, -1, np.int64)
    count = int(eligible.sum())
    slot_account = np.empty(count, np.int64)
    user_starts = np.empty(count + 1, np.int64)
    n_slots, n_runs = _number(*readonly(eligible, user, rank, currency), of_account,
                              slot_account, user_starts)
    return of_account, slot_account[:n_slots], user_starts[:n_runs + 1]


@kernel
def _number_by_user(eligible, user, rank, of_account, slot_account):
    # Slots are the users with an eligible account, in rank order: a dense
    # rank by marking, with no sort (the counting sort was most of a job's
    # set-up for a million accounts). Users are checked here, in the pass
    # that reads them: gathering the eligible ones to check them first cost
    # as much as numbering them.
    n_users = rank.shape[0]
    slot_of_rank = np.full(n_users, -1, np.int64)
    for a in range(eligible.shape[0]):
        if eligible[a]:
            if user[a] < 0 or user[a] >= n_users:
                return -1
            slot_of_rank[rank[user[a]]] = a
    n_slots = 0
    for r in range(n_users):
        a = slot_of_rank[r]
        if a >= 0:
            slot_account[n_slots] = a
            slot_of_rank[r] = n_slots
            n_slots += 1
    for a in range(eligible.shape[0]):
        of_account[a] = slot_of_rank[rank[user[a]]] if eligible[a] else -1
    return n_slots


def number_user_slots(eligible: np.ndarray, user: np.ndarray, rank: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`number_slots` for eligible accounts that all hold one currency: a
    user is one slot. Same arguments (but currency) and results."""
    n = eligible.shape[0]
    if eligible.dtype != np.bool_ or user.shape != (n,):
        raise ValueError("eligible and user must be 1-d of one length")
    if rank.dtype != np.int64:
        raise ValueError("rank must be int64")
    of_account = np.empty(n, np.int64)
    slot_account = np.empty(min(n, rank.shape[0]), np.int64)
    n_slots = _number_by_user(*readonly(eligible, user, rank), of_account, slot_account)
    if n_slots < 0:
        raise ValueError("an eligible account's user is outside the ranks")
    return of_account, slot_account[:n_slots], np.arange(n_slots + 1, dtype=np.int64)


def _check_users(chosen: np.ndarray, rank: np.ndarray) -> None:
    if chosen.size and (int(chosen.min()) < 0 or int(chosen.max()) >= rank.shape[0]):
        raise ValueError("an eligible account's user is outside the ranks")


@kernel
def _currency_keys(raw, out):
    for a in range(out.shape[0]):
        out[a] = (np.int64(raw[3 * a]) << 16) | (np.int64(raw[3 * a + 1]) << 8) \
            | np.int64(raw[3 * a + 2])


def currency_keys(codes: np.ndarray) -> np.ndarray:
    """int64 keys of S3 currency codes that sort like the codes: one pass
    (numpy's reshaped int64 copy of the bytes took 20 ms per million
    accounts, every job)."""
    if codes.dtype != np.dtype("S3") or codes.ndim != 1:
        raise ValueError("codes must be 1-d S3")
    out = np.empty(codes.shape[0], np.int64)
    _currency_keys(*readonly(np.ascontiguousarray(codes).view(np.uint8)), out)
    return out
