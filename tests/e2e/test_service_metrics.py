"""What /metrics tells an operator (issue 13, point 7): calls by method and
status with their latencies, refused calls included; jobs' durations and the
queue; ingested rows and bytes; the store's size and map use; the process.
No label names a tenant unless asked for, none a user."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import connect, start_server
from prometheus_client.parser import text_string_to_metric_families

from finseg.client.api import FinsegClient, high_balance
from finseg.server.app import Service
from finseg.v1 import ingest_pb2

AS_OF = dt.date(2026, 3, 1)
USERS = [f"user-{i}-c0ffee" for i in range(4)]
ACCOUNTS = [f"acct-{i}-beef" for i in range(4)]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(service: Service) -> Samples:
    url = f"http://127.0.0.1:{service.metrics.server_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def call(samples: Samples, method: str, code: str = "", kind: str = "unary") -> float:
    service, name = method.split("/")
    labels = {"grpc_service": f"finseg.v1.{service}", "grpc_method": name, "grpc_type": kind}
    if code:
        return value(samples, "grpc_server_handled_total", **labels, grpc_code=code)
    return value(samples, "grpc_server_handling_seconds_count", **labels)


def transaction_requests() -> list[ingest_pb2.AppendTransactionsRequest]:
    """Two batches of ten; the second sends five of the first's again."""
    def row(n: int) -> ingest_pb2.Transaction:
        return ingest_pb2.Transaction(transaction_id=f"t{n}", account_id=ACCOUNTS[n % 4],
                                      booking_date=f"2026-01-{1 + n % 28:02d}", amount=-100 * n)
    return [ingest_pb2.AppendTransactionsRequest(
        batch_id=str(b), rows=ingest_pb2.TransactionRows(
            transactions=[row(n) for n in range(5 * b, 5 * b + 10)])) for b in range(2)]


def use(client: FinsegClient) -> tuple[int, int]:
    """Ingests, runs one job, reads it, fails once; the request bytes sent
    (accounts, transactions)."""
    accounts = ingest_pb2.UpsertAccountsRequest(accounts=[ingest_pb2.Account(
        account_id=a, user_id=u, type=1, currency="EUR", balance=5000, balance_date="2026-02-28")
        for a, u in zip(ACCOUNTS, USERS, strict=True)])
    client.ingest.UpsertAccounts(accounts, metadata=client.metadata)
    batches = transaction_requests()
    list(client.ingest.AppendTransactions(iter(batches), metadata=client.metadata))
    job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
    client.members(job.segment_id)  # StreamSegment, after the job ended
    client.get_segment(job.segment_id, page_size=2)
    client.get_taxonomy()
    with pytest.raises(grpc.RpcError):
        client.get_segment("0" * 32)  # NOT_FOUND
    return accounts.ByteSize(), sum(b.ByteSize() for b in batches)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    service = start_server(tmp_path / "data", metrics_port=0)
    yield service
    service.stop(0)


def test_calls_are_counted_by_method_and_code_with_latencies(service: Service) -> None:
    target = f"127.0.0.1:{service.port}"
    with connect(target, "acme") as acme:
        use(acme)
    with FinsegClient(target, None) as anonymous, pytest.raises(grpc.RpcError):
        anonymous.delete_user(USERS[0])  # refused by auth: UNAUTHENTICATED
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError):
        channel.unary_unary("/finseg.v1.Nothing/Here")(b"", timeout=5)
    samples = scrape(service)

    assert call(samples, "SegmentService/GetSegment", "OK") == 1
    assert call(samples, "SegmentService/GetSegment", "NOT_FOUND") == 1
    assert call(samples, "SegmentService/GetSegment") == 2  # the histogram's count
    assert call(samples, "SegmentService/CreateSegment", "OK") == 1
    assert call(samples, "SegmentService/StreamSegment", "OK", "server_stream") == 1
    assert call(samples, "IngestionService/AppendTransactions", "OK", "bidi_stream") == 1
    assert call(samples, "IngestionService/UpsertAccounts", "OK") == 1
    assert call(samples, "TaxonomyService/GetTaxonomy", "OK") == 1
    assert call(samples, "IngestionService/DeleteUser", "UNAUTHENTICATED") == 1
    assert value(samples, "grpc_server_handled_total", grpc_service="unknown",
                 grpc_method="unknown", grpc_type="unknown", grpc_code="UNIMPLEMENTED") == 1
    # A GetSegment page is answered within a second, so it is in that bucket.
    get = {"grpc_service": "finseg.v1.SegmentService", "grpc_method": "GetSegment",
           "grpc_type": "unary"}
    assert value(samples, "grpc_server_handling_seconds_bucket", **get, le="1.0") == 2
    assert 0 < value(samples, "grpc_server_handling_seconds_sum", **get) < 2


def test_jobs_ingestion_store_and_process_are_measured(service: Service) -> None:
    with connect(f"127.0.0.1:{service.port}", "acme") as acme:
        account_bytes, transaction_bytes = use(acme)
    samples = scrape(service)

    job = {"type": "HIGH_BALANCE", "state": "SUCCEEDED"}
    assert value(samples, "finseg_job_duration_seconds_count", **job) == 1
    assert value(samples, "finseg_job_duration_seconds_sum", **job) > 0
    assert value(samples, "finseg_job_queue_seconds_count", type="HIGH_BALANCE") == 1
    for type_name in ("HIGH_BALANCE", "LOW_BALANCE", "INCOME_SPENDING_SUMMARY",
                      "FINANCIAL_BREAKDOWN", "INSURANCE_SPENDING", "RFM"):
        assert value(samples, "finseg_jobs_queued", type=type_name) == 0
        assert value(samples, "finseg_jobs_running", type=type_name) == 0

    rows = "finseg_ingest_rows_total"
    assert value(samples, rows, kind="accounts", outcome="upserted") == 4
    assert value(samples, rows, kind="transactions", outcome="appended") == 15
    assert value(samples, rows, kind="transactions", outcome="duplicate") == 5
    assert value(samples, "finseg_ingest_bytes_total", kind="accounts") == account_bytes
    assert value(samples, "finseg_ingest_bytes_total", kind="transactions") == \
        transaction_bytes

    assert value(samples, "finseg_store_map_size_bytes") == 1 << 30
    used = value(samples, "finseg_store_used_bytes")
    assert 0 < used <= value(samples, "finseg_store_file_bytes")
    assert value(samples, "finseg_store_map_used_ratio") == used / (1 << 30)
    assert value(samples, "finseg_store_db_entries", db="account_ids") == 4
    assert value(samples, "finseg_store_db_entries", db="jobs") == 1
    assert value(samples, "finseg_store_db_bytes", db="txlog") > 0

    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_cpu_seconds_total") > 0
    assert value(samples, "process_open_fds") > 0

    labels = {label for _name, pairs in samples for label in pairs}
    assert not any(name == "tenant" for name, _ in labels)
    assert not any(v == "acme" or "c0ffee" in v or "beef" in v for _, v in labels)


def test_tenant_labels_only_when_asked_and_each_service_counts_its_own(
        tmp_path: Path, service: Service) -> None:
    labelled = start_server(tmp_path / "labelled", metrics_port=0, metrics_tenant_labels=True)
    try:
        with connect(f"127.0.0.1:{labelled.port}", "acme") as acme:
            use(acme)
        samples = scrape(labelled)
        assert value(samples, "finseg_ingest_rows_total", tenant="acme", kind="accounts",
                     outcome="upserted") == 4
        # Calls are never per tenant: a label per tenant and method is too many series.
        assert not any(name.startswith("grpc_") and ("tenant", "acme") in pairs
                       for name, pairs in samples)
        # The other service, in the same process, saw none of these calls.
        other = scrape(service)
        assert not any(name.startswith(("grpc_server_handled", "finseg_ingest"))
                       for name, _ in other)
    finally:
        labelled.stop(0)
