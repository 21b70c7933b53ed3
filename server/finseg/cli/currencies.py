"""Writes the client's table of currencies from the service's.

The client distribution carries no iso4217 dependency: it gets the codes
the service accepts, with their minor-unit digits, as a generated module
(client/finseg/client/currencies.py). `python -m finseg.cli.currencies`
rewrites it; tests/client/test_currencies.py fails when it is stale.
"""

from __future__ import annotations

from pathlib import Path

from finseg.server.domain.model import CURRENCY_EXPONENTS

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "client" / "finseg" / "client" / "currencies.py"


def source() -> str:
    rows = "".join(f'    "{code}": {CURRENCY_EXPONENTS[code]},\n'
                   for code in sorted(CURRENCY_EXPONENTS))
    return ('"""ISO 4217 codes finseg accepts -> digits of their minor unit (EUR 2, JPY 0).\n\n'
            "Generated from the service's table by `python -m finseg.cli.currencies`;\n"
            'do not edit.\n"""\n\n'
            f"EXPONENTS: dict[str, int] = {{\n{rows}}}\n")


if __name__ == "__main__":
    TABLE.write_text(source())
