"""A Python client for finseg's gRPC API.

    with FinsegClient("127.0.0.1:50051", token=jwt) as client:
        client.upsert_accounts([{"account_id": "a1", "user_id": "u1", ...}])
        job = client.create_segment(low_balance("EUR", "0.00", months=3))
        for member in client.iter_members(job.segment_id):   # waits, then pages
            ...

Every call has a deadline (`timeout`, 60 s; streams `stream_timeout`, an
hour), is retried when waiting may cure its failure (see `Retry`), and
raises a FinsegError subclass (`errors`) carrying the status details. Arrow
bulk forms need pyarrow (`pip install 'finseg-client[arrow]'`); nothing else
does.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import grpc

from finseg.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    ingest_pb2,
    ingest_pb2_grpc,
    segments_pb2,
    segments_pb2_grpc,
    taxonomy_pb2,
    taxonomy_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)

from . import errors
from .currencies import EXPONENTS
from .retries import DEFAULT_RETRY, NO_RETRY, Deadline, Retry

if TYPE_CHECKING:
    import pyarrow as pa

#: Big enough for one bulk batch of a million rows.
MAX_MESSAGE_BYTES = 256 << 20

#: A money amount a helper takes: an int is minor units (cents), a Decimal
#: or a string is major units ("10.50" EUR), converted exactly.
Amount = int | Decimal | str


def _exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code finseg accepts"
                         ) from None


def minor_units(amount: str | int | Decimal, currency: str) -> int:
    """Exact minor units of a major-unit amount: minor_units("10.50", "EUR")
    == 1050. Raises ValueError for more decimals than the currency has."""
    exponent = _exponent(currency)
    if isinstance(amount, float | bool):
        raise TypeError(f"{amount!r}: money is a Decimal, a string or an int, never a float")
    try:
        value = Decimal(str(amount)).scaleb(exponent)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a decimal amount")
    if value != value.to_integral_value():
        raise ValueError(f"{amount} {currency} has more than {exponent} decimals")
    return int(value)


def major_units(amount: int, currency: str) -> str:
    """"-150.00" for minor_units -15000 in EUR: exact, no float."""
    exponent = _exponent(currency) if currency else 2
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    return sign + (digits[:-exponent] + "." + digits[-exponent:] if exponent else digits)


def decimal_amount(amount: int, currency: str) -> Decimal:
    """Decimal("-150.00") for minor units -15000 in EUR."""
    return Decimal(major_units(amount, currency))


def as_minor(amount: Amount, currency: str) -> int:
    """`amount` in minor units: an int as it is, a Decimal or string taken
    as major units (as_minor("50.00", "EUR") == as_minor(5000, "EUR"))."""
    if isinstance(amount, int) and not isinstance(amount, bool):
        return amount
    return minor_units(amount, currency)


def money(currency: str, amount: Amount) -> common_pb2.Money:
    return common_pb2.Money(currency=currency, amount=as_minor(amount, currency))


def high_balance(currency: str, threshold: Amount, *, as_of: dt.date | None = None,
                 account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a HIGH_BALANCE segment; threshold as `Amount` (an int is minor
    units, "50.00" major units)."""
    return segments_pb2.SegmentSpec(
        high_balance=segments_pb2.HighBalance(threshold=money(currency, threshold)),
        **_common(as_of, account_types))


def low_balance(currency: str, threshold: Amount, months: int, *,
                as_of: dt.date | None = None,
                account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a LOW_BALANCE segment; threshold as `Amount`."""
    return segments_pb2.SegmentSpec(
        low_balance=segments_pb2.LowBalance(threshold=money(currency, threshold),
                                            months=months),
        **_common(as_of, account_types))
def income_spending_summary(from_date: dt.date, to_date: dt.date, *,
                            account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of an INCOME_SPENDING_SUMMARY segment over [from_date, to_date]."""
    return segments_pb2.SegmentSpec(
        income_spending_summary=segments_pb2.IncomeSpendingSummary(
            from_date=from_date.isoformat(), to_date=to_date.isoformat()),
        **_common(None, account_types))


def financial_breakdown(label_groups: Iterable[str], months: int, *,
                        as_of: dt.date | None = None,
                        account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a FINANCIAL_BREAKDOWN segment over N complete months."""
    return segments_pb2.SegmentSpec(
        financial_breakdown=segments_pb2.FinancialBreakdown(
            label_groups=list(label_groups), months=months),
        **_common(as_of, account_types))


def insurance_spending(months: int, insurance_types: Iterable[str] = (), *,
                       as_of: dt.date | None = None,
                       account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of an INSURANCE_SPENDING segment over N complete months; no
    insurance_types means every type."""
    return segments_pb2.SegmentSpec(
        insurance_spending=segments_pb2.InsuranceSpending(
            months=months, insurance_types=list(insurance_types)),
        **_common(as_of, account_types))


def rule(expression: str, *, currency: str = "EUR", as_of: dt.date | None = None,
         account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a RULE segment: the users for whom `expression` holds, e.g.
    "frequency(days=30) > 3 AND avg_spend(days=30) > 50" (money literals in
    major units of `currency`)."""
    return segments_pb2.SegmentSpec(
        rule=segments_pb2.Rule(expression=expression, currency=currency),
        **_common(as_of, account_types))


def rfm(window_days: int, label_groups: Iterable[str] = (), *, currency: str = "EUR",
        segment_names: Iterable[str] = (), account_types: Iterable[str] = (),
        as_of: dt.date | None = None) -> segments_pb2.SegmentSpec:
    """Spec of an RFM segment over the outgoing transactions of the window
    (as_of - window_days, as_of] in `currency`; no label_groups means every
    such transaction, no segment_names every scored user."""
    return segments_pb2.SegmentSpec(
        rfm=segments_pb2.Rfm(window_days=window_days, label_groups=list(label_groups),
                             currency=currency, segment_names=list(segment_names)),
        **_common(as_of, account_types))


def merchant_affinity(months: int, min_customers: int = 0, counterparty: str = "", *,
                      as_of: dt.date | None = None, account_types: Iterable[str] = ()
                      ) -> segments_pb2.SegmentSpec:
    """Spec of a MERCHANT_AFFINITY segment over N complete months: the
    merchants with at least `min_customers` customers, or, given a
    counterparty name in any spelling, that merchant's customers."""
    return segments_pb2.SegmentSpec(
        merchant_affinity=segments_pb2.MerchantAffinity(
            months=months, min_customers=min_customers, counterparty=counterparty),
        **_common(as_of, account_types))


def live(spec: segments_pb2.SegmentSpec, webhook_url: str = "", webhook_secret: str = ""
         ) -> segments_pb2.SegmentSpec:
    """`spec` (HIGH_BALANCE, LOW_BALANCE or RULE, without as_of) as a live
    segment: kept current as data arrives, with an event per change, each
    also POSTed to `webhook_url` if given (signed with `webhook_secret`)."""
    spec = segments_pb2.SegmentSpec.FromString(spec.SerializeToString())
    spec.live = True
    if webhook_url:
        spec.webhook.url, spec.webhook.secret = webhook_url, webhook_secret
    return spec


def _common(as_of: dt.date | None, account_types: Iterable[str]) -> dict[str, Any]:
    return {"as_of": as_of.isoformat() if as_of else "",
            "account_types": [common_pb2.AccountType.Value("ACCOUNT_TYPE_" + t)
                              for t in account_types]}


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError("the Arrow bulk forms need pyarrow: "
                          "pip install 'finseg-client[arrow]'") from None
    return pyarrow


def _is_arrow(value: object) -> bool:
    """Whether `value` is an Arrow batch or table; without importing
    pyarrow, which cannot have made one if nobody imported it."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(value, pa.RecordBatch | pa.Table)


def arrow_ipc(batch: pa.RecordBatch | pa.Table) -> bytes:
    """An Arrow batch or table as the IPC stream the bulk forms take."""
    pa = _pyarrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write(batch)
    return bytes(sink.getvalue().to_pybytes())


def _account(row: dict[str, Any]) -> ingest_pb2.Account:
    fields = dict(row)
    if isinstance(fields.get("type"), str):
        fields["type"] = common_pb2.AccountType.Value("ACCOUNT_TYPE_" + fields["type"])
    if "balance" in fields:
        fields["balance"] = as_minor(fields["balance"], fields.get("currency", ""))
    return ingest_pb2.Account(**fields)


def _transaction(row: dict[str, Any]) -> ingest_pb2.Transaction:
    fields = dict(row)
    amount = fields.get("amount", 0)
    if not isinstance(amount, int) and not fields.get("currency"):
        raise ValueError(f"transaction {fields.get('transaction_id')!r}: an amount in major "
                         "units needs the row's currency")
    fields["amount"] = as_minor(amount, fields.get("currency", ""))
    return ingest_pb2.Transaction(**fields)


def page_members(page: segments_pb2.ResultPage) -> Any:
    """The members of a page, whatever its segment type."""
    kind = page.WhichOneof("rows")
    return getattr(page, kind).members if kind else ()


#: Stands for "the client's default" where None means "no deadline".
DEFAULT: Any = object()

#: Seconds a stream or a wait for a job may take by default: a load or a
#: job queued behind others may take long, but not forever.
STREAM_TIMEOUT = 3600.0

#: The channel options a client gets unless it gives its own: only the message
#: limits raised, so that one bulk batch may be up to MAX_MESSAGE_BYTES.
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES))


class Stream:
    """The responses of a streaming call, which another thread may cancel
    (as it may a gRPC call): a watchdog ending a stalled stream does."""

    def __init__(self) -> None:
        self.call: Any = None
        self.cancelled = False
        self.responses: Iterator[Any] = iter(())

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Any:
        return next(self.responses)

    def cancel(self) -> None:
        self.cancelled = True
        if self.call is not None:
            self.call.cancel()


class FinsegClient:
    def __init__(self, target: str, token: str | None = None, *,
                 credentials: grpc.ChannelCredentials | None = None,
                 timeout: float | None = 60.0, stream_timeout: float | None = DEFAULT,
                 retry: Retry | None = DEFAULT_RETRY,
                 options: Sequence[tuple[str, Any]] | None = None) -> None:
        """`token`: a JWT naming the tenant and scopes (none: the service
        must run in development mode). `credentials`: TLS, e.g.
        grpc.ssl_channel_credentials(ca_pem); none: plaintext.

        `timeout`: each unary call's deadline in seconds, retries included;
        `stream_timeout` that of StreamSegment, AppendTransactions and
        waiting for a job: an hour, or none when `timeout` is None (None: no
        deadline). `retry`: None for no retries.
        `options`: gRPC channel options; by default only the message limits
        are raised, so one bulk batch may be up to 256 MiB (pages of
        members never need more than gRPC's default 4 MiB)."""
        if options is None:
            options = DEFAULT_OPTIONS
        self.channel = (grpc.secure_channel(target, credentials, options) if credentials
                        else grpc.insecure_channel(target, options))
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.stream_timeout = (None if timeout is None else STREAM_TIMEOUT) \
            if stream_timeout is DEFAULT else stream_timeout
        self.retry = retry or NO_RETRY
        self.ingest = ingest_pb2_grpc.IngestionServiceStub(self.channel)
        self.segments = segments_pb2_grpc.SegmentServiceStub(self.channel)
        self.taxonomy = taxonomy_pb2_grpc.TaxonomyServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.usage = usage_pb2_grpc.UsageServiceStub(self.channel)

    def __enter__(self) -> FinsegClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    # ---- calling -----------------------------------------------------

    def _unary(self, rpc: Any, request: Any, *, idempotent: bool = True) -> Any:
        deadline = Deadline(self.timeout)
        attempt = 0
        while True:
            try:
                return rpc(request, metadata=self.metadata, timeout=deadline.remaining())
            except grpc.RpcError as exc:
                error = errors.from_rpc_error(exc)
                delay = self.retry.delay(error, attempt, idempotent)
                if delay is None or not deadline.sleep(delay):
                    raise error from None
            attempt += 1

    def _stream(self, start: Callable[[float | None], Any], timeout: float | None,
                retry: bool) -> Iterator[Any]:
        """The responses of a streaming call, typed errors, and one more
        attempt while nothing was received (then the stream would have to
        resume in the middle, which StreamSegment cannot)."""
        stream = Stream()
        stream.responses = self._attempts(stream, start, timeout, retry)
        return stream

    def _attempts(self, stream: Stream, start: Callable[[float | None], Any],
                  timeout: float | None, retry: bool) -> Iterator[Any]:
        deadline = Deadline(timeout)
        attempt = 0
        while True:
            call = stream.call = start(deadline.remaining())
            received = False
            try:
                for response in call:
                    received = True
                    yield response
                return
            except grpc.RpcError as exc:
                error = errors.from_rpc_error(exc)
                delay = self.retry.delay(error, attempt, True) \
                    if retry and not received and not stream.cancelled else None
                if delay is None or not deadline.sleep(delay):
                    raise error from None
            finally:
                call.cancel()  # a consumer that stops early frees the server's thread
            attempt += 1

    def _stream_deadline(self, timeout: float | None) -> float | None:
        return self.stream_timeout if timeout is DEFAULT else timeout

    # ---- ingestion ---------------------------------------------------

    def upsert_accounts(self, accounts: Iterable[dict[str, Any]] | pa.RecordBatch | pa.Table
                        ) -> int:
        """Accounts as dicts of Account fields (balance as `Amount`), or as
        an Arrow batch with the SPEC's file columns (balance as minor-unit
        ints or decimal strings)."""
        if _is_arrow(accounts):
            request = ingest_pb2.UpsertAccountsRequest(arrow_ipc=arrow_ipc(accounts))
        else:
            request = ingest_pb2.UpsertAccountsRequest(
                accounts=[_account(a) for a in accounts])  # type: ignore[union-attr]
        return int(self._unary(self.ingest.UpsertAccounts, request).upserted_count)

    def append_transactions(
            self, batches: Iterable[list[dict[str, Any]] | pa.RecordBatch | pa.Table],
            timeout: float | None = DEFAULT,
    ) -> Iterator[ingest_pb2.AppendTransactionsResponse]:
        """Streams batches; yields one acknowledgement per durable batch.
        Not retried: the batches cannot be sent twice from an iterator, and
        the acknowledgements say which are stored; resend from the first
        unacknowledged one (stored transactions are skipped)."""

        def requests() -> Iterator[ingest_pb2.AppendTransactionsRequest]:
            for index, batch in enumerate(batches):
                if _is_arrow(batch):
                    yield ingest_pb2.AppendTransactionsRequest(
                        batch_id=str(index), arrow_ipc=arrow_ipc(batch))
                else:
                    yield ingest_pb2.AppendTransactionsRequest(
                        batch_id=str(index), rows=ingest_pb2.TransactionRows(
                            transactions=[_transaction(t) for t in batch]))  # type: ignore

        def start(remaining: float | None) -> Any:
            return self.ingest.AppendTransactions(requests(), metadata=self.metadata,
                                                  timeout=remaining)

        return self._stream(start, self._stream_deadline(timeout), retry=False)

    def delete_user(self, user_id: str) -> ingest_pb2.DeleteUserResponse:
        """Erases a user. Retried like every idempotent call: when a first
        attempt succeeded unseen, the retry finds no user (NotFound)."""
        return self._unary(self.ingest.DeleteUser, ingest_pb2.DeleteUserRequest(user_id=user_id))

    # ---- segments ----------------------------------------------------

    def create_segment(self, spec: segments_pb2.SegmentSpec) -> segments_pb2.Segment:
        """Starts a job. Not retried on UNAVAILABLE: the job may have been
        created before the connection failed, and a second call would make
        a second job. A full queue (RESOURCE_EXHAUSTED with a RetryInfo)
        refuses before creating anything, so that is retried."""
        return self._unary(self.segments.CreateSegment,
                           segments_pb2.CreateSegmentRequest(spec=spec),
                           idempotent=False).segment

    def get_segment(self, segment_id: str, page_size: int = 0, page_token: str = ""
                    ) -> segments_pb2.GetSegmentResponse:
        return self._unary(self.segments.GetSegment, segments_pb2.GetSegmentRequest(
            segment_id=segment_id, page_size=page_size, page_token=page_token))

    def stream_segment(self, segment_id: str, page_size: int = 0,
                       timeout: float | None = DEFAULT
                       ) -> Iterator[segments_pb2.StreamSegmentResponse]:
        """Waits for the job server-side, then yields every page in order."""
        request = segments_pb2.StreamSegmentRequest(segment_id=segment_id, page_size=page_size)

        def start(remaining: float | None) -> Any:
            return self.segments.StreamSegment(request, metadata=self.metadata,
                                               timeout=remaining)

        return self._stream(start, self._stream_deadline(timeout), retry=True)

    def watch_segment(self, segment_id: str, after_sequence: int = 0,
                      timeout: float | None = None) -> Iterator[segments_pb2.SegmentEvent]:
        """A live segment's events after `after_sequence`, then each new one
        as it happens, for `timeout` seconds (None: until the caller stops).
        When the connection drops, it reconnects after the last event it
        yielded, so no event is missed or repeated."""
        deadline = Deadline(timeout)
        last, attempt = after_sequence, 0
        while True:
            call = self.segments.WatchSegment(
                segments_pb2.WatchSegmentRequest(segment_id=segment_id, after_sequence=last),
                metadata=self.metadata, timeout=deadline.remaining())
            try:
                for response in call:
                    attempt = 0
                    for event in response.events:
                        last = event.sequence
                        yield event
                return
            except grpc.RpcError as exc:
                error = errors.from_rpc_error(exc)
                if isinstance(error, errors.DeadlineExceeded) and timeout is not None:
                    return  # the watch lasted as long as asked
                delay = self.retry.delay(error, attempt, True)
                if delay is None or not deadline.sleep(delay):
                    raise error from None
            finally:
                call.cancel()
            attempt += 1

    def wait(self, segment_id: str, timeout: float | None = DEFAULT,
             progress: Callable[[segments_pb2.Segment], None] | None = None
             ) -> segments_pb2.Segment:
        """The segment once its job SUCCEEDED, polling GetSegment (at 50 ms
        growing to 1 s). Raises FailedPrecondition if the job failed,
        Cancelled if it was cancelled, DeadlineExceeded after `timeout`
        (default: the client's stream_timeout). `progress` sees each poll."""
        return self._finished(segment_id, 1, timeout, progress).segment

    def _finished(self, segment_id: str, page_size: int, timeout: float | None,
                  progress: Callable[[segments_pb2.Segment], None] | None = None
                  ) -> segments_pb2.GetSegmentResponse:
        """The first GetSegment response of the finished job: with a
        SUCCEEDED job it holds the first page."""
        deadline = Deadline(self._stream_deadline(timeout))
        pause = 0.05
        while True:
            response = self.get_segment(segment_id, page_size)
            segment = response.segment
            if progress is not None:
                progress(segment)
            if segment.state == segments_pb2.JOB_STATE_SUCCEEDED:
                return response
            if segment.state == segments_pb2.JOB_STATE_FAILED:
                raise errors.error(grpc.StatusCode.FAILED_PRECONDITION,
                                   f"segment {segment_id} failed: {segment.error}")
            if segment.state == segments_pb2.JOB_STATE_CANCELLED:
                raise errors.error(grpc.StatusCode.CANCELLED,
                                   f"segment {segment_id} was cancelled")
            if not deadline.sleep(pause):
                raise errors.error(grpc.StatusCode.DEADLINE_EXCEEDED,
                                   f"segment {segment_id} is still "
                                   f"{segments_pb2.JobState.Name(segment.state)}")
            pause = min(1.0, pause * 1.5)

    def pages(self, segment_id: str, page_size: int = 0, timeout: float | None = DEFAULT
              ) -> Iterator[segments_pb2.GetSegmentResponse]:
        """Waits for the job, then yields its pages one GetSegment at a
        time, following next_page_token: one page in memory at a time, and
        each page's call retried on its own, so paging outlives a restart
        of the service (page tokens survive it). A page holds at most
        page_size members and may hold fewer (the service keeps each under
        4 MiB)."""
        response = self._finished(segment_id, page_size, timeout)
        yield response
        while response.next_page_token:
            response = self.get_segment(segment_id, page_size, response.next_page_token)
            yield response

    def iter_members(self, segment_id: str, page_size: int = 0,
                     timeout: float | None = DEFAULT) -> Iterator[Any]:
        """Every member of a segment, in order, fetched a page at a time as
        the iteration reaches it (see `pages`)."""
        for response in self.pages(segment_id, page_size, timeout):
            yield from page_members(response.page)

    def list_segments(self, states: Iterable[str] = (), types: Iterable[str] = ()
                      ) -> Iterator[segments_pb2.Segment]:
        """The tenant's segments, newest first, following every page; states
        and types by their short names (RUNNING, LOW_BALANCE)."""
        request = segments_pb2.ListSegmentsRequest(
            states=[segments_pb2.JobState.Value("JOB_STATE_" + s) for s in states],
            types=[segments_pb2.SegmentType.Value("SEGMENT_TYPE_" + t) for t in types])
        while True:
            response = self._unary(self.segments.ListSegments, request)
            yield from response.segments
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def cancel_segment(self, segment_id: str) -> segments_pb2.Segment:
        return self._unary(self.segments.CancelSegment,
                           segments_pb2.CancelSegmentRequest(segment_id=segment_id)).segment

    def delete_segment(self, segment_id: str) -> None:
        """Deletes a job and its results; like delete_user, a retry after an
        unseen success finds nothing (NotFound)."""
        self._unary(self.segments.DeleteSegment,
                    segments_pb2.DeleteSegmentRequest(segment_id=segment_id))

    # ---- taxonomy ----------------------------------------------------

    def get_taxonomy(self) -> taxonomy_pb2.GetTaxonomyResponse:
        return self._unary(self.taxonomy.GetTaxonomy, taxonomy_pb2.GetTaxonomyRequest())

    def replace_taxonomy(self, taxonomy: taxonomy_pb2.LabelTaxonomy | None
                         ) -> taxonomy_pb2.ReplaceTaxonomyResponse:
        """The tenant's own taxonomy; None restores the default."""
        request = taxonomy_pb2.ReplaceTaxonomyRequest(restore_default=True) if taxonomy is None \
            else taxonomy_pb2.ReplaceTaxonomyRequest(taxonomy=taxonomy)
        return self._unary(self.taxonomy.ReplaceTaxonomy, request)

    # ---- audit and usage -------------------------------------------

    def audit_events(self, since: dt.datetime | None = None, until: dt.datetime | None = None
                     ) -> Iterator[audit_pb2.AuditEvent]:
        """The tenant's audit events with since <= time < until, following
        every page."""
        request = audit_pb2.ListAuditEventsRequest(page_size=1000)
        if since is not None:
            request.from_time.FromDatetime(since)
        if until is not None:
            request.to_time.FromDatetime(until)
        while True:
            response = self._unary(self.audit.ListAuditEvents, request)
            yield from response.events
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def usage_by_type(self) -> dict[str, usage_pb2.SegmentTypeUsage]:
        """The tenant's usage, by segment type name (LOW_BALANCE, ...)."""
        response = self._unary(self.usage.GetUsage, usage_pb2.GetUsageRequest())
        return {segments_pb2.SegmentType.Name(u.type).removeprefix("SEGMENT_TYPE_"): u
                for u in response.usage}

    def members(self, segment_id: str, page_size: int = 0) -> list[Any]:
        """Every member of a segment as one list (waits for the job); for a
        large segment `iter_members` holds one page at a time instead."""
        out: list[Any] = []
        for response in self.stream_segment(segment_id, page_size):
            out.extend(page_members(response.page))
        return out
