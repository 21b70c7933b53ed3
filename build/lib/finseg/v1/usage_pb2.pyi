from finseg.v1 import segments_pb2 as _segments_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SegmentTypeUsage(_message.Message):
    __slots__ = ("type", "jobs_created", "rows_scanned", "result_rows_returned")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JOBS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ROWS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    RESULT_ROWS_RETURNED_FIELD_NUMBER: _ClassVar[int]
    type: _segments_pb2.SegmentType
    jobs_created: int
    rows_scanned: int
    result_rows_returned: int
    def __init__(self, type: _Optional[_Union[_segments_pb2.SegmentType, str]] = ..., jobs_created: _Optional[int] = ..., rows_scanned: _Optional[int] = ..., result_rows_returned: _Optional[int] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: _containers.RepeatedCompositeFieldContainer[SegmentTypeUsage]
    def __init__(self, usage: _Optional[_Iterable[_Union[SegmentTypeUsage, _Mapping]]] = ...) -> None: ...
