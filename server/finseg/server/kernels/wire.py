"""Protocol Buffers' wire format, a column at a time.

Result pages are served far more often than they are computed, so each
member is encoded once, when its job finishes, and a page is then a slice
of bytes. Encoding half a million members one Python message at a time
took longer than computing them; these kernels encode whole columns.

The encoder (transport/wire.py) first adds up each message's size, field
by field (`add_*_sizes`, into `total`), from the innermost messages out, so
it knows where each member goes in one output buffer; the `put_*` kernels
then write a field of each row at `at`, its position in `out` (uint8,
writable), and return where each row's next field goes: every byte is
written once, and no intermediate encoding is copied or kept. Offsets are
absolute: `offsets[lo:hi + 1]` of a column with `data` (or `values`) whole
stands for rows lo..hi-1. A *binary column* is (offsets int64[n + 1],
data uint8[]): row i is data[offsets[i]:offsets[i + 1]], Arrow's
large_binary layout. A `tag` is a field's key (field number and wire type)
already varint-encoded. proto3 leaves out zero scalars, empty strings and
empty packed lists; an element of a repeated message field is always there.
"""

from __future__ import annotations

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros

from ._jit import kernel, readonly

# Typed constants: numba turns uint64 mixed with a plain int into float64.
_SEVEN = np.uint64(7)
_LOW_BITS = np.uint64(0x7F)
_MORE = np.uint64(0x80)
_BYTE = np.uint64(0xFF)
_EIGHT = np.uint64(8)
_ONE = np.uint64(1)
_SIGN = np.uint64(1 << 63)

#: What a field of a leaf message is, for `put_rows`.
VARINT, FIXED64, BYTES, PACKED = 0, 1, 2, 3


@kernel
def varint_size(value):
    """Bytes of the varint of a uint64: its significant bits (at least
    one) over 7, rounded up. (bits + 6) * 37 >> 8 is (bits + 6) // 7 for
    bits of 1 to 64, without the zero check numba puts in a division; no
    loop, so the ten bytes of a negative amount cost no more than one."""
    bits = np.int64(64) - np.int64(leading_zeros(value | _ONE))
    return (bits + 6) * 37 >> 8


@kernel
def put_varint(out, pos, value):
    """Writes the varint of a uint64 at out[pos]; returns the next position."""
    if value >= _SIGN:
        # A negative int64, ten bytes: spending amounts, a third of the
        # values of a breakdown. Unrolled, the bytes do not wait on each
        # other's shifts (15% faster over a breakdown's monthly sums).
        for k in range(9):
            out[pos + k] = ((value >> np.uint64(7 * k)) & _LOW_BITS) | _MORE
        out[pos + 9] = 1
        return pos + 10
    while value >= _MORE:
        out[pos] = (value & _LOW_BITS) | _MORE
        value >>= _SEVEN
        pos += 1
    out[pos] = value
    return pos + 1


def _u64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, np.uint64)


def _i64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, np.int64)


def add_scalar_sizes(total: np.ndarray, tag: np.ndarray, values: np.ndarray) -> None:
    """total[i] += bytes of a varint field of values[i] (uint64)."""
    _add_scalar_sizes(total, *readonly(tag, _u64(values)))


def add_fixed64_sizes(total: np.ndarray, tag: np.ndarray, bits: np.ndarray) -> None:
    """total[i] += bytes of a double field of bits[i] (its uint64 bits;
    all zero is +0.0, left out)."""
    _add_fixed64_sizes(total, *readonly(tag, _u64(bits)))


def add_bytes_sizes(total: np.ndarray, tag: np.ndarray, offsets: np.ndarray,
                    entries: np.ndarray) -> None:
    """total[i] += bytes of row entries[i] of a binary column as a
    length-delimited field (string or bytes)."""
    _add_bytes_sizes(total, *readonly(tag, _i64(offsets), _i64(entries)))


def add_packed_sizes(total: np.ndarray, tag: np.ndarray, list_offsets: np.ndarray,
                     values: np.ndarray) -> None:
    """total[i] += bytes of values[list_offsets[i]:list_offsets[i + 1]]
    (uint64) as one packed repeated field."""
    _add_packed_sizes(total, *readonly(tag, _i64(list_offsets), _u64(values)))


def add_element_sizes(total: np.ndarray, tag: np.ndarray, list_offsets: np.ndarray,
                      sizes: np.ndarray) -> None:
    """total[i] += bytes of the messages list_offsets[i]..list_offsets[i + 1]-1,
    of sizes[k] bytes each, as elements of a repeated message field."""
    _add_element_sizes(total, *readonly(tag, _i64(list_offsets), _i64(sizes)))


def element_sizes(tag: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """int64[n]: bytes of each message, of sizes[i] bytes, as an element of
    a repeated message field."""
    return _element_sizes(*readonly(tag, _i64(sizes)))


def put_varints(out: np.ndarray, at: np.ndarray, tag: np.ndarray, values: np.ndarray
                ) -> np.ndarray:
    """Writes the varint field of values[i] (uint64) at out[at[i]]."""
    return _put_varints(out, *readonly(_i64(at), tag, _u64(values)))


def put_fixed64s(out: np.ndarray, at: np.ndarray, tag: np.ndarray, bits: np.ndarray
                 ) -> np.ndarray:
    """Writes the double field of bits[i], its 8 little-endian bytes, at out[at[i]]."""
    return _put_fixed64s(out, *readonly(_i64(at), tag, _u64(bits)))


def put_bytes(out: np.ndarray, at: np.ndarray, tag: np.ndarray, offsets: np.ndarray,
              data: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Writes row entries[i] of the binary column (offsets, data) at
    out[at[i]] as a length-delimited field: tag, varint length, bytes."""
    return _put_bytes(out, *readonly(_i64(at), tag, _i64(offsets),
                                     np.ascontiguousarray(data, np.uint8), _i64(entries)))


def put_packed(out: np.ndarray, at: np.ndarray, tag: np.ndarray, list_offsets: np.ndarray,
               values: np.ndarray) -> np.ndarray:
    """Writes values[list_offsets[i]:list_offsets[i + 1]] (uint64) at
    out[at[i]] as one packed field: tag, varint length, the varints."""
    return _put_packed(out, *readonly(_i64(at), tag, _i64(list_offsets), _u64(values)))


def put_elements(out: np.ndarray, at: np.ndarray, tag: np.ndarray, list_offsets: np.ndarray,
                 sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Writes the heads (tag, varint length) of row i's elements of a
    repeated message field, the messages list_offsets[i]..list_offsets[i + 1]-1
    of sizes[k] bytes, from out[at[i]] on, leaving room for each message
    after its head. Returns where each of those messages goes (int64[
    list_offsets[-1] - list_offsets[0]]) and where each row's next field does."""
    return _put_elements(out, *readonly(_i64(at), tag, _i64(list_offsets), _i64(sizes)))


def put_heads(out: np.ndarray, at: np.ndarray, tag: np.ndarray, sizes: np.ndarray
              ) -> np.ndarray:
    """Writes the head of a length-delimited field of sizes[i] bytes at
    out[at[i]]; returns where each one's bytes go."""
    return _put_heads(out, *readonly(_i64(at), tag, _i64(sizes)))


@kernel
def _head_size(tag, length):
    return len(tag) + varint_size(np.uint64(length))


@kernel
def _add_scalar_sizes(total, tag, values):
    for i in range(len(values)):
        if values[i] != 0:
            total[i] += len(tag) + varint_size(values[i])


@kernel
def _add_fixed64_sizes(total, tag, bits):
    for i in range(len(bits)):
        if bits[i] != 0:
            total[i] += len(tag) + 8


@kernel
def _add_bytes_sizes(total, tag, offsets, entries):
    for i in range(len(entries)):
        length = offsets[entries[i] + 1] - offsets[entries[i]]
        if length > 0:
            total[i] += _head_size(tag, length) + length


@kernel
def _packed_length(values, first, last):
    length = 0
    for k in range(first, last):
        length += varint_size(values[k])
    return length


@kernel
def _add_packed_sizes(total, tag, list_offsets, values):
    for i in range(len(list_offsets) - 1):
        length = _packed_length(values, list_offsets[i], list_offsets[i + 1])
        if length > 0:
            total[i] += _head_size(tag, length) + length


@kernel
def _add_element_sizes(total, tag, list_offsets, sizes):
    for i in range(len(list_offsets) - 1):
        for k in range(list_offsets[i], list_offsets[i + 1]):
            total[i] += _head_size(tag, sizes[k]) + sizes[k]


@kernel
def _element_sizes(tag, sizes):
    out = np.empty(len(sizes), np.int64)
    for i in range(len(sizes)):
        out[i] = _head_size(tag, sizes[i]) + sizes[i]
    return out


@kernel
def _put_tag(out, pos, tag):
    for k in range(len(tag)):
        out[pos + k] = tag[k]
    return pos + len(tag)


@kernel
def _put_varints(out, at, tag, values):
    after = at.copy()
    for i in range(len(values)):
        if values[i] != 0:
            after[i] = put_varint(out, _put_tag(out, at[i], tag), values[i])
    return after


@kernel
def _put_fixed64s(out, at, tag, bits):
    after = at.copy()
    for i in range(len(bits)):
        value = bits[i]
        if value == 0:
            continue
        after[i] = _put_fixed64(out, _put_tag(out, at[i], tag), value)
    return after


@kernel
def _put_fixed64(out, pos, value):
    for _ in range(8):
        out[pos] = value & _BYTE
        value >>= _EIGHT
        pos += 1
    return pos


@kernel
def _put_bytes(out, at, tag, offsets, data, entries):
    after = at.copy()
    for i in range(len(entries)):
        first, last = offsets[entries[i]], offsets[entries[i] + 1]
        if last == first:
            continue
        after[i] = _put_run(out, _put_tag(out, at[i], tag), data, first, last)
    return after


@kernel
def _put_run(out, pos, data, first, last):
    """A length-delimited field's length and bytes data[first:last]."""
    pos = put_varint(out, pos, np.uint64(last - first))
    for k in range(first, last):
        out[pos] = data[k]
        pos += 1
    return pos


@kernel
def _put_packed(out, at, tag, list_offsets, values):
    after = at.copy()
    for i in range(len(list_offsets) - 1):
        first, last = list_offsets[i], list_offsets[i + 1]
        if last == first:
            continue
        after[i] = _put_packed_run(out, _put_tag(out, at[i], tag), values, first, last)
    return after


@kernel
def _put_packed_run(out, pos, values, first, last):
    """A packed field's length and the varints of values[first:last]."""
    pos = put_varint(out, pos, np.uint64(_packed_length(values, first, last)))
    for k in range(first, last):
        pos = put_varint(out, pos, values[k])
    return pos


@kernel
def _put_elements(out, at, tag, list_offsets, sizes):
    base = list_offsets[0]
    starts = np.empty(list_offsets[len(list_offsets) - 1] - base, np.int64)
    after = np.empty(len(list_offsets) - 1, np.int64)
    for i in range(len(list_offsets) - 1):
        pos = at[i]
        for k in range(list_offsets[i], list_offsets[i + 1]):
            pos = put_varint(out, _put_tag(out, pos, tag), np.uint64(sizes[k]))
            starts[k - base] = pos
            pos += sizes[k]
        after[i] = pos
    return starts, after


@kernel
def _put_heads(out, at, tag, sizes):
    starts = np.empty(len(sizes), np.int64)
    for i in range(len(sizes)):
        starts[i] = put_varint(out, _put_tag(out, at[i], tag), np.uint64(sizes[i]))
    return starts


def put_rows(out: np.ndarray, at: np.ndarray, kinds: np.ndarray, columns: np.ndarray,
             tags: np.ndarray, tag_starts: np.ndarray, scalars: np.ndarray,
             binary_offsets: np.ndarray, binary_data: np.ndarray, entries: np.ndarray,
             list_offsets: np.ndarray, values: np.ndarray) -> None:
    """Writes rows of a leaf message (no message fields) at out[at[r]], each
    row's fields one after another, so a row is written in one go where the
    `put_*` kernels write a field of every row in turn.

    Field f is of kind kinds[f] (VARINT, FIXED64, BYTES or PACKED) with key
    tags[tag_starts[f]:tag_starts[f + 1]]; its values are row columns[f]
    of `scalars` (uint64[fields, rows]: varints and doubles' bits) or of
    `entries` (int64[fields, rows], into the binary column (binary_offsets,
    binary_data)), or, for the one packed field, values[list_offsets[r]:
    list_offsets[r + 1]]."""
    _put_rows(out, *readonly(_i64(at), _i64(kinds), _i64(columns), tags, _i64(tag_starts),
                             _u64(scalars), _i64(binary_offsets),
                             np.ascontiguousarray(binary_data, np.uint8), _i64(entries),
                             _i64(list_offsets), _u64(values)))


@kernel
def _put_key(out, pos, tags, first, last):
    """The key tags[first:last]: taking a slice per field and row instead
    made encoding a breakdown of 495,665 members about 0.1 s slower."""
    for k in range(first, last):
        out[pos] = tags[k]
        pos += 1
    return pos


@kernel
def _put_rows(out, at, kinds, columns, tags, tag_starts, scalars, binary_offsets, binary_data,
              entries, list_offsets, values):
    for r in range(len(at)):
        pos = at[r]
        for f in range(len(kinds)):
            kind, c, key, key_end = kinds[f], columns[f], tag_starts[f], tag_starts[f + 1]
            if kind == VARINT or kind == FIXED64:
                value = scalars[c, r]
                if value == 0:
                    continue
                pos = _put_key(out, pos, tags, key, key_end)
                pos = put_varint(out, pos, value) if kind == VARINT else \
                    _put_fixed64(out, pos, value)
            elif kind == BYTES:
                first, last = binary_offsets[entries[c, r]], binary_offsets[entries[c, r] + 1]
                if last > first:
                    pos = _put_run(out, _put_key(out, pos, tags, key, key_end), binary_data,
                                   first, last)
            elif list_offsets[r + 1] > list_offsets[r]:
                pos = _put_packed_run(out, _put_key(out, pos, tags, key, key_end), values,
                                      list_offsets[r], list_offsets[r + 1])
