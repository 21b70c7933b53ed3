from finseg.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Account(_message.Message):
    __slots__ = ("account_id", "user_id", "type", "currency", "balance", "balance_date", "opened_on", "closed_on")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_DATE_FIELD_NUMBER: _ClassVar[int]
    OPENED_ON_FIELD_NUMBER: _ClassVar[int]
    CLOSED_ON_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    user_id: str
    type: _common_pb2.AccountType
    currency: str
    balance: int
    balance_date: str
    opened_on: str
    closed_on: str
    def __init__(self, account_id: _Optional[str] = ..., user_id: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.AccountType, str]] = ..., currency: _Optional[str] = ..., balance: _Optional[int] = ..., balance_date: _Optional[str] = ..., opened_on: _Optional[str] = ..., closed_on: _Optional[str] = ...) -> None: ...

class UpsertAccountsRequest(_message.Message):
    __slots__ = ("accounts", "arrow_ipc")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    arrow_ipc: bytes
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., arrow_ipc: _Optional[bytes] = ...) -> None: ...

class UpsertAccountsResponse(_message.Message):
    __slots__ = ("upserted_count",)
    UPSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    upserted_count: int
    def __init__(self, upserted_count: _Optional[int] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("transaction_id", "account_id", "booking_date", "amount", "label", "counterparty_name", "counterparty_iban", "purpose", "mcc", "currency")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_IBAN_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    MCC_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    account_id: str
    booking_date: str
    amount: int
    label: str
    counterparty_name: str
    counterparty_iban: str
    purpose: str
    mcc: str
    currency: str
    def __init__(self, transaction_id: _Optional[str] = ..., account_id: _Optional[str] = ..., booking_date: _Optional[str] = ..., amount: _Optional[int] = ..., label: _Optional[str] = ..., counterparty_name: _Optional[str] = ..., counterparty_iban: _Optional[str] = ..., purpose: _Optional[str] = ..., mcc: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class TransactionRows(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ...) -> None: ...

class AppendTransactionsRequest(_message.Message):
    __slots__ = ("batch_id", "rows", "arrow_ipc")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    rows: TransactionRows
    arrow_ipc: bytes
    def __init__(self, batch_id: _Optional[str] = ..., rows: _Optional[_Union[TransactionRows, _Mapping]] = ..., arrow_ipc: _Optional[bytes] = ...) -> None: ...

class AppendTransactionsResponse(_message.Message):
    __slots__ = ("batch_id", "batch_index", "appended_count", "duplicate_count")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPENDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    batch_index: int
    appended_count: int
    duplicate_count: int
    def __init__(self, batch_id: _Optional[str] = ..., batch_index: _Optional[int] = ..., appended_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ("deleted_accounts", "deleted_transactions")
    DELETED_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    DELETED_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    deleted_accounts: int
    deleted_transactions: int
    def __init__(self, deleted_accounts: _Optional[int] = ..., deleted_transactions: _Optional[int] = ...) -> None: ...
