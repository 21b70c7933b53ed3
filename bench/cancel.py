"""How fast a running job stops (issue 4): `python -m bench.cancel`.

On the store `make bench` loaded (bench/.cache/data, 50,000,000
transactions), starts `finseg serve`, and five times creates a
FINANCIAL_BREAKDOWN job (5 groups, N = 12; about 1.4 s of compute), waits
until it is RUNNING and a little more (0.2 to 0.6 s), calls CancelSegment
and measures until it returns the job CANCELLED.
"""

from __future__ import annotations

import statistics
import sys
import time

from finseg.client import api
from finseg.v1 import segments_pb2

from .run import AS_OF, CACHE, TENANT, Server, token

SPEC = api.financial_breakdown(["INCOME", "RENTANDLIVING", "INSURANCE", "GROCERIES", "SHOPPING"],
                               12, as_of=AS_OF)


def main() -> None:
    if not (CACHE / "data").exists():
        sys.exit("run `make bench` first: it loads the store this measures on")
    server = Server(CACHE / "data")
    server.wait_ready()
    times = []
    try:
        with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
            for delay in (0.2, 0.3, 0.4, 0.5, 0.6):
                job = client.create_segment(SPEC)
                while client.get_segment(job.segment_id).segment.state != \
                        segments_pb2.JOB_STATE_RUNNING:
                    time.sleep(0.01)
                time.sleep(delay)
                started = time.perf_counter()
                state = client.cancel_segment(job.segment_id).state
                times.append(time.perf_counter() - started)
                print(f"cancelled {delay:.1f} s into the job: "
                      f"{segments_pb2.JobState.Name(state)} after {1000 * times[-1]:.0f} ms")
    finally:
        server.stop()
    print(f"CancelSegment until CANCELLED: median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms (target < 1 s)")


if __name__ == "__main__":
    main()
