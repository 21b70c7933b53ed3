"""The long crash test (issue 4): `python -m bench.crash [--rounds 20]`.

Each round starts `finseg serve` as a separate process on a fresh store,
streams 300 batches of 100 transactions, SIGKILLs the server a random
moment after a random acknowledgement, restarts it, resends everything and
checks every acknowledged batch is stored exactly once (the resend finds
it all duplicate, and the per-user totals equal the test's ledger). Every
other round also has a live segment and a watcher: its events after the
restart must be exactly those of the committed batches (no gap, what the
watcher saw is their prefix, replaying them gives a batch job's members).
The short version of the same rounds runs in CI (tests/e2e/test_crash.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # its conftest
from test_crash import batches, crash_round, live_crash_round, setup_accounts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    all_batches = batches(300, 100)
    acked_total = bad_total = 0
    for n in range(args.rounds):
        kill_at, delay = rng.randrange(1, 250), rng.random() * 0.05
        with tempfile.TemporaryDirectory() as tmp:
            if n % 2:
                acked, problems = live_crash_round(Path(tmp) / "data", all_batches, kill_at,
                                                   delay)
                bad = len(problems)
            else:
                setup_accounts(Path(tmp) / "data")
                acked, bad = crash_round(Path(tmp) / "data", all_batches, kill_at, delay)
                problems = [f"{bad} lost or duplicated"] if bad else []
        acked_total += acked
        bad_total += bad
        print(f"round {n + 1}/{args.rounds}{' (live)' if n % 2 else ''}: {acked} batches "
              f"acknowledged before SIGKILL; {'; '.join(problems) or 'nothing wrong'}",
              flush=True)
    print(f"{args.rounds} rounds, {acked_total} acknowledged batches, {bad_total} problems")
    sys.exit(1 if bad_total else 0)


if __name__ == "__main__":
    main()
