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


def _page_field(type_name: str) -> FieldDescriptor:
    return segments_pb2.ResultPage.DESCRIPTOR.fields_by_name[type_name.lower()]


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


def _group(list_offsets: np.ndarray, rows: Column) -> Column:
    """Row i: the rows list_offsets[i]..list_offsets[i+1]-1 of `rows` one
    after another; contiguous already, so nothing is copied."""
    offsets, data = rows
    grouped = offsets[list_offsets]
    return grouped - grouped[0], data[grouped[0]:grouped[-1]]


def _uint64(array: pa.Array, field: FieldDescriptor) -> np.ndarray:
    if field.type == FieldDescriptor.TYPE_ENUM and pa.types.is_string(array.type):
        names = field.enum_type.values_by_name
        encoded = array.dictionary_encode()
        numbers = np.array([names[name].number for name in encoded.dictionary.to_pylist()],
                           np.int64)
        values = numbers[encoded.indices.to_numpy(zero_copy_only=False)]
    else:
        values = array.to_numpy(zero_copy_only=False).astype(np.int64)
    # Negative int32 and int64 are ten bytes on the wire: their uint64 bits.
    return values.view(np.uint64)


def _scalars(field: FieldDescriptor, array: pa.Array, tag: np.ndarray, omit_zero: bool
             ) -> Column:
    if field.type in _VARINT_TYPES:
        return wire.varints(tag, _uint64(array, field), omit_zero)
    if field.type == FieldDescriptor.TYPE_DOUBLE and omit_zero:  # packed doubles: no need yet
        bits = array.to_numpy(zero_copy_only=False).astype(np.float64).view(np.uint64)
        return wire.fixed64s(tag, bits)
    raise TypeError(f"field {field.full_name} has a type the encoder does not support")


def _field(field: FieldDescriptor, array: pa.Array) -> Column:
    if field.is_repeated:
        list_offsets = np.asarray(array.offsets, np.int64)
        values = array.flatten()
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            elements = wire.framed(_tag(field.number, _LENGTH_DELIMITED),
                                   *encode(values, field.message_type), True)
            return _group(list_offsets - list_offsets[0], elements)
        # proto3 packs repeated scalars: one length-delimited run of values.
        payload = _group(list_offsets - list_offsets[0],
                         _scalars(field, values, np.zeros(0, np.uint8), omit_zero=False))
        return wire.framed(_tag(field.number, _LENGTH_DELIMITED), *payload, False)
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return wire.framed(_tag(field.number, _LENGTH_DELIMITED), *_binary(array), False)
    wire_type = _FIXED64 if field.type == FieldDescriptor.TYPE_DOUBLE else _VARINT
    return _scalars(field, array, _tag(field.number, wire_type), omit_zero=True)


def encode(rows: pa.StructArray | pa.Table, descriptor: Descriptor) -> Column:
    """Each row serialized as a `descriptor` message; its columns are named
    after the message's fields (absent ones are left at their default)."""
    columns = dict(zip(rows.column_names, rows.columns, strict=True)) \
        if isinstance(rows, pa.Table) else \
        {rows.type.field(i).name: child for i, child in enumerate(rows.flatten())}
    unknown = set(columns) - set(descriptor.fields_by_name)
    if unknown:
        raise ValueError(f"{descriptor.full_name} has no field {sorted(unknown)}")
    pieces = [_field(field, _one_chunk(columns[field.name]))
              for field in sorted(descriptor.fields, key=lambda f: f.number)
              if field.name in columns]
    if not pieces:
        return np.zeros(len(rows) + 1, np.int64), np.zeros(0, np.uint8)
    # The pieces side by side in one buffer, so one pass writes every row.
    bases = np.cumsum([0] + [len(data) for _, data in pieces[:-1]])
    offsets = np.stack([offsets for offsets, _ in pieces]) + bases[:, None]
    return wire.concat_rows(offsets, np.concatenate([data for _, data in pieces]))


def _one_chunk(column: Any) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def encode_members(type_name: str, table: pa.Table) -> pa.Table:
    """The job's members table as stored: user_id (erasure finds members by
    it) and each member's bytes, framed as an element of its page's
    `members` field."""
    page = _page_field(type_name).message_type
    member = page.fields_by_name["members"]
    offsets, data = wire.framed(_tag(member.number, _LENGTH_DELIMITED),
                                *encode(table, member.message_type), True)
    column = pa.Array.from_buffers(pa.large_binary(), table.num_rows,
                                   [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pa.table({"user_id": table.column("user_id"), MEMBER_COLUMN: column})


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _tag(number, _LENGTH_DELIMITED).tobytes() + _varint(len(payload)) + payload


def fitting(table: pa.Table, limit: int = PAGE_BYTES) -> int:
    """How many leading members of a stored members table fit in `limit`
    bytes; at least one, so that paging always moves on."""
    sizes = np.concatenate([np.diff(_binary(chunk)[0])
                            for chunk in table.column(MEMBER_COLUMN).chunks])
    return max(1, int(np.searchsorted(np.cumsum(sizes), limit, side="right")))


def members_bytes(table: pa.Table) -> bytes:
    """The concatenated member bytes of a slice of a stored members table."""
    return b"".join(_binary(chunk)[1].tobytes() for chunk in table.column(MEMBER_COLUMN).chunks)


def with_page(envelope: Any, type_name: str, members: bytes) -> bytes:
    """`envelope` (a GetSegmentResponse or StreamSegmentResponse without its
    page) serialized, with the page of `members` as its field `page`."""
    result_page = _length_delimited(_page_field(type_name).number, members)
    page_number = envelope.DESCRIPTOR.fields_by_name["page"].number
    return envelope.SerializeToString() + _length_delimited(page_number, result_page)
