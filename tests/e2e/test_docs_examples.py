"""Every example of docs/segment-types.md runs as written: its example bank
is loaded with `finseg load`, each request is sent with the real grpcurl,
and the members grpcurl prints are the result the page shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import token_for
from test_grpcurl import grpcurl

from finseg.server.app import Service

DOC = Path(__file__).resolve().parents[2] / "docs" / "segment-types.md"
BLOCK = re.compile(r"<!-- (example|request|result): (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
TENANT = "docs"


def blocks() -> dict[tuple[str, str], str]:
    return {(kind, name): text for kind, name, text in BLOCK.findall(DOC.read_text())}


TYPES = sorted(name for kind, name in blocks() if kind == "request")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, module_server: Service) -> str:
    folder = tmp_path_factory.mktemp("example")
    found = blocks()
    for name in ("accounts.csv", "transactions.csv"):
        (folder / name).write_text(found[("example", name)])
    target = f"127.0.0.1:{module_server.port}"
    out = subprocess.run(
        [sys.executable, "-m", "finseg.cli.main", "load", "--target", target, "--token",
         token_for(TENANT), "--quiet", "--accounts", str(folder / "accounts.csv"),
         "--transactions", str(folder / "transactions.csv")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return target


def members(stream: str) -> list[dict]:
    """The members of every page StreamSegment printed, in order."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(stream.rstrip()):
        page, at = decoder.raw_decode(stream, at)
        at += len(stream[at:]) - len(stream[at:].lstrip())
        (rows,) = page["page"].values() if "page" in page else ({"members": []},)
        out += rows.get("members", [])
    return out


def test_the_page_has_an_example_of_every_type() -> None:
    assert TYPES == ["financial_breakdown", "high_balance", "income_spending_summary",
                     "insurance_spending", "low_balance", "rfm"]
    assert all(("result", name) in blocks() for name in TYPES)


@pytest.mark.parametrize("name", TYPES)
def test_each_example_gives_the_result_shown(loaded: str, name: str) -> None:
    found = blocks()
    created = grpcurl(loaded, "finseg.v1.SegmentService/CreateSegment",
                      data=found[("request", name)], tenant=TENANT)
    assert created.returncode == 0, created.stderr
    segment_id = json.loads(created.stdout)["segment"]["segment_id"]
    streamed = grpcurl(loaded, "finseg.v1.SegmentService/StreamSegment",
                       data=json.dumps({"segment_id": segment_id}), tenant=TENANT)
    assert streamed.returncode == 0, streamed.stderr
    assert members(streamed.stdout) == json.loads(found[("result", name)])
