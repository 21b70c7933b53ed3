"""The gRPC servicers: validate, call the domain, convert back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from finseg.v1 import (
    ingest_pb2,
    ingest_pb2_grpc,
    segments_pb2,
    segments_pb2_grpc,
    taxonomy_pb2,
    taxonomy_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)

from ..domain.ingest import Ingestor, PreparedBatch
from ..domain.jobs import CANCELLED, FAILED, SUCCEEDED, JobManager
from ..domain.segment_types import page_of
from ..domain.taxonomy import Taxonomies, Taxonomy
from ..domain.usage import Meter
from ..errors import Cancelled, FailedPrecondition, OutOfRange, Reason
from . import convert, wire
from .auth import SEGMENT_TYPES, create_scope, identity_of
from .errors import streaming, unary
from .instruments import ServiceMetrics
from .pipeline import prefetch

#: How often a waiting StreamSegment looks whether its client went away.
WAIT_SLICE_SECONDS = 0.5
#: Events sent per WatchSegment message at most (about 100 bytes each).
WATCH_BATCH = 10_000


class IngestionServicer(ingest_pb2_grpc.IngestionServiceServicer):
    def __init__(self, ingestor: Ingestor, metrics: ServiceMetrics) -> None:
        self.ingestor = ingestor
        self.metrics = metrics

    @unary
    def UpsertAccounts(self, request, context):  # noqa: N802 - gRPC's method name
        tenant = identity_of(context).tenant
        self.metrics.ingested(tenant, "accounts", request.ByteSize())
        count = self.ingestor.upsert_accounts(tenant, convert.accounts_batch(request))
        self.metrics.ingested(tenant, "accounts", 0, {"upserted": count})
        return ingest_pb2.UpsertAccountsResponse(upserted_count=count)

    @streaming
    def AppendTransactions(self, request_iterator, context):  # noqa: N802
        tenant = identity_of(context).tenant

        def prepare(request: ingest_pb2.AppendTransactionsRequest) -> PreparedBatch:
            self.metrics.ingested(tenant, "transactions", request.ByteSize())
            return self.ingestor.prepare_transactions(convert.transactions_batch(request))

        for index, (request, prepared) in enumerate(prefetch(request_iterator, prepare)):
            result = self.ingestor.commit_transactions(tenant, prepared, request.batch_id)
            self.metrics.ingested(tenant, "transactions", 0, {
                "appended": result.appended, "duplicate": result.duplicates})
            yield ingest_pb2.AppendTransactionsResponse(
                batch_id=request.batch_id, batch_index=index, appended_count=result.appended,
                duplicate_count=result.duplicates)

    @unary
    def DeleteUser(self, request, context):  # noqa: N802
        tenant = identity_of(context).tenant
        accounts, transactions = self.ingestor.delete_user(tenant, request.user_id)
        return ingest_pb2.DeleteUserResponse(deleted_accounts=accounts,
                                             deleted_transactions=transactions)


class SegmentServicer(segments_pb2_grpc.SegmentServiceServicer):
    def __init__(self, jobs: JobManager, tokens: convert.PageTokens, meter: Meter) -> None:
        self.jobs = jobs
        self.tokens = tokens
        self.meter = meter

    @unary
    def CreateSegment(self, request, context):  # noqa: N802
        identity = identity_of(context)
        if not request.HasField("spec"):
            raise convert.bad("spec", "is required", Reason.INVALID_SPEC)
        type_name, params, types, as_of = convert.segment_request(request.spec)
        identity.require(create_scope(type_name))
        spec = request.spec
        record = self.jobs.create(
            identity.tenant, type_name, params, types, as_of, live=spec.live,
            webhook=(spec.webhook.url, spec.webhook.secret) if spec.HasField("webhook") else None,
            callback_url=spec.callback_url)
        return segments_pb2.CreateSegmentResponse(segment=convert.segment(record))

    @unary
    def GetSegment(self, request, context):  # noqa: N802
        tenant = identity_of(context).tenant
        size = convert.page_size(request.page_size)
        record = self.jobs.get(tenant, request.segment_id)
        response = segments_pb2.GetSegmentResponse(segment=convert.segment(record))
        if record["state"] != SUCCEEDED:
            return response
        total = record["total_elements"]
        offset = self.tokens.offset(request.page_token, tenant, record["id"], total)
        response.total_pages = -(-total // size)
        table = self._page(tenant, record, offset, size)
        # Where this page stopped, which is before offset + size when the
        # page reached wire.PAGE_BYTES.
        end = offset + table.num_rows
        if end < total:
            response.next_page_token = self.tokens.make(tenant, record["id"], end)
        return self._with_page(response, tenant, record, table)

    def _page(self, tenant: str, record: dict[str, Any], offset: int, size: int) -> pa.Table:
        """Members offset..offset+size-1 of a finished job as stored, or
        fewer, as many as fit in wire.PAGE_BYTES."""
        table = self.jobs.members(tenant, record, offset, size)
        if table.num_rows == 0:  # an empty segment stores no page
            return table
        if wire.MEMBER_COLUMN not in table.column_names:  # stored before members were
            table = wire.encode_members(page_of(record), table)
        return table.slice(0, wire.fitting(table))

    def _with_page(self, envelope: Any, tenant: str, record: dict[str, Any],
                   table: pa.Table) -> bytes:
        """The envelope serialized with `table`'s members as its page,
        straight from their stored wire bytes."""
        if table.num_rows == 0:
            return wire.with_page(envelope, page_of(record), [])
        self.meter.returned(tenant, record["type"], table.num_rows)
        return wire.with_page(envelope, page_of(record), wire.members_bytes(table))

    @unary
    def ListSegments(self, request, context):  # noqa: N802
        tenant = identity_of(context).tenant
        size = convert.page_size(request.page_size, default=100, upper=1000)
        states = _enum_names(request.states, segments_pb2.JobState, "JOB_STATE_", "states")
        types = _enum_names(request.types, segments_pb2.SegmentType, "SEGMENT_TYPE_", "types")
        # The token is bound to the filters, as a page token to its job.
        scope = "list:" + ",".join(sorted(states)) + ":" + ",".join(sorted(types))
        records = self.jobs.list(tenant, states, types)
        offset = self.tokens.offset(request.page_token, tenant, scope, len(records))
        response = segments_pb2.ListSegmentsResponse(
            segments=[convert.segment(r) for r in records[offset:offset + size]])
        if offset + size < len(records):
            response.next_page_token = self.tokens.make(tenant, scope, offset + size)
        return response

    @unary
    def CancelSegment(self, request, context):  # noqa: N802
        tenant = self._may_withdraw(context, request.segment_id)
        record = self.jobs.cancel(tenant, request.segment_id)
        return segments_pb2.CancelSegmentResponse(segment=convert.segment(record))

    @unary
    def DeleteSegment(self, request, context):  # noqa: N802
        tenant = self._may_withdraw(context, request.segment_id)
        self.jobs.delete(tenant, request.segment_id)
        return segments_pb2.DeleteSegmentResponse()

    def _may_withdraw(self, context: Any, segment_id: str) -> str:
        """The caller's tenant, once it is known to hold the create scope of
        the segment's type: who may make a type's segments may withdraw
        them. Another tenant's segment is NOT_FOUND before any scope check."""
        identity = identity_of(context)
        identity.require(create_scope(self.jobs.get(identity.tenant, segment_id)["type"]))
        return identity.tenant

    @streaming
    def StreamSegment(self, request, context) -> Iterator[bytes]:  # noqa: N802
        tenant = identity_of(context).tenant
        size = convert.page_size(request.page_size)
        record = self.jobs.get(tenant, request.segment_id)
        while record["state"] not in (SUCCEEDED, FAILED, CANCELLED):
            if not context.is_active():
                return
            record = self.jobs.wait(tenant, request.segment_id, WAIT_SLICE_SECONDS)
        if record["state"] == FAILED:
            raise FailedPrecondition(f"segment {record['id']} failed: {record['error']}",
                                     reason=Reason.SEGMENT_FAILED,
                                     metadata={"segment_id": record["id"]})
        if record["state"] == CANCELLED:
            raise Cancelled(f"segment {record['id']} was cancelled",
                            reason=Reason.SEGMENT_CANCELLED, metadata={"segment_id": record["id"]})
        segment = convert.segment(record)
        members = self.jobs.live.members(tenant, record) if record.get("live") else None
        # One message even for an empty segment (its one page is empty), so
        # the client learns the job's final state from the stream alone.
        offset, index = 0, 0
        while True:
            # A live segment's pages are slices of one read of its members.
            table = (self._page(tenant, record, offset, size) if members is None else
                     _fitting(members.slice(offset, size)))
            yield self._with_page(
                segments_pb2.StreamSegmentResponse(segment=segment, page_index=index),
                tenant, record, table)
            offset, index = offset + table.num_rows, index + 1
            if table.num_rows == 0 or offset >= (record["total_elements"] if members is None
                                                 else members.num_rows):
                return

    @streaming
    def WatchSegment(self, request, context) -> Iterator[Any]:  # noqa: N802
        tenant = identity_of(context).tenant
        record = self.jobs.get(tenant, request.segment_id)
        if not record.get("live"):
            raise FailedPrecondition(f"segment {record['id']} is not live: only a live segment "
                                     "has events", reason=Reason.SEGMENT_NOT_LIVE,
                                     metadata={"segment_id": record["id"]})
        live, after = self.jobs.live, max(request.after_sequence, 0)
        version = live.version
        first = True
        while context.is_active():
            stored, count, oldest = live.events(tenant, record["id"], after, WATCH_BATCH)
            if first and after + 1 < oldest:
                raise OutOfRange(
                    f"the events after sequence {after} of segment {record['id']} were pruned; "
                    f"the oldest kept is {oldest}", reason=Reason.EVENTS_PRUNED,
                    metadata={"segment_id": record["id"], "oldest_sequence": str(oldest)})
            first = False
            if count:
                after += count
                yield stored  # stored as sent: the response is their concatenation
                continue
            if self.jobs.store.jobs.get(tenant, record["id"]) is None:
                return  # deleted: its stream ends
            # Wakes at the next commit with events, or to notice a gone client.
            version = live.wait(version, WAIT_SLICE_SECONDS)


def _fitting(table: pa.Table) -> pa.Table:
    """The leading members of a stored members table that fit one page."""
    return table.slice(0, wire.fitting(table)) if table.num_rows else table


def _enum_names(values: Any, enum: Any, prefix: str, field: str) -> set[str]:
    """Names (without their prefix) of a repeated enum filter; 0 is ignored."""
    names = set()
    for i, value in enumerate(values):
        if value == 0:
            continue
        try:
            names.add(enum.Name(value).removeprefix(prefix))
        except ValueError:
            raise convert.bad(f"{field}[{i}]", f"{value} is not a {enum.DESCRIPTOR.name} value",
                              Reason.INVALID_FILTER) from None
    return names


def _taxonomy_message(taxonomy: Taxonomy) -> taxonomy_pb2.LabelTaxonomy:
    return taxonomy_pb2.LabelTaxonomy(groups=list(taxonomy.groups),
                                      aliases=dict(taxonomy.aliases))


class TaxonomyServicer(taxonomy_pb2_grpc.TaxonomyServiceServicer):
    def __init__(self, taxonomies: Taxonomies) -> None:
        self.taxonomies = taxonomies

    @unary
    def GetTaxonomy(self, request, context):  # noqa: N802
        taxonomy, is_default = self.taxonomies.of(identity_of(context).tenant)
        return taxonomy_pb2.GetTaxonomyResponse(taxonomy=_taxonomy_message(taxonomy),
                                                is_default=is_default)

    @unary
    def ReplaceTaxonomy(self, request, context):  # noqa: N802
        tenant = identity_of(context).tenant
        raw = None if request.restore_default else {
            "groups": list(request.taxonomy.groups), "aliases": dict(request.taxonomy.aliases)}
        taxonomy, is_default = self.taxonomies.replace(tenant, raw)
        return taxonomy_pb2.ReplaceTaxonomyResponse(taxonomy=_taxonomy_message(taxonomy),
                                                    is_default=is_default)


class UsageServicer(usage_pb2_grpc.UsageServiceServicer):
    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    @unary
    def GetUsage(self, request, context):  # noqa: N802
        usage = self.meter.usage(identity_of(context).tenant)
        return usage_pb2.GetUsageResponse(usage=[
            usage_pb2.SegmentTypeUsage(type=segments_pb2.SegmentType.Value("SEGMENT_TYPE_" + name),
                                       **usage.get(name, {}))
            for name in SEGMENT_TYPES])
