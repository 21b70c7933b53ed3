"""Tracebacks in the service log keep their frames but not the messages that
may quote a request (issue 13, point 8); system errors keep theirs."""

from __future__ import annotations

import json
import logging

import lmdb

from finseg.server.logs import JsonFormatter, TextFormatter

#: Values a request sent; the traceback's source lines name only these constants.
USER, ACCOUNT, AMOUNT = "user-5f2e-secret", "acct-77c1", 1234567


def failing_lookup(ids: dict[str, int], wanted: str) -> int:
    return ids[wanted]


def record_of(exc: BaseException) -> logging.LogRecord:
    return logging.LogRecord("finseg", logging.ERROR, __file__, 1, "unexpected error in %s",
                             ("GetSegment",), (type(exc), exc, exc.__traceback__))


def raised(outer: BaseException) -> BaseException:
    """`outer`, raised from a KeyError of a lookup."""
    try:
        try:
            failing_lookup({}, USER)
        except KeyError as first:
            raise outer from first
    except BaseException as exc:  # noqa: BLE001 - the test wants it
        return exc
    raise AssertionError


def test_a_traceback_keeps_its_frames_without_the_messages() -> None:
    exc = raised(ValueError(f"amount {AMOUNT} of account {ACCOUNT} is out of range"))
    for formatter in (TextFormatter(), JsonFormatter()):
        text = formatter.format(record_of(exc))
        assert USER not in text and str(AMOUNT) not in text and ACCOUNT not in text
        assert "failing_lookup" in text and "KeyError" in text and "ValueError" in text
        assert "unexpected error in GetSegment" in text
    entry = json.loads(JsonFormatter().format(record_of(exc)))
    assert entry["level"] == "ERROR" and "failing_lookup" in entry["traceback"]


def test_system_errors_keep_their_message() -> None:
    text = TextFormatter().format(record_of(raised(lmdb.MapFullError("mdb_put: MDB_MAP_FULL"))))
    assert "MDB_MAP_FULL" in text
    text = TextFormatter().format(record_of(raised(OSError(28, "No space left on device"))))
    assert "No space left on device" in text
