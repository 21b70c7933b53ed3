"""`finseg backup` beside a running `finseg serve` process: the copy is
consistent and a service started on it serves the same data."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import connect, start_server
from process import ServerProcess, backup
from test_crash import EVERYTHING, batches, ledger, setup_accounts

from finseg.client.api import FinsegClient


def members(client: FinsegClient) -> list:
    return client.members(client.create_segment(EVERYTHING).segment_id)


def test_backup_while_ingesting_then_serve_the_copy(tmp_path: Path) -> None:
    data_dir, copy = tmp_path / "data", tmp_path / "copy"
    setup_accounts(data_dir)
    server = ServerProcess(data_dir)
    first, more = batches(20, 200), batches(40, 200)[20:]
    try:
        with connect(server.target, "bank", timeout=None) as client:
            list(client.append_transactions(first))
            before = members(client)
            # More batches stream in while the copy is taken.
            sender = threading.Thread(target=lambda: list(client.append_transactions(more)))
            sender.start()
            out = backup(data_dir, copy)
            sender.join()
            assert out.returncode == 0, out.stderr
            assert "backed up" in out.stderr
    finally:
        server.stop()
    restored = start_server(copy)
    try:
        with connect(f"127.0.0.1:{restored.port}", "bank") as client:
            got = {m.user_id: (m.currencies[0].incoming_count + m.currencies[0].outgoing_count,
                               m.currencies[0].incoming_sum + m.currencies[0].outgoing_sum)
                   for m in members(client)}
    finally:
        restored.stop(0)
    # Consistent: the copy holds the first batches and a whole prefix of the
    # others, never part of a batch.
    assert [m.user_id for m in before] == sorted(got)
    prefixes = [ledger(first + more[:k]) for k in range(len(more) + 1)]
    assert got in prefixes


def test_backup_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    start_server(tmp_path / "data").stop(0)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "keep.txt").write_text("mine")
    out = backup(tmp_path / "data", tmp_path / "copy")
    assert out.returncode == 1 and "is not empty" in out.stderr
    assert [p.name for p in (tmp_path / "copy").iterdir()] == ["keep.txt"]
