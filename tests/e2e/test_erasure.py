"""DeleteUser (SPEC §2) leaves nothing of the user anywhere: every stored
byte of the store is read afterwards, and every segment type's stored
results are scrubbed."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from finseg.client import api
from finseg.client.api import FinsegClient
from finseg.server.storage.env import DB

AS_OF = dt.date(2026, 4, 1)
SPECS = [api.high_balance("EUR", -10**9, as_of=AS_OF),
         api.low_balance("EUR", 10**9, 2, as_of=AS_OF),
         api.income_spending_summary(dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
         api.financial_breakdown(["INSURANCE", "GROCERIES"], 3, as_of=AS_OF),
         api.insurance_spending(3, as_of=AS_OF),
         api.rule("spend(days=365) > 0 AND balance() > 0", as_of=AS_OF),
         api.rfm(365, as_of=AS_OF)]
#: Text only the erased user's data holds.
THEIRS = [b"erika-user", b"erika-acct", b"erika-tx", b"Erika Private Payee",
          b"Erika secret purpose", b"DE02120300000000202051"]


def load(client: FinsegClient) -> None:
    client.upsert_accounts([
        {"account_id": "erika-acct-1", "user_id": "erika-user", "type": "CHECKING",
         "currency": "EUR", "balance": 100, "balance_date": "2026-03-31"},
        {"account_id": "max-acct", "user_id": "max-user", "type": "CHECKING",
         "currency": "EUR", "balance": 100, "balance_date": "2026-03-31"}])
    rows = []
    for k, (account, name, purpose, iban) in enumerate([
            ("erika-acct-1", "Erika Private Payee", "Erika secret purpose",
             "DE02120300000000202051"),
            ("erika-acct-1", "HUK-COBURG", "Beitrag", ""),
            ("max-acct", "HUK-COBURG", "Beitrag", ""),
            ("max-acct", "REWE", "Einkauf", "")]):
        for month in (1, 2, 3):
            rows.append({"transaction_id": f"{'erika-tx' if 'erika' in account else 'max-tx'}"
                                           f"-{k}-{month}",
                         "account_id": account, "booking_date": f"2026-0{month}-15",
                         "amount": -1000 - k, "label": "INSURANCE.CAR" if k < 3 else "GROCERIES",
                         "counterparty_name": name, "purpose": purpose,
                         "counterparty_iban": iban})
    # As a bulk client sends them: dictionary-encoded text in one Arrow batch.
    table = pa.Table.from_pylist(rows)
    for name in ("counterparty_name", "purpose", "label"):
        table = table.set_column(table.schema.get_field_index(name), name,
                                 table.column(name).dictionary_encode())
    list(client.append_transactions([table]))


def every_stored_byte(server) -> bytes:
    with server.store.env.read() as txn:
        return b"".join(bytes(k) + bytes(v) for db in DB
                        for k, v in txn.cursor(db=server.store.env.db(db)))


def test_an_erased_user_leaves_no_byte_behind(client: FinsegClient, server) -> None:
    load(client)
    jobs = [client.create_segment(spec) for spec in SPECS]
    for job in jobs:
        assert "erika-user" in [m.user_id for m in client.members(job.segment_id)]
    stored = every_stored_byte(server)
    assert all(text in stored for text in THEIRS)  # the scan sees what is there

    client.delete_user("erika-user")
    for job in jobs:
        assert [m.user_id for m in client.members(job.segment_id)] == ["max-user"]
    server.store.compact("acme")
    stored = every_stored_byte(server)
    for text in THEIRS:
        assert text not in stored, text
    assert b"max-user" in stored and b"HUK-COBURG" in stored  # others' data stays
