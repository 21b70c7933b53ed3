from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[AccountType]
    ACCOUNT_TYPE_CHECKING: _ClassVar[AccountType]
    ACCOUNT_TYPE_SAVINGS: _ClassVar[AccountType]
    ACCOUNT_TYPE_CREDIT_CARD: _ClassVar[AccountType]
    ACCOUNT_TYPE_SECURITIES: _ClassVar[AccountType]
    ACCOUNT_TYPE_LOAN: _ClassVar[AccountType]
    ACCOUNT_TYPE_MEMBERSHIP: _ClassVar[AccountType]
    ACCOUNT_TYPE_BUILDING_SAVINGS: _ClassVar[AccountType]
    ACCOUNT_TYPE_OTHER: _ClassVar[AccountType]
ACCOUNT_TYPE_UNSPECIFIED: AccountType
ACCOUNT_TYPE_CHECKING: AccountType
ACCOUNT_TYPE_SAVINGS: AccountType
ACCOUNT_TYPE_CREDIT_CARD: AccountType
ACCOUNT_TYPE_SECURITIES: AccountType
ACCOUNT_TYPE_LOAN: AccountType
ACCOUNT_TYPE_MEMBERSHIP: AccountType
ACCOUNT_TYPE_BUILDING_SAVINGS: AccountType
ACCOUNT_TYPE_OTHER: AccountType

class Money(_message.Message):
    __slots__ = ("currency", "amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount: int
    def __init__(self, currency: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...
