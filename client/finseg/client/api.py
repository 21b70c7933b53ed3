"""A small Python client for finseg's gRPC API.

    with FinsegClient("127.0.0.1:50051", token=jwt) as client:
        client.upsert_accounts([{"account_id": "a1", "user_id": "u1", ...}])
        job = client.create_segment(low_balance("EUR", 0, months=3))
        for page in client.stream_segment(job.segment_id):
            ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
import pyarrow as pa
from iso4217 import Currency

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

#: Big enough for one bulk batch of a million rows.
MAX_MESSAGE_BYTES = 256 << 20


def minor_units(amount: str | int | Decimal, currency: str) -> int:
    """Exact minor units of a major-unit amount: minor_units("10.50", "EUR")
    == 1050. Raises ValueError for more decimals than the currency has."""
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code") from None
    try:
        value = Decimal(str(amount)) * (10 ** (exponent or 0))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if value != value.to_integral_value():
        raise ValueError(f"{amount} {currency} has more than {exponent} decimals")
    return int(value)


def major_units(amount: int, currency: str) -> str:
    """"-150.00" for minor_units -15000 in EUR: exact, no float."""
    exponent = (Currency(currency).exponent or 0) if currency else 2
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    return sign + (digits[:-exponent] + "." + digits[-exponent:] if exponent else digits)


def high_balance(currency: str, threshold: int, *, as_of: dt.date | None = None,
                 account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a HIGH_BALANCE segment; threshold in minor units."""
    return segments_pb2.SegmentSpec(
        high_balance=segments_pb2.HighBalance(
            threshold=common_pb2.Money(currency=currency, amount=threshold)),
        **_common(as_of, account_types))


def low_balance(currency: str, threshold: int, months: int, *, as_of: dt.date | None = None,
                account_types: Iterable[str] = ()) -> segments_pb2.SegmentSpec:
    """Spec of a LOW_BALANCE segment; threshold in minor units."""
    return segments_pb2.SegmentSpec(
        low_balance=segments_pb2.LowBalance(
            threshold=common_pb2.Money(currency=currency, amount=threshold), months=months),
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


def _common(as_of: dt.date | None, account_types: Iterable[str]) -> dict[str, Any]:
    return {"as_of": as_of.isoformat() if as_of else "",
            "account_types": [common_pb2.AccountType.Value("ACCOUNT_TYPE_" + t)
                              for t in account_types]}


def arrow_ipc(batch: pa.RecordBatch | pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write(batch)
    return sink.getvalue().to_pybytes()


class FinsegClient:
    def __init__(self, target: str, token: str | None = None, *,
                 credentials: grpc.ChannelCredentials | None = None,
                 timeout: float | None = 60.0,
                 options: Iterable[tuple[str, Any]] = ()) -> None:
        """`token`: a JWT naming the tenant and scopes (none: the service
        must run in development mode). `credentials`: TLS, e.g.
        grpc.ssl_channel_credentials(ca_pem); none: plaintext. `options`:
        more channel options, e.g. ("grpc.ssl_target_name_override", name)."""
        settings = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), *options]
        self.channel = (grpc.secure_channel(target, credentials, settings) if credentials
                        else grpc.insecure_channel(target, settings))
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
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

    # ---- ingestion ---------------------------------------------------

    def upsert_accounts(self, accounts: Iterable[dict[str, Any]] | pa.RecordBatch | pa.Table
                        ) -> int:
        """Accounts as dicts of Account fields, or as an Arrow batch with the
        SPEC's file columns (balance as minor-unit ints or decimal strings)."""
        if isinstance(accounts, pa.RecordBatch | pa.Table):
            request = ingest_pb2.UpsertAccountsRequest(arrow_ipc=arrow_ipc(accounts))
        else:
            rows = []
            for a in accounts:
                fields = dict(a)
                if isinstance(fields.get("type"), str):
                    fields["type"] = common_pb2.AccountType.Value("ACCOUNT_TYPE_" + fields["type"])
                rows.append(ingest_pb2.Account(**fields))
            request = ingest_pb2.UpsertAccountsRequest(accounts=rows)
        response = self.ingest.UpsertAccounts(request, metadata=self.metadata,
                                              timeout=self.timeout)
        return int(response.upserted_count)

    def append_transactions(
            self, batches: Iterable[list[dict[str, Any]] | pa.RecordBatch | pa.Table],
    ) -> Iterator[ingest_pb2.AppendTransactionsResponse]:
        """Streams batches; yields one acknowledgement per durable batch."""

        def requests() -> Iterator[ingest_pb2.AppendTransactionsRequest]:
            for index, batch in enumerate(batches):
                if isinstance(batch, pa.RecordBatch | pa.Table):
                    yield ingest_pb2.AppendTransactionsRequest(
                        batch_id=str(index), arrow_ipc=arrow_ipc(batch))
                else:
                    yield ingest_pb2.AppendTransactionsRequest(
                        batch_id=str(index),
                        rows=ingest_pb2.TransactionRows(
                            transactions=[ingest_pb2.Transaction(**t) for t in batch]))

        return self.ingest.AppendTransactions(requests(), metadata=self.metadata)

    def delete_user(self, user_id: str) -> ingest_pb2.DeleteUserResponse:
        return self.ingest.DeleteUser(ingest_pb2.DeleteUserRequest(user_id=user_id),
                                      metadata=self.metadata, timeout=self.timeout)

    # ---- segments ----------------------------------------------------

    def create_segment(self, spec: segments_pb2.SegmentSpec) -> segments_pb2.Segment:
        response = self.segments.CreateSegment(
            segments_pb2.CreateSegmentRequest(spec=spec), metadata=self.metadata,
            timeout=self.timeout)
        return response.segment

    def get_segment(self, segment_id: str, page_size: int = 0, page_token: str = ""
                    ) -> segments_pb2.GetSegmentResponse:
        return self.segments.GetSegment(
            segments_pb2.GetSegmentRequest(segment_id=segment_id, page_size=page_size,
                                           page_token=page_token),
            metadata=self.metadata, timeout=self.timeout)

    def stream_segment(self, segment_id: str, page_size: int = 0,
                       timeout: float | None = None
                       ) -> Iterator[segments_pb2.StreamSegmentResponse]:
        """Waits for the job server-side, then yields every page in order."""
        return self.segments.StreamSegment(
            segments_pb2.StreamSegmentRequest(segment_id=segment_id, page_size=page_size),
            metadata=self.metadata, timeout=timeout)

    def list_segments(self, states: Iterable[str] = (), types: Iterable[str] = ()
                      ) -> Iterator[segments_pb2.Segment]:
        """The tenant's segments, newest first, following every page; states
        and types by their short names (RUNNING, LOW_BALANCE)."""
        request = segments_pb2.ListSegmentsRequest(
            states=[segments_pb2.JobState.Value("JOB_STATE_" + s) for s in states],
            types=[segments_pb2.SegmentType.Value("SEGMENT_TYPE_" + t) for t in types])
        while True:
            response = self.segments.ListSegments(request, metadata=self.metadata,
                                                  timeout=self.timeout)
            yield from response.segments
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def cancel_segment(self, segment_id: str) -> segments_pb2.Segment:
        return self.segments.CancelSegment(
            segments_pb2.CancelSegmentRequest(segment_id=segment_id), metadata=self.metadata,
            timeout=self.timeout).segment

    def delete_segment(self, segment_id: str) -> None:
        self.segments.DeleteSegment(segments_pb2.DeleteSegmentRequest(segment_id=segment_id),
                                    metadata=self.metadata, timeout=self.timeout)

    # ---- taxonomy ----------------------------------------------------

    def get_taxonomy(self) -> taxonomy_pb2.GetTaxonomyResponse:
        return self.taxonomy.GetTaxonomy(taxonomy_pb2.GetTaxonomyRequest(),
                                         metadata=self.metadata, timeout=self.timeout)

    def replace_taxonomy(self, taxonomy: taxonomy_pb2.LabelTaxonomy | None
                         ) -> taxonomy_pb2.ReplaceTaxonomyResponse:
        """The tenant's own taxonomy; None restores the default."""
        request = taxonomy_pb2.ReplaceTaxonomyRequest(restore_default=True) if taxonomy is None \
            else taxonomy_pb2.ReplaceTaxonomyRequest(taxonomy=taxonomy)
        return self.taxonomy.ReplaceTaxonomy(request, metadata=self.metadata,
                                             timeout=self.timeout)

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
            response = self.audit.ListAuditEvents(request, metadata=self.metadata,
                                                  timeout=self.timeout)
            yield from response.events
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def usage_by_type(self) -> dict[str, usage_pb2.SegmentTypeUsage]:
        """The tenant's usage, by segment type name (LOW_BALANCE, ...)."""
        response = self.usage.GetUsage(usage_pb2.GetUsageRequest(), metadata=self.metadata,
                                       timeout=self.timeout)
        return {segments_pb2.SegmentType.Name(u.type).removeprefix("SEGMENT_TYPE_"): u
                for u in response.usage}

    def members(self, segment_id: str, page_size: int = 0) -> list[Any]:
        """Every member of a segment (waits for the job)."""
        out: list[Any] = []
        for response in self.stream_segment(segment_id, page_size):
            kind = response.page.WhichOneof("rows")
            out.extend(getattr(response.page, kind).members)
        return out
