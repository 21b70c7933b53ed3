"""Conversion between protobuf messages and domain values: the only module
that knows both. Protobuf types stop here."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import struct
from typing import Any

import pyarrow as pa
from google.protobuf import duration_pb2, json_format, timestamp_pb2

from finseg.v1 import common_pb2, ingest_pb2, segments_pb2

from ..domain.segment_types.common import parse_date
from ..errors import InvalidArgument, Reason, Violation, quoted

ACCOUNT_TYPE_PREFIX = "ACCOUNT_TYPE_"
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000


def bad(field: str, why: str, reason: Reason) -> InvalidArgument:
    return InvalidArgument(f"{field} {why}", [Violation(field, why)], reason=reason)


# ---- ingestion ------------------------------------------------------------

def _type_name(value: int) -> str:
    try:
        name = common_pb2.AccountType.Name(value)
    except ValueError:
        return ""
    return name.removeprefix(ACCOUNT_TYPE_PREFIX) if value else ""


def _ipc(data: bytes, field: str) -> pa.RecordBatch:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        # Column names are decoded here: they may be invalid UTF-8 too.
        names = table.schema.names
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise bad(field, f"is not a valid Arrow IPC stream ({quoted(str(exc), 200)})",
                  Reason.INVALID_ARROW_IPC) from exc
    for name, column in zip(names, table.columns, strict=True):
        try:
            # Full validation checks, among others, that strings are UTF-8.
            column.validate(full=True)
        except pa.ArrowException as exc:
            raise bad(field, f"column {quoted(name)} is not valid Arrow data (text must be "
                             f"UTF-8): {quoted(str(exc), 200)}", Reason.INVALID_ARROW_IPC) from exc
    table = table.combine_chunks()
    batches = table.to_batches(max_chunksize=max(table.num_rows, 1))
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def accounts_batch(request: ingest_pb2.UpsertAccountsRequest) -> pa.RecordBatch:
    if request.arrow_ipc:
        if request.accounts:
            raise bad("arrow_ipc", "must not be set together with accounts",
                      Reason.INVALID_ARROW_IPC)
        return _ipc(request.arrow_ipc, "arrow_ipc")
    rows = request.accounts
    return pa.record_batch({
        "account_id": pa.array([a.account_id for a in rows], pa.string()),
        "user_id": pa.array([a.user_id for a in rows], pa.string()),
        "type": pa.array([_type_name(a.type) for a in rows], pa.string()),
        "currency": pa.array([a.currency for a in rows], pa.string()),
        "balance": pa.array([a.balance for a in rows], pa.int64()),
        "balance_date": pa.array([a.balance_date for a in rows], pa.string()),
        "opened_on": pa.array([a.opened_on for a in rows], pa.string()),
        "closed_on": pa.array([a.closed_on for a in rows], pa.string()),
    })


def transactions_batch(request: ingest_pb2.AppendTransactionsRequest) -> pa.RecordBatch:
    kind = request.WhichOneof("payload")
    if kind == "arrow_ipc":
        return _ipc(request.arrow_ipc, "arrow_ipc")
    rows = request.rows.transactions
    columns: dict[str, Any] = {
        "transaction_id": pa.array([t.transaction_id for t in rows], pa.string()),
        "account_id": pa.array([t.account_id for t in rows], pa.string()),
        "booking_date": pa.array([t.booking_date for t in rows], pa.string()),
        "amount": pa.array([t.amount for t in rows], pa.int64()),
    }
    for name in ("label", "counterparty_name", "counterparty_iban", "purpose", "mcc",
                 "currency"):
        columns[name] = pa.array([getattr(t, name) for t in rows], pa.string())
    return pa.record_batch(columns)


# ---- segments -------------------------------------------------------------

def _date(text: str, field: str) -> dt.date | None:
    """An optional date field: empty means not given."""
    return parse_date(text, field) if text else None


def segment_request(spec: segments_pb2.SegmentSpec
                    ) -> tuple[str, dict[str, Any], list[str], dt.date | None]:
    """(type name, raw params, account type names, as_of) of a spec."""
    kind = spec.WhichOneof("kind")
    if kind is None:
        allowed = ", ".join(f.name for f in segments_pb2.SegmentSpec.DESCRIPTOR
                            .oneofs_by_name["kind"].fields)
        raise bad("spec.kind", f"is required: set one segment type ({allowed})",
                  Reason.INVALID_SPEC)
    params = json_format.MessageToDict(getattr(spec, kind), preserving_proto_field_name=True)
    types = []
    for i, value in enumerate(spec.account_types):
        if value == common_pb2.ACCOUNT_TYPE_UNSPECIFIED:
            continue  # documented as ignored in filters
        name = _type_name(value)
        if not name:
            raise bad(f"spec.account_types[{i}]", f"{value} is not an AccountType value",
                      Reason.INVALID_SPEC)
        types.append(name)
    return kind.upper(), params, types, _date(spec.as_of, "spec.as_of")


#: google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_MAX_NS = 2**64 - 1


def nanoseconds(stamp: timestamp_pb2.Timestamp, field: str) -> int:
    """A request timestamp as u64 nanoseconds since 1970, the store's time
    keys: before 1970 is 0 and after 2554 is the largest, so a range still
    selects what it should; outside Timestamp's own range is an error."""
    if not (_MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS and 0 <= stamp.nanos < 10**9):
        raise bad(field, "must be a timestamp from 0001-01-01T00:00:00Z to "
                         "9999-12-31T23:59:59Z", Reason.INVALID_TIME_RANGE)
    return min(max(stamp.seconds * 10**9 + stamp.nanos, 0), _MAX_NS)


def timestamp(nanoseconds: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(nanoseconds)
    return stamp


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def segment(record: dict[str, Any]) -> segments_pb2.Segment:
    kind = record["type"].lower()
    spec = segments_pb2.SegmentSpec(
        account_types=[common_pb2.AccountType.Value(ACCOUNT_TYPE_PREFIX + t)
                       for t in record["account_types"]],
        as_of="" if record.get("live") else record["as_of"], live=bool(record.get("live")),
        callback_url=record.get("callback", {}).get("url", ""))
    webhook = record.get("webhook")
    if webhook:
        spec.webhook.url = webhook["url"]  # the secret is never returned
    # Stored params may carry more than the request (a breakdown keeps its
    # resolved taxonomy nodes); the echo shows the request's fields.
    json_format.ParseDict(record["params"], getattr(spec, kind), ignore_unknown_fields=True)
    return segments_pb2.Segment(
        segment_id=record["id"],
        type=segments_pb2.SegmentType.Value("SEGMENT_TYPE_" + record["type"]),
        spec=spec,
        state=segments_pb2.JobState.Value("JOB_STATE_" + record["state"]),
        progress=record["progress"],
        create_time=timestamp(int(record["created"] * 1e9)),
        expire_time=timestamp(int(record["expires"] * 1e9)),
        as_of=record["as_of"],
        error=record["error"],
        total_elements=record["total_elements"],
        compute_time=_duration(record["compute_seconds"]),
        rows_scanned=record["rows_scanned"],
        live=bool(record.get("live")),
        last_sequence=record["live"]["sequence"] if record.get("live") else 0,
        webhook=segments_pb2.WebhookStatus(url=webhook["url"],
                                           delivered_sequence=webhook["delivered"],
                                           last_error=webhook["error"]) if webhook else None,
    )


_EVENT_TYPES = {"ENTER": segments_pb2.SEGMENT_EVENT_TYPE_ENTER,
                "EXIT": segments_pb2.SEGMENT_EVENT_TYPE_EXIT}


def segment_event(segment_id: str, event: dict[str, Any]) -> segments_pb2.SegmentEvent:
    """A stored live-segment event (domain/live.py) as its message."""
    cause = event["cause"]
    return segments_pb2.SegmentEvent(
        sequence=event["sequence"], segment_id=segment_id, type=_EVENT_TYPES[event["kind"]],
        user_id=event["user_id"], erased=event["erased"],
        time=timestamp(int(event["time"] * 1e9)),
        cause=segments_pb2.EventCause.Value("EVENT_CAUSE_" + cause["kind"]),
        batch_id=cause.get("batch_id", ""))


def page_size(value: int, field: str = "page_size", default: int = DEFAULT_PAGE_SIZE,
              upper: int = MAX_PAGE_SIZE) -> int:
    if value == 0:
        return default
    if not 1 <= value <= upper:
        raise bad(field, f"must be between 1 and {upper} (0 means {default}), got {value}",
                  Reason.INVALID_PAGE_SIZE)
    return value


class PageTokens:
    """Page tokens: an offset with a MAC over it, the tenant and what the
    token pages through (a job id, or ListSegments' filters), keyed by a
    secret kept in the store. A token works only for the tenant and job it
    was made for and cannot be forged or edited into another's results."""

    _HEAD = struct.Struct(">BQ")
    _VERSION = 2
    _MAC_BYTES = 16

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, head: bytes, tenant: str, scope: str) -> bytes:
        message = head + struct.pack(">H", len(tenant.encode())) + tenant.encode() + scope.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:self._MAC_BYTES]

    def make(self, tenant: str, scope: str, offset: int) -> str:
        head = self._HEAD.pack(self._VERSION, offset)
        raw = head + self._mac(head, tenant, scope)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def offset(self, token: str, tenant: str, scope: str, total: int) -> int:
        """The offset `token` stands for; INVALID_ARGUMENT unless it was made
        for this tenant and scope and lies within its `total` results."""
        if not token:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            head, mac = raw[:self._HEAD.size], raw[self._HEAD.size:]
            version, offset = self._HEAD.unpack(head)
            valid = version == self._VERSION and \
                hmac.compare_digest(mac, self._mac(head, tenant, scope)) and 0 < offset < total
        except (ValueError, struct.error):
            valid = False
        if not valid:
            raise bad("page_token", "is not a page token of this segment; use next_page_token "
                                    "of a previous response, or empty for the first page",
                      Reason.INVALID_PAGE_TOKEN)
        return int(offset)
