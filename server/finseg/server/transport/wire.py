"""Result members in protobuf wire format, encoded from Arrow columns by
each message's descriptor, and result pages served as slices of them.

A job's members are encoded once when it finishes (`encode_members`), each
already framed as an element of its page message's `members` field. A page
of any size is then the concatenation of a run of them, and a response is
that page wrapped in two length-delimited fields after the serialized
envelope: protobuf lets fields come in any order and a parser concatenates
what it reads. GetSegment and StreamSegment build no member message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from finseg.v1 import segments_pb2

from ..kernels import wire

#: Binary column: (offsets int64[n + 1], data uint8[]); see kernels.wire.
Column = tuple[np.ndarray, np.ndarray]

MEMBER_COLUMN = "member"

#: A page stops before its members pass this many bytes, holding fewer than
#: page_size (AIP-158: "the server may return fewer"), so that a response
#: stays within the 4 MiB that gRPC clients receive by default (grpc-js,
#: grpc-go, grpc-java, Python's without options), with room for the
#: envelope. 10,000 FINANCIAL_BREAKDOWN members of 20 groups were 7.9 MB.
PAGE_BYTES = 3584 << 10

_VARINT, _FIXED64, _LENGTH_DELIMITED = 0, 1, 2
_VARINT_TYPES = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32,
                 FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32,
                 FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM}


def _page_field(page_name: str) -> FieldDescriptor:
    """The ResultPage field of a page name: a segment type's, or a
    drill-down's (MERCHANT_CUSTOMERS)."""
    return segments_pb2.ResultPage.DESCRIPTOR.fields_by_name[page_name.lower()]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> np.ndarray:
    return np.frombuffer(_varint(number << 3 | wire_type), np.uint8)


def _binary(array: pa.Array) -> Column:
    """(offsets, data) of a string or binary array, from its buffers."""
    array = array.cast(pa.large_binary())
    if array.null_count:
        raise ValueError("result columns must not hold nulls")
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None \
        else np.zeros(0, np.uint8)
    return offsets - offsets[0], data[offsets[0]:offsets[-1]]


def _uint64(array: pa.Array, field: FieldDescriptor) -> np.ndarray:
    named = pa.types.is_dictionary(array.type) and pa.types.is_string(array.type.value_type)
    if field.type == FieldDescriptor.TYPE_ENUM and (named or pa.types.is_string(array.type)):
        names = field.enum_type.values_by_name
        encoded = array if named else array.dictionary_encode()
        numbers = np.array([names[name].number for name in encoded.dictionary.to_pylist()],
                           np.int64)
        values = numbers[encoded.indices.to_numpy(zero_copy_only=False)]
    else:
        values = array.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    # Negative int32 and int64 are ten bytes on the wire: their uint64 bits.
    return values.view(np.uint64)


class _Field:
    """One field of a column of messages: `add_sizes` adds its bytes in
    each row to the rows' sizes; `put` writes it."""

    def __init__(self, field: FieldDescriptor, array: pa.Array) -> None:
        self.field = field
        self.kind = "varint"
        if field.is_repeated:
            self.list_offsets = np.asarray(array.offsets, np.int64)
            self.list_offsets = self.list_offsets - self.list_offsets[0]
            values = array.flatten()
            self.tag = _tag(field.number, _LENGTH_DELIMITED)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                self.kind = "messages"
                self.message = _Message(values, field.message_type)
            else:  # proto3 packs repeated scalars: one length-delimited run of values
                self.kind = "packed"
                self.values = self._scalars(values)
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            self.kind = "bytes"
            self.tag = _tag(field.number, _LENGTH_DELIMITED)
            # Row i is entry entries[i] of the binary column (offsets, data):
            # a dictionary's values for a few distinct strings in many rows
            # (currencies, group names), else the column itself.
            if pa.types.is_dictionary(array.type):
                if array.null_count:
                    raise ValueError("result columns must not hold nulls")
                self.entries = array.indices.to_numpy().astype(np.int64, copy=False)
                array = array.dictionary
            else:
                self.entries = np.arange(len(array), dtype=np.int64)
            self.offsets, self.data = _binary(array)
        elif field.type == FieldDescriptor.TYPE_DOUBLE:
            self.kind = "double"
            self.tag = _tag(field.number, _FIXED64)
            self.values = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False) \
                .view(np.uint64)
        else:
            self.tag = _tag(field.number, _VARINT)
            self.values = self._scalars(array)

    def _scalars(self, array: pa.Array) -> np.ndarray:
        if self.field.type in _VARINT_TYPES:  # packed doubles: no need yet
            return _uint64(array, self.field)
        raise TypeError(f"field {self.field.full_name} has a type the encoder does not support")

    def add_sizes(self, total: np.ndarray, lo: int, hi: int) -> None:
        """Adds the field's bytes in rows lo..hi-1 to total (their slice)."""
        if self.kind == "messages":
            wire.add_element_sizes(total, self.tag, self.list_offsets[lo:hi + 1],
                                   self.message.sizes)
        elif self.kind == "packed":
            wire.add_packed_sizes(total, self.tag, self.list_offsets[lo:hi + 1], self.values)
        elif self.kind == "bytes":
            wire.add_bytes_sizes(total, self.tag, self.offsets, self.entries[lo:hi])
        elif self.kind == "double":
            wire.add_fixed64_sizes(total, self.tag, self.values[lo:hi])
        else:
            wire.add_scalar_sizes(total, self.tag, self.values[lo:hi])

    def put(self, out: np.ndarray, at: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Writes the field of rows lo..hi-1 at out[at[i - lo]]; returns where
        each row's next field goes."""
        if self.kind == "messages":
            runs = self.list_offsets[lo:hi + 1]
            starts, after = wire.put_elements(out, at, self.tag, runs, self.message.sizes)
            self.message.put(out, starts, int(runs[0]), int(runs[-1]))
            return after
        if self.kind == "packed":
            return wire.put_packed(out, at, self.tag, self.list_offsets[lo:hi + 1], self.values)
        if self.kind == "bytes":
            return wire.put_bytes(out, at, self.tag, self.offsets, self.data,
                                  self.entries[lo:hi])
        if self.kind == "double":
            return wire.put_fixed64s(out, at, self.tag, self.values[lo:hi])
        return wire.put_varints(out, at, self.tag, self.values[lo:hi])


class _Message:
    """A column of messages of `descriptor`: its columns named after the
    message's fields (absent ones are left at their default), each row's
    size in bytes, and `put`, which writes rows at their positions."""

    def __init__(self, rows: pa.StructArray | pa.Table, descriptor: Descriptor) -> None:
        columns = dict(zip(rows.column_names, rows.columns, strict=True)) \
            if isinstance(rows, pa.Table) else \
            {rows.type.field(i).name: child for i, child in enumerate(rows.flatten())}
        unknown = set(columns) - set(descriptor.fields_by_name)
        if unknown:
            raise ValueError(f"{descriptor.full_name} has no field {sorted(unknown)}")
        # Inner messages first: a repeated message field's size is theirs.
        self.fields = [_Field(field, _one_chunk(columns[field.name]))
                       for field in sorted(descriptor.fields, key=lambda f: f.number)
                       if field.name in columns]
        self.leaf = _Leaf.of(self.fields)
        self.sizes = np.zeros(len(rows), np.int64)

        def add(lo: int, hi: int) -> None:
            for field in self.fields:
                field.add_sizes(self.sizes[lo:hi], lo, hi)

        _in_blocks(len(rows), add)

    def put(self, out: np.ndarray, at: np.ndarray, lo: int, hi: int) -> None:
        """Writes rows lo..hi-1, row i at out[at[i - lo]]: its fields one
        after another."""
        if self.leaf is not None:
            self.leaf.put(out, at, lo, hi)
            return
        for field in self.fields:
            at = field.put(out, at, lo, hi)


class _Leaf:
    """The fields of a message without message fields and with at most one
    packed field (every result type's innermost message), written a row at
    a time (`kernels.wire.put_rows`): encoding a breakdown of 495,665
    members, two million groups, went from 0.375 s to 0.315 s."""

    KINDS = {"varint": wire.VARINT, "double": wire.FIXED64, "bytes": wire.BYTES,
             "packed": wire.PACKED}

    @classmethod
    def of(cls, fields: list[_Field]) -> _Leaf | None:
        kinds = [field.kind for field in fields]
        if "messages" in kinds or kinds.count("packed") > 1:
            return None
        return cls(fields)

    def __init__(self, fields: list[_Field]) -> None:
        self.kinds = np.array([self.KINDS[f.kind] for f in fields], np.int64)
        scalar = [f for f in fields if f.kind in ("varint", "double")]
        binary = [f for f in fields if f.kind == "bytes"]
        self.scalars = [f.values for f in scalar]
        self.packed = next((f for f in fields if f.kind == "packed"), None)
        # Each field's row in a block's scalars or entries (the packed field
        # has none).
        row = {id(f): i for group in (scalar, binary) for i, f in enumerate(group)}
        self.columns = np.array([row.get(id(f), 0) for f in fields], np.int64)
        self.tags = np.concatenate([f.tag for f in fields]) if fields else np.zeros(0, np.uint8)
        self.tag_starts = np.concatenate([[0], np.cumsum([len(f.tag) for f in fields])]) \
            .astype(np.int64)
        # The binary fields' columns as one, each field's entries moved past
        # the ones before it.
        self.entries, offsets, data, base, size = [], [np.zeros(1, np.int64)], [], 0, 0
        for field in binary:
            self.entries.append(field.entries + base)
            offsets.append(field.offsets[1:] + size)
            data.append(field.data)
            base, size = base + len(field.offsets) - 1, size + len(field.data)
        self.binary_offsets = np.concatenate(offsets)
        self.binary_data = np.concatenate(data) if data else np.zeros(0, np.uint8)

    def put(self, out: np.ndarray, at: np.ndarray, lo: int, hi: int) -> None:
        rows = hi - lo
        scalars = np.stack([v[lo:hi] for v in self.scalars]) if self.scalars \
            else np.zeros((0, rows), np.uint64)
        entries = np.stack([e[lo:hi] for e in self.entries]) if self.entries \
            else np.zeros((0, rows), np.int64)
        if self.packed is None:
            list_offsets, values = np.zeros(rows + 1, np.int64), np.zeros(0, np.uint64)
        else:
            list_offsets, values = self.packed.list_offsets[lo:hi + 1], self.packed.values
        wire.put_rows(out, at, self.kinds, self.columns, self.tags, self.tag_starts, scalars,
                      self.binary_offsets, self.binary_data, entries, list_offsets, values)


#: Rows sized and members written at a time. A block's fields are written
#: one after another, each over the whole block, so its bytes stay in the
#: processor's cache from one field to the next (whole results went to
#: memory once per field, a third slower), and blocks are done by as many
#: threads as the process may use cores (the kernels release the GIL), each
#: taking the next block when it is done, so a core that is busy elsewhere
#: only takes fewer blocks.
BLOCK_ROWS = 16384
#: Its threads start with the first large result. Jobs encoding at once
#: share them; a block never waits for another, so none can wait forever.
_workers = ThreadPoolExecutor(
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
    thread_name_prefix="finseg-encode")


def _in_blocks(rows: int, work: Callable[[int, int], None]) -> None:
    """Calls work(lo, hi) for the blocks of `rows`, on the encoder's threads."""
    blocks = [(lo, min(rows, lo + BLOCK_ROWS)) for lo in range(0, rows, BLOCK_ROWS)]
    if len(blocks) <= 1:
        for lo, hi in blocks:
            work(lo, hi)
        return
    for done in [_workers.submit(work, lo, hi) for lo, hi in blocks]:
        done.result()


def encode(rows: pa.StructArray | pa.Table, descriptor: Descriptor) -> Column:
    """Each row serialized as a `descriptor` message; its columns are named
    after the message's fields (absent ones are left at their default)."""
    message = _Message(rows, descriptor)
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(message.sizes, out=offsets[1:])
    out = np.empty(int(offsets[-1]), np.uint8)
    _in_blocks(len(rows), lambda lo, hi: message.put(out, offsets[lo:hi], lo, hi))
    return offsets, out


def _one_chunk(column: Any) -> pa.Array:
    """The array of a column; chunks are joined only when there are several
    (combine_chunks copies even one)."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], column.type)


def encode_members(page_name: str, table: pa.Table) -> pa.Table:
    """The job's members table as stored: user_id (erasure finds members by
    it) and each member's bytes, framed as an element of its page's
    `members` field."""
    page = _page_field(page_name).message_type
    member = page.fields_by_name["members"]
    tag = _tag(member.number, _LENGTH_DELIMITED)
    message = _Message(table, member.message_type)
    offsets = np.zeros(table.num_rows + 1, np.int64)
    np.cumsum(wire.element_sizes(tag, message.sizes), out=offsets[1:])
    data = np.empty(int(offsets[-1]), np.uint8)

    def write(lo: int, hi: int) -> None:
        at = wire.put_heads(data, offsets[lo:hi], tag, message.sizes[lo:hi])
        message.put(data, at, lo, hi)

    _in_blocks(table.num_rows, write)
    column = pa.Array.from_buffers(pa.large_binary(), table.num_rows,
                                   [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    # A ranking of merchants has no user_id: nothing of it is one user's.
    kept = {"user_id": table.column("user_id")} if "user_id" in table.column_names else {}
    return pa.table({**kept, MEMBER_COLUMN: column})


def _head(number: int, length: int) -> bytes:
    """The key and length of a length-delimited field of `length` bytes."""
    return _tag(number, _LENGTH_DELIMITED).tobytes() + _varint(length)


def fitting(table: pa.Table, limit: int = PAGE_BYTES) -> int:
    """How many leading members of a stored members table fit in `limit`
    bytes; at least one, so that paging always moves on."""
    sizes = np.concatenate([np.diff(_binary(chunk)[0])
                            for chunk in table.column(MEMBER_COLUMN).chunks])
    return max(1, int(np.searchsorted(np.cumsum(sizes), limit, side="right")))


def members_bytes(table: pa.Table) -> list[memoryview]:
    """The member bytes of a slice of a stored members table, one after
    another: views of the buffers they are stored in, not copied."""
    return [_binary(chunk)[1].data for chunk in table.column(MEMBER_COLUMN).chunks]


def with_page(envelope: Any, page_name: str, members: Sequence[bytes | memoryview]) -> bytes:
    """`envelope` (a GetSegmentResponse or StreamSegmentResponse without its
    page) serialized, with the page of `members` (`members_bytes`) as its
    field `page`: the one copy of the member bytes is into the response."""
    length = sum(len(piece) for piece in members)
    inner = _head(_page_field(page_name).number, length)
    outer = _head(envelope.DESCRIPTOR.fields_by_name["page"].number, len(inner) + length)
    return b"".join([envelope.SerializeToString(), outer, inner, *members])
