from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LabelTaxonomy(_message.Message):
    __slots__ = ("groups", "aliases")
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedScalarFieldContainer[str]
    aliases: _containers.ScalarMap[str, str]
    def __init__(self, groups: _Optional[_Iterable[str]] = ..., aliases: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetTaxonomyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTaxonomyResponse(_message.Message):
    __slots__ = ("taxonomy", "is_default")
    TAXONOMY_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    taxonomy: LabelTaxonomy
    is_default: bool
    def __init__(self, taxonomy: _Optional[_Union[LabelTaxonomy, _Mapping]] = ..., is_default: _Optional[bool] = ...) -> None: ...

class ReplaceTaxonomyRequest(_message.Message):
    __slots__ = ("taxonomy", "restore_default")
    TAXONOMY_FIELD_NUMBER: _ClassVar[int]
    RESTORE_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    taxonomy: LabelTaxonomy
    restore_default: bool
    def __init__(self, taxonomy: _Optional[_Union[LabelTaxonomy, _Mapping]] = ..., restore_default: _Optional[bool] = ...) -> None: ...

class ReplaceTaxonomyResponse(_message.Message):
    __slots__ = ("taxonomy", "is_default")
    TAXONOMY_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    taxonomy: LabelTaxonomy
    is_default: bool
    def __init__(self, taxonomy: _Optional[_Union[LabelTaxonomy, _Mapping]] = ..., is_default: _Optional[bool] = ...) -> None: ...
