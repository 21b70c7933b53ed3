"""The columnar protobuf encoder against protobuf's own serializer.

For every result member message, random members (with the values that
bite: int64 and int32 extremes, -0.0, NaN, empty strings and lists, multi-byte
UTF-8, lengths past one varint byte) are built once as Arrow columns and
once as protobuf messages; the encoder's bytes must equal
`SerializeToString` byte for byte, and pages cut from stored members must
parse back to the same members.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import wire as kernels
from finseg.server.transport import wire
from finseg.v1 import segments_pb2

#: Page names: a segment type's, or a drill-down's (MERCHANT_CUSTOMERS).
TYPES = [f.name.upper() for f in segments_pb2.ResultPage.DESCRIPTOR.fields]
INT64 = st.one_of(st.sampled_from([0, 1, -1, 127, 128, 2**63 - 1, -2**63, 16383, 16384]),
                  st.integers(-2**63, 2**63 - 1))
DOUBLE = st.one_of(st.sampled_from([0.0, -0.0, float("nan"), float("inf"), -float("inf"),
                                    5e-324]),
                   st.floats(allow_nan=False))
INT32 = st.one_of(st.sampled_from([0, 1, -1, 127, 128, 2**31 - 1, -2**31]),
                  st.integers(-2**31, 2**31 - 1))
TEXT = st.one_of(st.sampled_from(["", "EUR", "ü€😀", "x" * 127, "y" * 128, "z" * 16384]),
                 st.text(max_size=40))


def _member_descriptor(type_name: str) -> Descriptor:
    page = segments_pb2.ResultPage.DESCRIPTOR.fields_by_name[type_name.lower()].message_type
    return page.fields_by_name["members"].message_type


def _arrow_type(field: FieldDescriptor) -> pa.DataType:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        item: pa.DataType = pa.struct([(f.name, _arrow_type(f))
                                       for f in field.message_type.fields])
    elif field.type == FieldDescriptor.TYPE_STRING:
        item = pa.string()
    elif field.type == FieldDescriptor.TYPE_DOUBLE:
        item = pa.float64()
    elif field.type == FieldDescriptor.TYPE_ENUM:
        item = pa.string()  # the domain names enum values
    elif field.type == FieldDescriptor.TYPE_BOOL:
        item = pa.bool_()
    elif field.type == FieldDescriptor.TYPE_INT32:
        item = pa.int32()
    else:
        item = pa.int64()
    return pa.list_(item) if field.is_repeated else item


def _value(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        item: st.SearchStrategy[Any] = _message(field.message_type)
    elif field.type == FieldDescriptor.TYPE_STRING:
        item = TEXT
    elif field.type == FieldDescriptor.TYPE_DOUBLE:
        item = DOUBLE
    elif field.type == FieldDescriptor.TYPE_ENUM:
        item = st.sampled_from([v.name for v in field.enum_type.values])
    elif field.type == FieldDescriptor.TYPE_BOOL:
        item = st.booleans()
    elif field.type == FieldDescriptor.TYPE_INT32:
        item = INT32
    else:
        item = INT64
    return st.lists(item, max_size=4) if field.is_repeated else item


def _message(descriptor: Descriptor) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f.name: _value(f) for f in descriptor.fields})


def _table(descriptor: Descriptor, rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema([(f.name, _arrow_type(f)) for f in descriptor.fields])
    return pa.Table.from_pylist(rows, schema=schema)


def _dictionary_strings(array: pa.Array) -> pa.Array:
    """`array` with every string column, at any depth, dictionary-encoded,
    as the segment types give currencies and group names."""
    if pa.types.is_string(array.type):
        return array.dictionary_encode()
    if pa.types.is_list(array.type):
        return pa.ListArray.from_arrays(array.offsets, _dictionary_strings(array.values))
    if pa.types.is_struct(array.type):
        return pa.StructArray.from_arrays(
            [_dictionary_strings(child) for child in array.flatten()],
            names=[field.name for field in array.type])
    return array


@pytest.mark.parametrize("type_name", TYPES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_encoded_members_equal_protobufs_serialization(type_name: str, data: Any) -> None:
    descriptor = _member_descriptor(type_name)
    rows = data.draw(st.lists(_message(descriptor), max_size=6))
    cut = data.draw(st.integers(0, len(rows)))
    table = _table(descriptor, rows)
    if data.draw(st.booleans()):
        table = pa.table({name: _dictionary_strings(table.column(name).combine_chunks())
                          for name in table.column_names})
    # Sliced and in two chunks: the encoder must honour Arrow's offsets.
    table = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    # Written in blocks of a few members too, as a large result is.
    block, wire.BLOCK_ROWS = wire.BLOCK_ROWS, data.draw(st.sampled_from([1, 2, wire.BLOCK_ROWS]))
    try:
        offsets, encoded = wire.encode(table, descriptor)
    finally:
        wire.BLOCK_ROWS = block
    message = segments_pb2.__dict__[descriptor.name]
    expected = [message(**row).SerializeToString() for row in rows]
    assert [encoded[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(rows))] == expected


@pytest.mark.parametrize("type_name", TYPES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_pages_cut_from_stored_members_parse_to_the_members(type_name: str, data: Any) -> None:
    descriptor = _member_descriptor(type_name)
    rows = data.draw(st.lists(_message(descriptor), max_size=8))
    block, wire.BLOCK_ROWS = wire.BLOCK_ROWS, data.draw(st.sampled_from([1, 3, wire.BLOCK_ROWS]))
    try:
        stored = wire.encode_members(type_name, _table(descriptor, rows))
    finally:
        wire.BLOCK_ROWS = block
    if "user_id" in descriptor.fields_by_name:  # erasure finds members by it
        assert stored.column("user_id").to_pylist() == [r["user_id"] for r in rows]
    else:  # a ranking of merchants: nothing to find a user by
        assert stored.column_names == [wire.MEMBER_COLUMN]
    offset = data.draw(st.integers(0, len(rows)))
    size = data.draw(st.integers(1, 10))
    envelope = segments_pb2.GetSegmentResponse(total_pages=3, next_page_token="t")
    raw = wire.with_page(envelope, type_name, wire.members_bytes(stored.slice(offset, size)))
    parsed = segments_pb2.GetSegmentResponse.FromString(raw)
    assert parsed.total_pages == 3 and parsed.next_page_token == "t"
    assert parsed.page.WhichOneof("rows") == type_name.lower()
    message = segments_pb2.__dict__[descriptor.name]
    assert list(getattr(parsed.page, type_name.lower()).members) == \
        [message(**row) for row in rows[offset:offset + size]]


def test_unknown_columns_are_refused() -> None:
    descriptor = _member_descriptor("HIGH_BALANCE")
    with pytest.raises(ValueError, match="no field"):
        wire.encode(pa.table({"user_id": ["u"], "balance": [1]}), descriptor)


def test_varint_sizes_at_every_length_boundary() -> None:
    """The kernels' size of a varint (arithmetic, not a loop) at each value
    where the varint grows a byte, and one below."""
    values = sorted({0} | {2**k for k in range(64)} | {2**k - 1 for k in range(1, 65)})
    sizes = np.zeros(len(values), np.int64)
    kernels.add_scalar_sizes(sizes, np.zeros(0, np.uint8), np.array(values, np.uint64))
    assert sizes.tolist() == [0] + [len(wire._varint(v)) for v in values[1:]]
