"""The audit log and usage metering (issue 5, SPEC §7) against real servers:
what is recorded, who can read it, that it survives restarts, and that the
Prometheus counters say what GetUsage says."""

from __future__ import annotations

import datetime as dt
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from conftest import connect, start_server, token_for
from prometheus_client.parser import text_string_to_metric_families

from finseg.client.api import FinsegClient, high_balance, low_balance
from finseg.server.app import Service
from finseg.v1 import audit_pb2, taxonomy_pb2

AS_OF = dt.date(2026, 3, 1)


def bank(client: FinsegClient) -> None:
    client.upsert_accounts([{"account_id": f"a{i}", "user_id": f"u{i}", "type": "CHECKING",
                             "currency": "EUR", "balance": 1000 * i,
                             "balance_date": "2026-02-28"} for i in range(4)])
    list(client.append_transactions([
        [{"transaction_id": f"t{b}-{i}", "account_id": f"a{i % 4}",
          "booking_date": f"2026-01-{1 + i:02d}", "amount": -100 * i} for i in range(10)]
        for b in range(2)]))


def test_every_change_and_refusal_is_recorded(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data")
    target = f"127.0.0.1:{service.port}"
    try:
        with connect(target, "acme") as acme:
            bank(acme)
            job = acme.create_segment(high_balance("EUR", 0, as_of=AS_OF))
            acme.members(job.segment_id)
            with pytest.raises(grpc.RpcError):
                acme.cancel_segment(job.segment_id)  # finished: FAILED_PRECONDITION
            acme.delete_segment(job.segment_id)
            acme.replace_taxonomy(None)
            middle = dt.datetime.now(dt.UTC)
            time.sleep(0.01)
            acme.delete_user("u1")
        with FinsegClient(target, token_for("acme", ["segments:read"])) as reader:
            with pytest.raises(grpc.RpcError):
                reader.delete_user("u2")  # no data:delete
            with pytest.raises(grpc.RpcError) as refused:
                list(reader.audit_events())
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with FinsegClient(target, "not-a-token") as anonymous, pytest.raises(grpc.RpcError):
            anonymous.delete_user("u3")

        with connect(target, "acme") as auditor:
            events = list(auditor.audit_events())
            later = list(auditor.audit_events(since=middle))
        actions = [(e.action.rsplit("/", 1)[1], e.outcome) for e in events]
        assert actions == [
            ("UpsertAccounts", "OK"), ("AppendTransactions", "OK"), ("CreateSegment", "OK"),
            ("CancelSegment", "FAILED_PRECONDITION"), ("DeleteSegment", "OK"),
            ("ReplaceTaxonomy", "OK"), ("DeleteUser", "OK"),
            ("DeleteUser", "PERMISSION_DENIED"),
            ("ListAuditEvents", "PERMISSION_DENIED")]
        assert {e.subject for e in events} == {"developer"} and \
            {e.tenant for e in events} == {"acme"}
        by_action = {e.action.rsplit("/", 1)[1]: e for e in reversed(events)}  # the first
        assert by_action["UpsertAccounts"].target == "accounts=4"
        assert by_action["AppendTransactions"].target == "batches=2 appended=20 duplicates=0"
        assert by_action["CreateSegment"].target == f"segment {job.segment_id} high_balance"
        assert "data:delete" in events[-2].detail
        # The erased user is named by a digest only, never in clear.
        assert by_action["DeleteUser"].target.startswith("user sha256:")
        assert all("u1" not in e.target and "u1" not in e.detail for e in events)
        assert [e.action for e in later] == [e.action for e in events[6:]]
        times = [e.time.ToNanoseconds() for e in events]
        assert times == sorted(times)
        # The refusal without a token has no tenant: no tenant reads it.
        with connect(target, "other") as other:
            assert list(other.audit_events()) == []
    finally:
        service.stop(0)


def test_the_log_pages_and_survives_a_restart(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data")
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            for i in range(7):
                client.upsert_accounts([{"account_id": f"a{i}", "user_id": "u", "type":
                                         "CHECKING", "currency": "EUR", "balance": i,
                                         "balance_date": "2026-02-28"}])
    finally:
        service.stop(0)
    service = start_server(tmp_path / "data")
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            pages, token = [], ""
            while True:
                response = client.audit.ListAuditEvents(
                    audit_pb2.ListAuditEventsRequest(page_size=3, page_token=token),
                    metadata=client.metadata, timeout=10)
                pages.append(len(response.events))
                token = response.next_page_token
                if not token:
                    break
            assert pages == [3, 3, 1]
            assert len(list(client.audit_events())) == 7
    finally:
        service.stop(0)


def test_usage_counts_jobs_rows_and_results_and_metrics_agree(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", metrics_port=0)
    target = f"127.0.0.1:{service.port}"
    try:
        with connect(target, "acme") as acme, connect(target, "beta") as beta:
            bank(acme)
            bank(beta)
            high = [acme.create_segment(high_balance("EUR", 0, as_of=AS_OF)) for _ in range(3)]
            members = sum(len(acme.members(job.segment_id)) for job in high)
            page = acme.get_segment(high[0].segment_id, page_size=1)
            low = acme.create_segment(low_balance("EUR", 10**9, 1, as_of=AS_OF))
            acme.members(low.segment_id)
            beta.members(beta.create_segment(high_balance("EUR", 0, as_of=AS_OF)).segment_id)
            usage = acme.usage_by_type()
        assert members == 9 and len(page.page.high_balance.members) == 1
        assert (usage["HIGH_BALANCE"].jobs_created, usage["HIGH_BALANCE"].rows_scanned,
                usage["HIGH_BALANCE"].result_rows_returned) == (3, 3 * 20, 9 + 1)
        assert (usage["LOW_BALANCE"].jobs_created, usage["LOW_BALANCE"].rows_scanned) == (1, 20)
        assert usage["FINANCIAL_BREAKDOWN"].jobs_created == 0  # every type is listed
        with FinsegClient(target, token_for("acme", ["segments:read"])) as reader, \
                pytest.raises(grpc.RpcError) as refused:
            reader.usage_by_type()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

        text = scrape(service)
        # No tenant's name is shown unless asked for: counters are summed.
        assert "acme" not in text and "beta" not in text
        samples = counters(text, "type")
        assert samples[("finseg_jobs_created_total", "HIGH_BALANCE")] == 3 + 1
        assert samples[("finseg_rows_scanned_total", "HIGH_BALANCE")] == 60 + 20
        assert samples[("finseg_result_rows_returned_total", "HIGH_BALANCE")] == 10 + 3
    finally:
        service.stop(0)
    # Counted rows are written at stop: the totals survive a restart.
    service = start_server(tmp_path / "data")
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as acme:
            after = acme.usage_by_type()["HIGH_BALANCE"]
        assert (after.jobs_created, after.result_rows_returned) == (3, 10)
    finally:
        service.stop(0)


def scrape(service: Service) -> str:
    port = service.metrics.server_port
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()


def counters(text: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The counters that have all of `labels` (the usage counters among the
    service's others)."""
    return {(s.name, *(s.labels[label] for label in labels)): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.endswith("_total") and all(label in s.labels for label in labels)}


def test_metrics_name_tenants_only_when_configured(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", metrics_port=0, metrics_tenant_labels=True)
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as acme:
            bank(acme)
            acme.members(acme.create_segment(high_balance("EUR", 0, as_of=AS_OF)).segment_id)
        samples = counters(scrape(service), "tenant", "type")
        assert samples[("finseg_jobs_created_total", "acme", "HIGH_BALANCE")] == 1
        assert samples[("finseg_rows_scanned_total", "acme", "HIGH_BALANCE")] == 20
    finally:
        service.stop(0)


def test_taxonomy_replacement_is_audited_with_its_size(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data")
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            client.replace_taxonomy(taxonomy_pb2.LabelTaxonomy(groups=["A", "A.B"]))
            (event,) = client.audit_events()
        assert (event.action, event.target, event.outcome) == (
            "finseg.v1.TaxonomyService/ReplaceTaxonomy", "groups=2", "OK")
    finally:
        service.stop(0)
