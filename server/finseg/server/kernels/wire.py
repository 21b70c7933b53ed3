"""Protocol Buffers' wire format, a column at a time.

Result pages are served far more often than they are computed, so each
member is encoded once, when its job finishes, and a page is then a slice
of bytes. Encoding half a million members one Python message at a time
took longer than computing them; these kernels encode whole columns.

A *binary column* is (offsets int64[n + 1], data uint8[]): row i is
data[offsets[i]:offsets[i + 1]], Arrow's large_binary layout. A `tag` is
a field's key (field number and wire type) already varint-encoded.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly

# Typed constants: numba turns uint64 mixed with a plain int into float64.
_SEVEN = np.uint64(7)
_LOW_BITS = np.uint64(0x7F)
_MORE = np.uint64(0x80)
_BYTE = np.uint64(0xFF)
_EIGHT = np.uint64(8)


@kernel
def varint_size(value):
    """Bytes of the varint of a uint64."""
    size = 1
    while value >= _MORE:
        value >>= _SEVEN
        size += 1
    return size


@kernel
def put_varint(out, pos, value):
    """Writes the varint of a uint64 at out[pos]; returns the next position."""
    while value >= _MORE:
        out[pos] = (value & _LOW_BITS) | _MORE
        value >>= _SEVEN
        pos += 1
    out[pos] = value
    return pos + 1


def varints(tag: np.ndarray, values: np.ndarray, omit_zero: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Row i: tag and the varint of values[i] (uint64). With `omit_zero` a
    zero row is empty, as proto3 leaves a default scalar out."""
    return _varints(*readonly(tag, values), bool(omit_zero))


def fixed64s(tag: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row i: tag and the 8 little-endian bytes of bits[i] (a double's
    uint64 bits); empty when all bits are zero (+0.0, proto3's default)."""
    return _fixed64s(*readonly(tag, bits))


def framed(tag: np.ndarray, offsets: np.ndarray, data: np.ndarray, keep_empty: bool
           ) -> tuple[np.ndarray, np.ndarray]:
    """Row i: tag, the varint length of row i of (offsets, data), then the
    row: a length-delimited field (string, packed list or message). Empty
    rows are left out unless `keep_empty` (an element of a repeated message
    field must be there even when it has no set field)."""
    return _framed(*readonly(tag, offsets, data), bool(keep_empty))


def concat_rows(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row i: the k pieces data[offsets[j, i]:offsets[j, i + 1]] for j =
    0..k-1 in order, a message's fields one after another; offsets is
    int64[k, n + 1]."""
    # One C-contiguous array rather than two column slices of it: slices
    # are layout 'A', or 'C' when empty, and each layout is a compilation.
    return _concat_rows(*readonly(np.ascontiguousarray(offsets, np.int64), data))


@kernel
def _varints(tag, values, omit_zero):
    n = len(values)
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        empty = omit_zero and values[i] == 0
        offsets[i + 1] = offsets[i] + (0 if empty else len(tag) + varint_size(values[i]))
    data = np.empty(offsets[n], np.uint8)
    for i in range(n):
        pos = offsets[i]
        if offsets[i + 1] > pos:
            data[pos:pos + len(tag)] = tag
            put_varint(data, pos + len(tag), values[i])
    return offsets, data


@kernel
def _fixed64s(tag, bits):
    n = len(bits)
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + (0 if bits[i] == 0 else len(tag) + 8)
    data = np.empty(offsets[n], np.uint8)
    for i in range(n):
        pos = offsets[i]
        if offsets[i + 1] > pos:
            data[pos:pos + len(tag)] = tag
            pos += len(tag)
            value = bits[i]
            for _ in range(8):
                data[pos] = value & _BYTE
                value >>= _EIGHT
                pos += 1
    return offsets, data


@kernel
def _framed(tag, offsets, data, keep_empty):
    n = len(offsets) - 1
    out_offsets = np.empty(n + 1, np.int64)
    out_offsets[0] = 0
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        size = 0
        if length > 0 or keep_empty:
            size = len(tag) + varint_size(np.uint64(length)) + length
        out_offsets[i + 1] = out_offsets[i] + size
    out = np.empty(out_offsets[n], np.uint8)
    for i in range(n):
        pos = out_offsets[i]
        if out_offsets[i + 1] > pos:
            length = offsets[i + 1] - offsets[i]
            out[pos:pos + len(tag)] = tag
            pos = put_varint(out, pos + len(tag), np.uint64(length))
            out[pos:pos + length] = data[offsets[i]:offsets[i + 1]]
    return out_offsets, out


@kernel
def _concat_rows(pieces, data):
    k, n = pieces.shape[0], pieces.shape[1] - 1
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        size = 0
        for j in range(k):
            size += pieces[j, i + 1] - pieces[j, i]
        offsets[i + 1] = offsets[i] + size
    out = np.empty(offsets[n], np.uint8)
    for i in range(n):
        pos = offsets[i]
        for j in range(k):
            length = pieces[j, i + 1] - pieces[j, i]
            out[pos:pos + length] = data[pieces[j, i]:pieces[j, i + 1]]
            pos += length
    return offsets, out
