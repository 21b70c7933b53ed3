"""Protocol Buffers' wire format, a column at a time.

Result pages are served far more often than they are computed, so each
member is encoded once, when its job finishes, and a page is then a slice
of bytes. Encoding half a million members one Python message at a time
took longer than computing them; these kernels encode whole columns.

The encoder (transport/wire.py) first works out every field's size in
every row, from the innermost messages out, so it knows where each field
of each member goes in one output buffer; these kernels then write each
field there, a whole column at a time: every byte is written once, and no
intermediate encoding is copied. `out` is that buffer (uint8, writable),
`at` the position of each row's field in it. A *binary column* is
(offsets int64[n + 1], data uint8[]): row i is data[offsets[i]:offsets[i + 1]],
Arrow's large_binary layout. A `tag` is a field's key (field number and
wire type) already varint-encoded.
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
    while value >= _MORE:
        out[pos] = (value & _LOW_BITS) | _MORE
        value >>= _SEVEN
        pos += 1
    out[pos] = value
    return pos + 1


def scalar_sizes(tag: np.ndarray, values: np.ndarray) -> np.ndarray:
    """int64[n]: bytes of a varint field of values[i] (uint64), tag
    included; 0 for a zero, which proto3 leaves out."""
    return _scalar_sizes(*readonly(tag, np.ascontiguousarray(values, np.uint64)))


def framed_sizes(tag: np.ndarray, lengths: np.ndarray, keep_empty: bool) -> np.ndarray:
    """int64[n]: bytes of a length-delimited field of lengths[i] bytes: tag,
    varint length and the bytes; 0 for an empty one unless `keep_empty`
    (an element of a repeated message field is there even when empty)."""
    return _framed_sizes(*readonly(tag, np.ascontiguousarray(lengths, np.int64)),
                         bool(keep_empty))


def put_varints(out: np.ndarray, at: np.ndarray, tag: np.ndarray, values: np.ndarray,
                omit_zero: bool) -> None:
    """Writes tag and the varint of values[i] (uint64) at out[at[i]]; with
    `omit_zero` nothing for a zero, as proto3 leaves a default scalar out."""
    _put_varints(out, *readonly(at, tag, np.ascontiguousarray(values, np.uint64)),
                 bool(omit_zero))


def put_fixed64s(out: np.ndarray, at: np.ndarray, tag: np.ndarray, bits: np.ndarray) -> None:
    """Writes tag and the 8 little-endian bytes of bits[i] (a double's
    uint64 bits) at out[at[i]]; nothing when all bits are zero (+0.0,
    proto3's default)."""
    _put_fixed64s(out, *readonly(at, tag, np.ascontiguousarray(bits, np.uint64)))


def put_framed(out: np.ndarray, at: np.ndarray, tag: np.ndarray, offsets: np.ndarray,
               data: np.ndarray) -> None:
    """Writes row i of the binary column (offsets, data) at out[at[i]] as a
    length-delimited field (tag, varint length, bytes); nothing for an
    empty row (proto3's default string)."""
    _put_framed(out, *readonly(at, tag, np.ascontiguousarray(offsets, np.int64),
                               np.ascontiguousarray(data, np.uint8)))


def packed_lengths(list_offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """int64[n]: bytes of the varints of values[list_offsets[i]:list_offsets[i + 1]]
    (uint64), a packed field's payload."""
    return _packed_lengths(*readonly(np.ascontiguousarray(list_offsets, np.int64),
                                     np.ascontiguousarray(values, np.uint64)))


def put_packed(out: np.ndarray, at: np.ndarray, tag: np.ndarray, list_offsets: np.ndarray,
               values: np.ndarray, lengths: np.ndarray) -> None:
    """Writes row i, values[list_offsets[i]:list_offsets[i + 1]] (uint64),
    at out[at[i]] as one packed field: tag, varint length, the varints;
    nothing for an empty list. `lengths` are the rows' `packed_lengths`."""
    _put_packed(out, *readonly(at, tag, np.ascontiguousarray(list_offsets, np.int64),
                               np.ascontiguousarray(values, np.uint64),
                               np.ascontiguousarray(lengths, np.int64)))


def put_headers(out: np.ndarray, at: np.ndarray, tag: np.ndarray, lengths: np.ndarray
                ) -> np.ndarray:
    """Writes tag and the varint of lengths[i] at out[at[i]], the head of a
    length-delimited field whose bytes follow (every row: an element of a
    repeated message field is there even when empty); returns where each
    row's bytes start."""
    return _put_headers(out, *readonly(at, tag, np.ascontiguousarray(lengths, np.int64)))


@kernel
def _scalar_sizes(tag, values):
    sizes = np.empty(len(values), np.int64)
    for i in range(len(values)):
        sizes[i] = 0 if values[i] == 0 else len(tag) + varint_size(values[i])
    return sizes


@kernel
def _framed_sizes(tag, lengths, keep_empty):
    sizes = np.empty(len(lengths), np.int64)
    for i in range(len(lengths)):
        length = lengths[i]
        sizes[i] = 0 if length == 0 and not keep_empty \
            else len(tag) + varint_size(np.uint64(length)) + length
    return sizes


@kernel
def _put_varints(out, at, tag, values, omit_zero):
    for i in range(len(values)):
        if omit_zero and values[i] == 0:
            continue
        pos = at[i]
        for k in range(len(tag)):
            out[pos + k] = tag[k]
        put_varint(out, pos + len(tag), values[i])


@kernel
def _put_fixed64s(out, at, tag, bits):
    for i in range(len(bits)):
        value = bits[i]
        if value == 0:
            continue
        pos = at[i]
        for k in range(len(tag)):
            out[pos + k] = tag[k]
        pos += len(tag)
        for _ in range(8):
            out[pos] = value & _BYTE
            value >>= _EIGHT
            pos += 1


@kernel
def _put_framed(out, at, tag, offsets, data):
    for i in range(len(offsets) - 1):
        first, last = offsets[i], offsets[i + 1]
        if last == first:
            continue
        pos = at[i]
        for k in range(len(tag)):
            out[pos + k] = tag[k]
        pos = put_varint(out, pos + len(tag), np.uint64(last - first))
        for k in range(first, last):
            out[pos] = data[k]
            pos += 1


@kernel
def _packed_lengths(list_offsets, values):
    lengths = np.empty(len(list_offsets) - 1, np.int64)
    for i in range(len(list_offsets) - 1):
        length = 0
        for k in range(list_offsets[i], list_offsets[i + 1]):
            length += varint_size(values[k])
        lengths[i] = length
    return lengths


@kernel
def _put_packed(out, at, tag, list_offsets, values, lengths):
    for i in range(len(list_offsets) - 1):
        first, last = list_offsets[i], list_offsets[i + 1]
        if last == first:
            continue
        pos = at[i]
        for k in range(len(tag)):
            out[pos + k] = tag[k]
        pos = put_varint(out, pos + len(tag), np.uint64(lengths[i]))
        for k in range(first, last):
            pos = put_varint(out, pos, values[k])


@kernel
def _put_headers(out, at, tag, lengths):
    starts = np.empty(len(lengths), np.int64)
    for i in range(len(lengths)):
        pos = at[i]
        for k in range(len(tag)):
            out[pos + k] = tag[k]
        starts[i] = put_varint(out, pos + len(tag), np.uint64(lengths[i]))
    return starts
