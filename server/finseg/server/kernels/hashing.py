"""64-bit row hashes and the open-addressing transaction-id index.

The index maps hash(transaction_id) to a row locator. It lives in memory
(rebuilt from the log's stored hashes when a tenant is first written after a
start), because a B-tree keyed by random hashes would copy a page per insert.
A hash hit is only a candidate: callers verify the stored id exactly.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
EMPTY = np.int64(-1)


@kernel
def _mix(h):
    # splitmix64's finalizer: FNV-1a alone clusters similar ids ("t000001",
    # "t000002") in the low bits that pick the index slot.
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def hash_strings(offsets: np.ndarray, data: np.ndarray, out: np.ndarray, seed: int | np.uint64
                 ) -> None:
    """out[i] = mix(FNV-1a(bytes of string i), seed) for Arrow-style
    offsets int64[n + 1] into data uint8[]; out uint64[n]."""
    _hash_strings(*readonly(offsets, data), out, np.uint64(seed))


def combine(acc: np.ndarray, values: np.ndarray) -> None:
    """acc[i] = mix(acc[i] * prime + values[i]) to fold one more field
    (uint64[n]) into acc (uint64[n])."""
    _combine(acc, *readonly(values))


def first_occurrence(hashes: np.ndarray, out: np.ndarray) -> None:
    """out[i] = the first row j <= i with hashes[j] == hashes[i] (uint64[n]
    in, int64[n] out): repeats of a hash within one batch."""
    _first_occurrence(*readonly(hashes), out)


@kernel
def _hash_strings(offsets, data, out, seed):
    for i in range(out.shape[0]):
        h = FNV_OFFSET ^ seed
        for j in range(offsets[i], offsets[i + 1]):
            h ^= np.uint64(data[j])
            h *= FNV_PRIME
        out[i] = _mix(h)


@kernel
def _combine(acc, values):
    for i in range(acc.shape[0]):
        acc[i] = _mix(acc[i] * FNV_PRIME + np.uint64(values[i]))


# The index is one uint64 array of (key, locator + 1) pairs, so a probe
# touches one cache line: at tens of millions of ids the table is far larger
# than the caches and every probe is a memory access. A stored locator is
# never 0, which marks an empty slot.


@kernel
def index_lookup(table, hashes, out):
    """out[i] = the locator stored for hashes[i], or -1."""
    mask = np.uint64(table.shape[0] // 2 - 1)
    for i in range(hashes.shape[0]):
        h = hashes[i]
        slot = h & mask
        out[i] = EMPTY
        while table[2 * slot + 1] != 0:
            if table[2 * slot] == h:
                out[i] = np.int64(table[2 * slot + 1]) - 1
                break
            slot = (slot + np.uint64(1)) & mask


@kernel
def index_insert(table, hashes, values):
    """Inserts hashes[i] -> values[i]; returns how many were added."""
    mask = np.uint64(table.shape[0] // 2 - 1)
    added = 0
    for i in range(hashes.shape[0]):
        h = hashes[i]
        slot = h & mask
        while table[2 * slot + 1] != 0 and table[2 * slot] != h:
            slot = (slot + np.uint64(1)) & mask
        if table[2 * slot + 1] == 0:
            table[2 * slot] = h
            table[2 * slot + 1] = np.uint64(values[i] + 1)
            added += 1
    return added


@kernel
def _first_occurrence(hashes, out):
    # One pass with a scratch table.
    n = hashes.shape[0]
    capacity = 16
    while capacity < 2 * n:
        capacity *= 2
    mask = np.uint64(capacity - 1)
    keys = np.zeros(capacity, dtype=np.uint64)
    rows = np.full(capacity, -1, dtype=np.int64)
    for i in range(n):
        h = hashes[i]
        slot = h & mask
        while rows[slot] != -1 and keys[slot] != h:
            slot = (slot + np.uint64(1)) & mask
        if rows[slot] == -1:
            keys[slot] = h
            rows[slot] = i
        out[i] = rows[slot]


class IdIndex:
    """hash(transaction_id) -> locator, growing to keep the load under 0.7."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.table = np.zeros(2 * capacity, dtype=np.uint64)
        self.size = 0

    @property
    def capacity(self) -> int:
        return self.table.shape[0] // 2

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        out = np.empty(hashes.shape[0], dtype=np.int64)
        index_lookup(self.table, *readonly(hashes), out)
        return out

    def insert(self, hashes: np.ndarray, locators: np.ndarray) -> None:
        needed = self.size + hashes.shape[0]
        if needed > 0.7 * self.capacity:
            capacity = self.capacity
            while needed > 0.7 * capacity:
                capacity *= 2
            old = self.table.reshape(-1, 2)
            used = old[:, 1] != 0
            self.table = np.zeros(2 * capacity, dtype=np.uint64)
            self.size = index_insert(self.table, *readonly(old[used, 0].copy(),
                                                           old[used, 1].astype(np.int64) - 1))
        self.size += index_insert(self.table, *readonly(hashes, locators))
