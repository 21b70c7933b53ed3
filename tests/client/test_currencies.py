"""The client's currency table is the service's: a code the client accepts
is one the service accepts, with the same minor-unit digits."""

from __future__ import annotations

from finseg.cli import currencies


def test_the_client_table_is_generated_from_the_service_table() -> None:
    assert currencies.TABLE.read_text() == currencies.source(), \
        "stale client/finseg/client/currencies.py: run python -m finseg.cli.currencies"
