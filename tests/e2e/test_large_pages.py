"""The largest page a request may ask for stays within the 4 MiB that gRPC
clients receive by default: 10,000 FINANCIAL_BREAKDOWN members of 20 groups
over 12 months, read by the Node.js client (grpc-js defaults) and by the
Python client on a channel without options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from conftest import start_server, token_for
from node import run_segments

from finseg.client.api import FinsegClient, financial_breakdown
from finseg.server.transport import wire

USERS, MONTHS, AS_OF = 10_000, 12, dt.date(2026, 3, 10)
GROUPS = ["INCOME.SALARY", "INCOME.PENSION", "INCOME.BENEFITS", "INCOME.CAPITALINCOME",
          "INCOME.OTHER", "RENTANDLIVING.RENT", "RENTANDLIVING.UTILITIES",
          "RENTANDLIVING.ENERGY", "RENTANDLIVING.TELECOM", "INSURANCE.HEALTH",
          "INSURANCE.CAR", "INVESTMENTS", "SAVINGS", "GROCERIES", "SHOPPING", "LEISURE",
          "TRAVEL", "TRANSPORT", "CASH", "TAX"]
USER_IDS = [f"user-{i:05}" for i in range(USERS)]
LIMIT = 4 << 20  # gRPC's default receive limit


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server with one finished segment of 10,000 members, each with 20
    groups: (target, segment id)."""
    service = start_server(tmp_path_factory.mktemp("big") / "data")
    target = f"127.0.0.1:{service.port}"
    rng = np.random.default_rng(13)
    n = USERS * len(GROUPS)
    days = rng.integers(0, 365, n)
    start = dt.date(2025, 3, 1)
    with FinsegClient(target, token_for("big")) as client:
        client.upsert_accounts(pa.table({
            "account_id": USER_IDS, "user_id": USER_IDS, "type": ["CHECKING"] * USERS,
            "currency": ["EUR"] * USERS, "balance": [0] * USERS,
            "balance_date": [AS_OF] * USERS}))
        list(client.append_transactions([pa.table({
            "transaction_id": [f"t{k}" for k in range(n)],
            "account_id": np.repeat(USER_IDS, len(GROUPS)),
            "booking_date": [start + dt.timedelta(days=int(d)) for d in days],
            "amount": rng.integers(-500_000, 500_000, n),
            "label": GROUPS * USERS})]))
        job = client.create_segment(financial_breakdown(GROUPS, MONTHS, as_of=AS_OF))
        assert client.wait(job.segment_id).total_elements == USERS
    yield target, job.segment_id
    service.stop(0)


def test_python_reads_the_largest_pages_with_default_limits(big: tuple[str, str]) -> None:
    target, segment_id = big
    with FinsegClient(target, token_for("big"), options=()) as client:  # 4 MiB receive
        pages = list(client.pages(segment_id, page_size=10_000))
        streamed = list(client.stream_segment(segment_id, page_size=10_000))
    sizes = [p.ByteSize() for p in pages]
    assert len(pages) > 1 and max(sizes) < LIMIT
    assert sum(sizes) > LIMIT  # one page of 10,000 would not have fitted
    assert min(sizes[:-1]) > wire.PAGE_BYTES - (16 << 10)  # each as full as fits
    users = [m.user_id for p in pages for m in p.page.financial_breakdown.members]
    assert users == USER_IDS
    assert all(len(m.groups) == len(GROUPS) and len(m.groups[0].monthly_sums) == MONTHS
               for p in pages[:1] for m in p.page.financial_breakdown.members)
    # The stream cuts its pages where GetSegment does.
    assert [len(s.page.financial_breakdown.members) for s in streamed] == \
        [len(p.page.financial_breakdown.members) for p in pages]
    assert [s.page_index for s in streamed] == list(range(len(pages)))


def test_node_reads_the_largest_pages_with_grpc_js_defaults(big: tuple[str, str]) -> None:
    target, _ = big
    spec = {"as_of": AS_OF.isoformat(),
            "financial_breakdown": {"label_groups": GROUPS, "months": MONTHS}}
    seen = run_segments(target, "big", spec, page_size=10_000)
    assert seen["state"] == "JOB_STATE_SUCCEEDED"
    assert seen["get"]["users"] == USER_IDS
    assert seen["stream"]["users"] == USER_IDS
    assert len(seen["get"]["page_sizes"]) > 1
    assert seen["stream"]["page_sizes"] == seen["get"]["page_sizes"]
