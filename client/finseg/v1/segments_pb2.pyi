import datetime

from finseg.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_TYPE_UNSPECIFIED: _ClassVar[SegmentType]
    SEGMENT_TYPE_HIGH_BALANCE: _ClassVar[SegmentType]
    SEGMENT_TYPE_LOW_BALANCE: _ClassVar[SegmentType]
    SEGMENT_TYPE_INCOME_SPENDING_SUMMARY: _ClassVar[SegmentType]
    SEGMENT_TYPE_FINANCIAL_BREAKDOWN: _ClassVar[SegmentType]
    SEGMENT_TYPE_INSURANCE_SPENDING: _ClassVar[SegmentType]
    SEGMENT_TYPE_RFM: _ClassVar[SegmentType]
    SEGMENT_TYPE_RULE: _ClassVar[SegmentType]
    SEGMENT_TYPE_MERCHANT_AFFINITY: _ClassVar[SegmentType]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_PENDING: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class SegmentEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_EVENT_TYPE_UNSPECIFIED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_ENTER: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_EXIT: _ClassVar[SegmentEventType]

class EventCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_CAUSE_UNSPECIFIED: _ClassVar[EventCause]
    EVENT_CAUSE_CREATED: _ClassVar[EventCause]
    EVENT_CAUSE_BATCH: _ClassVar[EventCause]
    EVENT_CAUSE_ACCOUNTS: _ClassVar[EventCause]
    EVENT_CAUSE_ERASURE: _ClassVar[EventCause]
    EVENT_CAUSE_DAY: _ClassVar[EventCause]

class Frequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FREQUENCY_UNSPECIFIED: _ClassVar[Frequency]
    FREQUENCY_ONCE: _ClassVar[Frequency]
    FREQUENCY_MONTHLY: _ClassVar[Frequency]
    FREQUENCY_QUARTERLY: _ClassVar[Frequency]
    FREQUENCY_HALF_YEARLY: _ClassVar[Frequency]
    FREQUENCY_YEARLY: _ClassVar[Frequency]
    FREQUENCY_IRREGULAR: _ClassVar[Frequency]
SEGMENT_TYPE_UNSPECIFIED: SegmentType
SEGMENT_TYPE_HIGH_BALANCE: SegmentType
SEGMENT_TYPE_LOW_BALANCE: SegmentType
SEGMENT_TYPE_INCOME_SPENDING_SUMMARY: SegmentType
SEGMENT_TYPE_FINANCIAL_BREAKDOWN: SegmentType
SEGMENT_TYPE_INSURANCE_SPENDING: SegmentType
SEGMENT_TYPE_RFM: SegmentType
SEGMENT_TYPE_RULE: SegmentType
SEGMENT_TYPE_MERCHANT_AFFINITY: SegmentType
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_PENDING: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
SEGMENT_EVENT_TYPE_UNSPECIFIED: SegmentEventType
SEGMENT_EVENT_TYPE_ENTER: SegmentEventType
SEGMENT_EVENT_TYPE_EXIT: SegmentEventType
EVENT_CAUSE_UNSPECIFIED: EventCause
EVENT_CAUSE_CREATED: EventCause
EVENT_CAUSE_BATCH: EventCause
EVENT_CAUSE_ACCOUNTS: EventCause
EVENT_CAUSE_ERASURE: EventCause
EVENT_CAUSE_DAY: EventCause
FREQUENCY_UNSPECIFIED: Frequency
FREQUENCY_ONCE: Frequency
FREQUENCY_MONTHLY: Frequency
FREQUENCY_QUARTERLY: Frequency
FREQUENCY_HALF_YEARLY: Frequency
FREQUENCY_YEARLY: Frequency
FREQUENCY_IRREGULAR: Frequency

class HighBalance(_message.Message):
    __slots__ = ("threshold",)
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    threshold: _common_pb2.Money
    def __init__(self, threshold: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class LowBalance(_message.Message):
    __slots__ = ("threshold", "months")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    threshold: _common_pb2.Money
    months: int
    def __init__(self, threshold: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., months: _Optional[int] = ...) -> None: ...

class IncomeSpendingSummary(_message.Message):
    __slots__ = ("from_date", "to_date")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ...) -> None: ...

class FinancialBreakdown(_message.Message):
    __slots__ = ("label_groups", "months")
    LABEL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    label_groups: _containers.RepeatedScalarFieldContainer[str]
    months: int
    def __init__(self, label_groups: _Optional[_Iterable[str]] = ..., months: _Optional[int] = ...) -> None: ...

class InsuranceSpending(_message.Message):
    __slots__ = ("months", "insurance_types")
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    months: int
    insurance_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, months: _Optional[int] = ..., insurance_types: _Optional[_Iterable[str]] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("expression", "currency")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    expression: str
    currency: str
    def __init__(self, expression: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class Rfm(_message.Message):
    __slots__ = ("window_days", "label_groups", "currency", "segment_names")
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    LABEL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    window_days: int
    label_groups: _containers.RepeatedScalarFieldContainer[str]
    currency: str
    segment_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, window_days: _Optional[int] = ..., label_groups: _Optional[_Iterable[str]] = ..., currency: _Optional[str] = ..., segment_names: _Optional[_Iterable[str]] = ...) -> None: ...

class MerchantAffinity(_message.Message):
    __slots__ = ("months", "min_customers", "counterparty")
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    MIN_CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    months: int
    min_customers: int
    counterparty: str
    def __init__(self, months: _Optional[int] = ..., min_customers: _Optional[int] = ..., counterparty: _Optional[str] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("url", "secret")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class WebhookStatus(_message.Message):
    __slots__ = ("url", "delivered_sequence", "last_error")
    URL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    url: str
    delivered_sequence: int
    last_error: str
    def __init__(self, url: _Optional[str] = ..., delivered_sequence: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class SegmentSpec(_message.Message):
    __slots__ = ("account_types", "as_of", "live", "webhook", "callback_url", "high_balance", "low_balance", "income_spending_summary", "financial_breakdown", "insurance_spending", "rfm", "rule", "merchant_affinity")
    ACCOUNT_TYPES_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    HIGH_BALANCE_FIELD_NUMBER: _ClassVar[int]
    LOW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    INCOME_SPENDING_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FINANCIAL_BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_SPENDING_FIELD_NUMBER: _ClassVar[int]
    RFM_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_AFFINITY_FIELD_NUMBER: _ClassVar[int]
    account_types: _containers.RepeatedScalarFieldContainer[_common_pb2.AccountType]
    as_of: str
    live: bool
    webhook: Webhook
    callback_url: str
    high_balance: HighBalance
    low_balance: LowBalance
    income_spending_summary: IncomeSpendingSummary
    financial_breakdown: FinancialBreakdown
    insurance_spending: InsuranceSpending
    rfm: Rfm
    rule: Rule
    merchant_affinity: MerchantAffinity
    def __init__(self, account_types: _Optional[_Iterable[_Union[_common_pb2.AccountType, str]]] = ..., as_of: _Optional[str] = ..., live: _Optional[bool] = ..., webhook: _Optional[_Union[Webhook, _Mapping]] = ..., callback_url: _Optional[str] = ..., high_balance: _Optional[_Union[HighBalance, _Mapping]] = ..., low_balance: _Optional[_Union[LowBalance, _Mapping]] = ..., income_spending_summary: _Optional[_Union[IncomeSpendingSummary, _Mapping]] = ..., financial_breakdown: _Optional[_Union[FinancialBreakdown, _Mapping]] = ..., insurance_spending: _Optional[_Union[InsuranceSpending, _Mapping]] = ..., rfm: _Optional[_Union[Rfm, _Mapping]] = ..., rule: _Optional[_Union[Rule, _Mapping]] = ..., merchant_affinity: _Optional[_Union[MerchantAffinity, _Mapping]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("segment_id", "type", "spec", "state", "progress", "create_time", "expire_time", "as_of", "error", "total_elements", "compute_time", "rows_scanned", "live", "last_sequence", "webhook")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    type: SegmentType
    spec: SegmentSpec
    state: JobState
    progress: float
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    as_of: str
    error: str
    total_elements: int
    compute_time: _duration_pb2.Duration
    rows_scanned: int
    live: bool
    last_sequence: int
    webhook: WebhookStatus
    def __init__(self, segment_id: _Optional[str] = ..., type: _Optional[_Union[SegmentType, str]] = ..., spec: _Optional[_Union[SegmentSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[str] = ..., error: _Optional[str] = ..., total_elements: _Optional[int] = ..., compute_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., rows_scanned: _Optional[int] = ..., live: _Optional[bool] = ..., last_sequence: _Optional[int] = ..., webhook: _Optional[_Union[WebhookStatus, _Mapping]] = ...) -> None: ...

class WatchSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "after_sequence")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    after_sequence: int
    def __init__(self, segment_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchSegmentResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[SegmentEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[SegmentEvent, _Mapping]]] = ...) -> None: ...

class SegmentEvent(_message.Message):
    __slots__ = ("sequence", "segment_id", "type", "user_id", "erased", "time", "cause", "batch_id")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    segment_id: str
    type: SegmentEventType
    user_id: str
    erased: bool
    time: _timestamp_pb2.Timestamp
    cause: EventCause
    batch_id: str
    def __init__(self, sequence: _Optional[int] = ..., segment_id: _Optional[str] = ..., type: _Optional[_Union[SegmentEventType, str]] = ..., user_id: _Optional[str] = ..., erased: _Optional[bool] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cause: _Optional[_Union[EventCause, str]] = ..., batch_id: _Optional[str] = ...) -> None: ...

class CreateSegmentRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: SegmentSpec
    def __init__(self, spec: _Optional[_Union[SegmentSpec, _Mapping]] = ...) -> None: ...

class CreateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class GetSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "page_size", "page_token")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    page_size: int
    page_token: str
    def __init__(self, segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetSegmentResponse(_message.Message):
    __slots__ = ("segment", "page", "total_pages", "next_page_token")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    page: ResultPage
    total_pages: int
    next_page_token: str
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ..., page: _Optional[_Union[ResultPage, _Mapping]] = ..., total_pages: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "page_size")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    page_size: int
    def __init__(self, segment_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class StreamSegmentResponse(_message.Message):
    __slots__ = ("segment", "page", "page_index")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    page: ResultPage
    page_index: int
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ..., page: _Optional[_Union[ResultPage, _Mapping]] = ..., page_index: _Optional[int] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states", "types")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[JobState]
    types: _containers.RepeatedScalarFieldContainer[SegmentType]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[JobState, str]]] = ..., types: _Optional[_Iterable[_Union[SegmentType, str]]] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "next_page_token")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    next_page_token: str
    def __init__(self, segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class CancelSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class DeleteSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class DeleteSegmentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResultPage(_message.Message):
    __slots__ = ("high_balance", "low_balance", "income_spending_summary", "financial_breakdown", "insurance_spending", "rfm", "rule", "merchant_affinity", "merchant_customers")
    HIGH_BALANCE_FIELD_NUMBER: _ClassVar[int]
    LOW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    INCOME_SPENDING_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FINANCIAL_BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_SPENDING_FIELD_NUMBER: _ClassVar[int]
    RFM_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_AFFINITY_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    high_balance: HighBalancePage
    low_balance: LowBalancePage
    income_spending_summary: IncomeSpendingSummaryPage
    financial_breakdown: FinancialBreakdownPage
    insurance_spending: InsuranceSpendingPage
    rfm: RfmPage
    rule: RulePage
    merchant_affinity: MerchantAffinityPage
    merchant_customers: MerchantCustomersPage
    def __init__(self, high_balance: _Optional[_Union[HighBalancePage, _Mapping]] = ..., low_balance: _Optional[_Union[LowBalancePage, _Mapping]] = ..., income_spending_summary: _Optional[_Union[IncomeSpendingSummaryPage, _Mapping]] = ..., financial_breakdown: _Optional[_Union[FinancialBreakdownPage, _Mapping]] = ..., insurance_spending: _Optional[_Union[InsuranceSpendingPage, _Mapping]] = ..., rfm: _Optional[_Union[RfmPage, _Mapping]] = ..., rule: _Optional[_Union[RulePage, _Mapping]] = ..., merchant_affinity: _Optional[_Union[MerchantAffinityPage, _Mapping]] = ..., merchant_customers: _Optional[_Union[MerchantCustomersPage, _Mapping]] = ...) -> None: ...

class HighBalancePage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[HighBalanceMember]
    def __init__(self, members: _Optional[_Iterable[_Union[HighBalanceMember, _Mapping]]] = ...) -> None: ...

class HighBalanceMember(_message.Message):
    __slots__ = ("user_id", "accounts")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    accounts: _containers.RepeatedCompositeFieldContainer[HighBalanceAccount]
    def __init__(self, user_id: _Optional[str] = ..., accounts: _Optional[_Iterable[_Union[HighBalanceAccount, _Mapping]]] = ...) -> None: ...

class HighBalanceAccount(_message.Message):
    __slots__ = ("account_id", "currency", "amount")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    currency: str
    amount: int
    def __init__(self, account_id: _Optional[str] = ..., currency: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class LowBalancePage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[LowBalanceMember]
    def __init__(self, members: _Optional[_Iterable[_Union[LowBalanceMember, _Mapping]]] = ...) -> None: ...

class LowBalanceMember(_message.Message):
    __slots__ = ("user_id", "accounts")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    accounts: _containers.RepeatedCompositeFieldContainer[LowBalanceAccount]
    def __init__(self, user_id: _Optional[str] = ..., accounts: _Optional[_Iterable[_Union[LowBalanceAccount, _Mapping]]] = ...) -> None: ...

class LowBalanceAccount(_message.Message):
    __slots__ = ("account_id", "currency", "amount", "monthly_minimums")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_MINIMUMS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    currency: str
    amount: int
    monthly_minimums: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, account_id: _Optional[str] = ..., currency: _Optional[str] = ..., amount: _Optional[int] = ..., monthly_minimums: _Optional[_Iterable[int]] = ...) -> None: ...

class IncomeSpendingSummaryPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[IncomeSpendingSummaryMember]
    def __init__(self, members: _Optional[_Iterable[_Union[IncomeSpendingSummaryMember, _Mapping]]] = ...) -> None: ...

class IncomeSpendingSummaryMember(_message.Message):
    __slots__ = ("user_id", "currencies")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCIES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    currencies: _containers.RepeatedCompositeFieldContainer[CurrencySummary]
    def __init__(self, user_id: _Optional[str] = ..., currencies: _Optional[_Iterable[_Union[CurrencySummary, _Mapping]]] = ...) -> None: ...

class CurrencySummary(_message.Message):
    __slots__ = ("currency", "incoming_count", "incoming_sum", "outgoing_count", "outgoing_sum")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    INCOMING_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCOMING_SUM_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_SUM_FIELD_NUMBER: _ClassVar[int]
    currency: str
    incoming_count: int
    incoming_sum: int
    outgoing_count: int
    outgoing_sum: int
    def __init__(self, currency: _Optional[str] = ..., incoming_count: _Optional[int] = ..., incoming_sum: _Optional[int] = ..., outgoing_count: _Optional[int] = ..., outgoing_sum: _Optional[int] = ...) -> None: ...

class FinancialBreakdownPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[FinancialBreakdownMember]
    def __init__(self, members: _Optional[_Iterable[_Union[FinancialBreakdownMember, _Mapping]]] = ...) -> None: ...

class FinancialBreakdownMember(_message.Message):
    __slots__ = ("user_id", "groups")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    groups: _containers.RepeatedCompositeFieldContainer[GroupBreakdown]
    def __init__(self, user_id: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[GroupBreakdown, _Mapping]]] = ...) -> None: ...

class GroupBreakdown(_message.Message):
    __slots__ = ("label_group", "currency", "count", "total", "monthly_sums", "average", "min", "max", "median", "std_dev")
    LABEL_GROUP_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_SUMS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    STD_DEV_FIELD_NUMBER: _ClassVar[int]
    label_group: str
    currency: str
    count: int
    total: int
    monthly_sums: _containers.RepeatedScalarFieldContainer[int]
    average: float
    min: int
    max: int
    median: float
    std_dev: float
    def __init__(self, label_group: _Optional[str] = ..., currency: _Optional[str] = ..., count: _Optional[int] = ..., total: _Optional[int] = ..., monthly_sums: _Optional[_Iterable[int]] = ..., average: _Optional[float] = ..., min: _Optional[int] = ..., max: _Optional[int] = ..., median: _Optional[float] = ..., std_dev: _Optional[float] = ...) -> None: ...

class InsuranceSpendingPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[InsuranceSpendingMember]
    def __init__(self, members: _Optional[_Iterable[_Union[InsuranceSpendingMember, _Mapping]]] = ...) -> None: ...

class InsuranceSpendingMember(_message.Message):
    __slots__ = ("user_id", "contracts")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    contracts: _containers.RepeatedCompositeFieldContainer[InsuranceContract]
    def __init__(self, user_id: _Optional[str] = ..., contracts: _Optional[_Iterable[_Union[InsuranceContract, _Mapping]]] = ...) -> None: ...

class InsuranceContract(_message.Message):
    __slots__ = ("provider_key", "provider_name", "insurance_type", "currency", "payment_count", "first_payment", "last_payment", "typical_amount", "frequency", "annual_cost")
    PROVIDER_KEY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_PAYMENT_FIELD_NUMBER: _ClassVar[int]
    LAST_PAYMENT_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_COST_FIELD_NUMBER: _ClassVar[int]
    provider_key: str
    provider_name: str
    insurance_type: str
    currency: str
    payment_count: int
    first_payment: str
    last_payment: str
    typical_amount: float
    frequency: Frequency
    annual_cost: float
    def __init__(self, provider_key: _Optional[str] = ..., provider_name: _Optional[str] = ..., insurance_type: _Optional[str] = ..., currency: _Optional[str] = ..., payment_count: _Optional[int] = ..., first_payment: _Optional[str] = ..., last_payment: _Optional[str] = ..., typical_amount: _Optional[float] = ..., frequency: _Optional[_Union[Frequency, str]] = ..., annual_cost: _Optional[float] = ...) -> None: ...

class RulePage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[RuleMember]
    def __init__(self, members: _Optional[_Iterable[_Union[RuleMember, _Mapping]]] = ...) -> None: ...

class RuleMember(_message.Message):
    __slots__ = ("user_id", "metrics")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    metrics: _containers.RepeatedCompositeFieldContainer[RuleMetric]
    def __init__(self, user_id: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[RuleMetric, _Mapping]]] = ...) -> None: ...

class RuleMetric(_message.Message):
    __slots__ = ("metric", "value", "average", "missing")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    metric: str
    value: int
    average: float
    missing: bool
    def __init__(self, metric: _Optional[str] = ..., value: _Optional[int] = ..., average: _Optional[float] = ..., missing: _Optional[bool] = ...) -> None: ...

class RfmPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[RfmMember]
    def __init__(self, members: _Optional[_Iterable[_Union[RfmMember, _Mapping]]] = ...) -> None: ...

class RfmMember(_message.Message):
    __slots__ = ("user_id", "recency", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code", "segment_name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    MONETARY_FIELD_NUMBER: _ClassVar[int]
    R_SCORE_FIELD_NUMBER: _ClassVar[int]
    F_SCORE_FIELD_NUMBER: _ClassVar[int]
    M_SCORE_FIELD_NUMBER: _ClassVar[int]
    RFM_CODE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    recency: int
    frequency: int
    monetary: int
    r_score: int
    f_score: int
    m_score: int
    rfm_code: str
    segment_name: str
    def __init__(self, user_id: _Optional[str] = ..., recency: _Optional[int] = ..., frequency: _Optional[int] = ..., monetary: _Optional[int] = ..., r_score: _Optional[int] = ..., f_score: _Optional[int] = ..., m_score: _Optional[int] = ..., rfm_code: _Optional[str] = ..., segment_name: _Optional[str] = ...) -> None: ...

class MerchantAffinityPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MerchantAffinityMember]
    def __init__(self, members: _Optional[_Iterable[_Union[MerchantAffinityMember, _Mapping]]] = ...) -> None: ...

class MerchantAffinityMember(_message.Message):
    __slots__ = ("merchant_key", "merchant_name", "currency", "customers", "transactions", "spend")
    MERCHANT_KEY_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    merchant_key: str
    merchant_name: str
    currency: str
    customers: int
    transactions: int
    spend: int
    def __init__(self, merchant_key: _Optional[str] = ..., merchant_name: _Optional[str] = ..., currency: _Optional[str] = ..., customers: _Optional[int] = ..., transactions: _Optional[int] = ..., spend: _Optional[int] = ...) -> None: ...

class MerchantCustomersPage(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MerchantCustomer]
    def __init__(self, members: _Optional[_Iterable[_Union[MerchantCustomer, _Mapping]]] = ...) -> None: ...

class MerchantCustomer(_message.Message):
    __slots__ = ("user_id", "currency", "transactions", "spend", "first_purchase", "last_purchase")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    FIRST_PURCHASE_FIELD_NUMBER: _ClassVar[int]
    LAST_PURCHASE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    currency: str
    transactions: int
    spend: int
    first_purchase: str
    last_purchase: str
    def __init__(self, user_id: _Optional[str] = ..., currency: _Optional[str] = ..., transactions: _Optional[int] = ..., spend: _Optional[int] = ..., first_purchase: _Optional[str] = ..., last_purchase: _Optional[str] = ...) -> None: ...
